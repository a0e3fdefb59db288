"""MEDIA_BACKEND=s3: photos go to an S3-compatible bucket through the storage interface, served
by /media/... with the same caching; tested against moto's S3 server on loopback."""

from __future__ import annotations

import boto3
import pytest
from moto.server import ThreadedMotoServer

from farmstore.extensions import db
from farmstore.media.s3 import CACHE_CONTROL
from farmstore.media.services import delete_photo_files, save_photo
from farmstore.media.storage import get_storage
from tests.conftest import free_port
from tests.factories import image_bytes

BUCKET = "farmstore-photos"


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(app, s3_endpoint):
    app.config.update(
        MEDIA_BACKEND="s3", S3_BUCKET=BUCKET, S3_ENDPOINT_URL=s3_endpoint, S3_ACCESS_KEY_ID="test",
        S3_SECRET_ACCESS_KEY="test", S3_REGION="us-east-1", S3_PREFIX="photos",
    )  # fmt: skip
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_an_uploaded_photo_is_stored_in_the_bucket_with_cache_headers_and_served(app, s3, client, tmp_path):
    with app.app_context():
        photo = save_photo(image_bytes("JPEG", (1200, 900)))
        db.session.commit()
        path = photo.path("medium")

    head = s3.head_object(Bucket=BUCKET, Key=f"photos/{path}")
    assert head["ContentType"] == "image/jpeg"
    assert head["CacheControl"] == CACHE_CONTROL
    assert not (tmp_path / "media").exists()  # nothing on the local disk

    response = client.get(f"/media/{path}")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.data == s3.get_object(Bucket=BUCKET, Key=f"photos/{path}")["Body"].read()
    assert "immutable" in response.headers["Cache-Control"]


def test_a_missing_key_is_a_404_and_none(app, s3, client):
    with app.app_context():
        assert get_storage().get("ab/abcdef/medium.jpg") is None
        assert get_storage().get("../etc/passwd") is None
    assert client.get("/media/ab/abcdef/medium.jpg").status_code == 404


def test_deleting_a_photo_removes_its_objects(app, s3):
    with app.app_context():
        photo = save_photo(image_bytes("JPEG", (600, 400)))
        db.session.commit()
        assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] > 0
        delete_photo_files([photo])
        get_storage().delete("ab/none/thumb.jpg")  # a missing key is fine
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_a_presigned_url_serves_the_object(app, s3):
    import urllib.request

    with app.app_context():
        storage = get_storage()
        storage.put("ab/abc/thumb.jpg", b"jpeg bytes")
        url = storage.url("ab/abc/thumb.jpg")
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback moto)
        assert response.read() == b"jpeg bytes"
