"""Photos in an S3-compatible object store (AWS S3, MinIO, Ceph, NCloud ...), chosen with
MEDIA_BACKEND=s3. boto3 is imported only here. Objects are written with their content type and a
year-long immutable Cache-Control (keys are random: a rendition never changes)."""

from __future__ import annotations

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

CACHE_CONTROL = "public, max-age=31536000, immutable"


class S3Storage:
    """Renditions as objects under `prefix` in one bucket; same three methods as LocalStorage."""

    def __init__(self, *, bucket: str, endpoint_url=None, access_key_id=None, secret_access_key=None,
                 region=None, prefix: str = "") -> None:  # fmt: skip
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            region_name=region or None,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=20),
        )

    def _key(self, path: str) -> str:
        if path.startswith("/") or ".." in path.split("/"):
            raise ValueError("path escapes the storage root")
        return self.prefix + path

    def put(self, path: str, data: bytes) -> None:
        """Write the object in one request (S3 never shows a partial object)."""
        self.client.put_object(
            Bucket=self.bucket, Key=self._key(path), Body=data, ContentType="image/jpeg", CacheControl=CACHE_CONTROL
        )

    def get(self, path: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(path))["Body"].read()
        except ValueError:
            return None
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    def delete(self, path: str) -> None:
        """Remove the object; a missing key is fine."""
        self.client.delete_object(Bucket=self.bucket, Key=self._key(path))

    def url(self, path: str, *, expires: int = 3600) -> str:
        """A presigned GET URL for the object (for a CDN or a download link)."""
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(path)}, ExpiresIn=expires
        )
