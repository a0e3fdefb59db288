"""Where photo files live. Local disk by default; an object store can implement the same
three methods and be chosen in `get_storage`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

from flask import current_app


class Storage(Protocol):
    """Where photo renditions are kept, addressed by relative paths."""

    def put(self, path: str, data: bytes) -> None: ...
    def get(self, path: str) -> bytes | None: ...
    def delete(self, path: str) -> None: ...


class LocalStorage:
    """Files under a root folder, written atomically (temp file + rename)."""

    def __init__(self, root: str | os.PathLike):
        """Store files under `root`."""
        self.root = Path(root)

    def _resolve(self, path: str) -> Path:
        """The absolute file for `path`; ValueError if it would leave the root."""
        full = (self.root / path).resolve()
        if self.root.resolve() not in full.parents:
            raise ValueError("path escapes the storage root")
        return full

    def put(self, path: str, data: bytes) -> None:
        """Write `data` at `path`, replacing any file there in one step."""
        full = self._resolve(path)
        full.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=full.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, full)
        except BaseException:  # a full disk or an interrupt must not leave a partial file behind
            os.unlink(tmp)
            raise

    def get(self, path: str) -> bytes | None:
        """The bytes at `path`, or None when there is no such file (or it is outside the root)."""
        try:
            return self._resolve(path).read_bytes()
        except (FileNotFoundError, ValueError):
            return None

    def delete(self, path: str) -> None:
        """Remove the file at `path` if it exists."""
        self._resolve(path).unlink(missing_ok=True)


def get_storage() -> Storage:
    """The storage configured for this app: local disk (default) or S3 (MEDIA_BACKEND=s3)."""
    config = current_app.config
    if config.get("MEDIA_BACKEND") == "s3":
        storage = current_app.extensions.get("media_s3")
        if storage is None:  # one client per app: boto3 clients are thread-safe
            from farmstore.media.s3 import S3Storage

            storage = current_app.extensions["media_s3"] = S3Storage(
                bucket=config["S3_BUCKET"], endpoint_url=config["S3_ENDPOINT_URL"],
                access_key_id=config["S3_ACCESS_KEY_ID"], secret_access_key=config["S3_SECRET_ACCESS_KEY"],
                region=config["S3_REGION"], prefix=config["S3_PREFIX"],
            )  # fmt: skip
        return storage
    return LocalStorage(config["MEDIA_ROOT"])
