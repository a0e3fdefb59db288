"""Where photo files live. Local disk by default; an object store can implement the same
three methods and be chosen in `get_storage`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

from flask import current_app


class Storage(Protocol):
    def put(self, path: str, data: bytes) -> None: ...
    def get(self, path: str) -> bytes | None: ...
    def delete(self, path: str) -> None: ...


class LocalStorage:
    """Files under a root folder, written atomically (temp file + rename)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _resolve(self, path: str) -> Path:
        full = (self.root / path).resolve()
        if self.root.resolve() not in full.parents:
            raise ValueError("path escapes the storage root")
        return full

    def put(self, path: str, data: bytes) -> None:
        full = self._resolve(path)
        full.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=full.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, full)

    def get(self, path: str) -> bytes | None:
        try:
            return self._resolve(path).read_bytes()
        except (FileNotFoundError, ValueError):
            return None

    def delete(self, path: str) -> None:
        self._resolve(path).unlink(missing_ok=True)


def get_storage() -> Storage:
    """The storage configured for this app."""
    return LocalStorage(current_app.config["MEDIA_ROOT"])
