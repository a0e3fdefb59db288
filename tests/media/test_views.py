"""Serving photos, and refusing request bodies that are too large before anything is saved."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from farmstore.extensions import db
from farmstore.media.models import Photo
from farmstore.media.services import save_photo
from farmstore.villages.models import Village
from tests.factories import image_bytes, make_user


@pytest.fixture
def photo(app) -> Photo:
    """A stored 1200 × 900 photo."""
    with app.app_context():
        photo = save_photo(image_bytes("JPEG", (1200, 900)))
        db.session.commit()
        db.session.refresh(photo)
        db.session.expunge(photo)
    return photo


def url(photo: Photo, name: str) -> str:
    return f"/media/{photo.path(name)}"


@pytest.mark.parametrize(("name", "width"), [("thumb", 320), ("medium", 800), ("large", 1200)])
def test_each_rendition_is_served_as_an_immutable_jpeg(client, photo, name, width):
    response = client.get(url(photo, name))

    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert "immutable" in response.headers["Cache-Control"]
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert Image.open(io.BytesIO(response.data)).size[0] == width


@pytest.mark.parametrize(
    "path",
    [
        "/media/{prefix}/{key}/original.jpg",  # not a size we serve
        "/media/{prefix}/{key}/exif.jpg",
        "/media/{prefix}/00000000000000000000000000000000/medium.jpg",  # unknown key
        "/media/zz/{key}/medium.jpg",  # prefix does not match the key
        "/media/{prefix}/{key}/medium.png",
    ],
)
def test_anything_but_a_stored_rendition_is_not_found(client, photo, path):
    response = client.get(path.format(prefix=photo.key[:2], key=photo.key))

    assert response.status_code == 404


def test_a_file_in_the_media_folder_that_is_not_a_rendition_is_not_served(app, client, photo):
    secret = Path(app.config["MEDIA_ROOT"]) / photo.key[:2] / photo.key / "notes.jpg"
    secret.write_bytes(b"private")

    assert client.get(f"/media/{photo.key[:2]}/{photo.key}/notes.jpg").status_code == 404


@pytest.mark.app_config(MAX_CONTENT_LENGTH=64 * 1024)
def test_a_request_body_over_the_limit_gets_a_friendly_page_and_creates_nothing(app, client, auth):
    with app.app_context():
        make_user("operator@example.com", is_operator=True)
    auth.login("operator@example.com")
    client.set_cookie("locale", "en")

    response = client.post(
        "/villages/new",
        data={
            "name": "큰사진마을",
            "region": "gangwon",
            "kind": "village",
            "cover": (io.BytesIO(os.urandom(200 * 1024)), "huge.jpg"),
        },
        content_type="multipart/form-data",
    )

    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "The upload was too large. Nothing was saved; try fewer or smaller photos." in page
    assert 'href="/"' in page  # a way back, not a bare server error
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Village)) == 0
        assert db.session.scalar(select(func.count()).select_from(Photo)) == 0
    assert not Path(app.config["MEDIA_ROOT"]).exists()
