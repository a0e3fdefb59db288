"""Photo uploads: only clean, upright, re-encoded JPEGs are stored; anything else is refused
and leaves nothing behind."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from flask import current_app
from PIL import ExifTags, Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.media.models import SIZES, Photo
from farmstore.media.services import save_photo
from farmstore.media.storage import LocalStorage, get_storage
from tests.factories import image_bytes, make_user

pytestmark = pytest.mark.usefixtures("ctx")

RED, BLUE = (220, 20, 20), (20, 20, 220)


def upload(data: bytes, filename: str = "photo.jpg") -> FileStorage:
    """What the browser sends for a file input."""
    return FileStorage(io.BytesIO(data), filename=filename)


def camera_exif() -> Image.Exif:
    """EXIF a phone writes: maker, model, time, and where the photo was taken."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Samsung"
    exif[ExifTags.Base.Model] = "Galaxy S23"
    exif[ExifTags.Base.DateTime] = "2025:05:01 06:30:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (37.0, 45.0, 12.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (128.0, 52.0, 3.25)
    return exif


def stored(photo: Photo, name: str) -> Image.Image:
    """The rendition `name` of `photo`, read back from storage."""
    return Image.open(io.BytesIO(get_storage().get(photo.path(name))))


def media_files() -> list[Path]:
    """Every file under MEDIA_ROOT (temporary files included)."""
    return [p for p in Path(current_app.config["MEDIA_ROOT"]).rglob("*") if p.is_file()]


def photo_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Photo))


def png_bomb(side: int) -> bytes:
    """A valid 1-bit PNG of side × side black pixels: tiny on disk, huge once decoded."""
    row = bytes(1 + (side + 7) // 8)  # filter byte + packed pixels
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_a_phone_photo_is_stored_in_every_size_without_any_exif():
    original = image_bytes("JPEG", (1200, 900), exif=camera_exif())
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input does carry GPS

    photo = save_photo(upload(original), uploaded_by=make_user(), alt="새벽 들판")
    db.session.commit()

    for name in SIZES:
        raw = get_storage().get(photo.path(name))
        image = Image.open(io.BytesIO(raw))
        assert image.format == "JPEG"
        assert not image.getexif()
        assert "exif" not in image.info
        assert b"Exif" not in raw
        assert b"Galaxy" not in raw
    assert db.session.get(Photo, photo.id).alt == "새벽 들판"


def test_the_exif_orientation_is_applied_so_the_photo_comes_out_upright():
    # Stored sideways as the sensor saw it: left half red, right half blue; orientation 6 means
    # "turn 90° clockwise to view", which puts red on top.
    image = Image.new("RGB", (400, 200), BLUE)
    image.paste(RED, (0, 0, 200, 200))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)

    photo = save_photo(out.getvalue())

    assert (photo.width, photo.height) == (200, 400)
    upright = stored(photo, "medium").convert("RGB")
    assert upright.size == (200, 400)
    top, bottom = upright.getpixel((100, 50)), upright.getpixel((100, 350))
    assert top[0] > 150 and top[2] < 100
    assert bottom[2] > 150 and bottom[0] < 100


def test_a_transparent_png_becomes_a_jpeg_on_white():
    image = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    image.paste((30, 120, 30, 255), (100, 100, 200, 200))
    out = io.BytesIO()
    image.save(out, "PNG")

    photo = save_photo(upload(out.getvalue(), "leaf.png"))

    jpeg = stored(photo, "thumb")
    assert jpeg.format == "JPEG"
    assert jpeg.mode == "RGB"
    assert min(jpeg.getpixel((10, 10))) > 245  # transparent corner → white, not black
    assert jpeg.getpixel((150, 150))[1] > 100


@pytest.mark.parametrize("size", [(2400, 1600), (1999, 1333), (900, 2000), (400, 5000)])
def test_each_size_is_at_most_its_width_and_keeps_the_aspect_ratio(size):
    photo = save_photo(image_bytes("JPEG", size))

    assert (photo.width, photo.height) == size
    for name, width in SIZES.items():
        rendition = stored(photo, name)
        assert rendition.width == min(width, size[0])
        assert rendition.size == photo.size(name)  # what the <img> tag promises is what is served


def test_a_small_photo_is_never_upscaled():
    photo = save_photo(image_bytes("PNG", (300, 200)))

    assert {stored(photo, name).size for name in SIZES} == {(300, 200)}


def test_the_uploader_is_remembered():
    farmer = make_user()

    photo = save_photo(image_bytes(), uploaded_by=farmer)
    db.session.commit()

    assert db.session.get(Photo, photo.id).uploaded_by_id == farmer.id


def truncated_jpeg() -> bytes:
    data = image_bytes("JPEG", (800, 600))
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj", "menu.pdf", "not a photo"),
        (b"Just some notes about the harvest.\n", "notes.jpg", "not a photo"),
        (truncated_jpeg(), "cut.jpg", "not a photo"),
        (b"", "empty.jpg", "empty"),
        (image_bytes("JPEG", (10, 10)), "dot.jpg", "too small"),
        (image_bytes("BMP", (200, 200)), "old.bmp", "not a photo"),
        (png_bomb(20_000), "bomb.png", "too many pixels"),  # 400 megapixels in a few kilobytes
        (png_bomb(8_000), "big.png", "too many pixels"),  # over our cap, under Pillow's own warning
    ],
    ids=["pdf", "text-named-jpg", "truncated-jpeg", "empty", "tiny", "bmp", "bomb", "too-many-pixels"],
)
@pytest.mark.parametrize("as_upload", [True, False], ids=["upload", "bytes"])
def test_unusable_files_are_refused_on_the_right_field_and_nothing_is_stored(data, filename, message, as_upload):
    with pytest.raises(DomainError) as refused:
        save_photo(upload(data, filename) if as_upload else data, field="cover")
    db.session.commit()

    assert refused.value.field == "cover"
    assert message in str(refused.value.message)
    assert media_files() == []
    assert photo_count() == 0


@pytest.mark.app_config(MAX_PHOTO_BYTES=20_000)
@pytest.mark.parametrize("as_upload", [True, False], ids=["upload", "bytes"])
def test_a_photo_over_the_size_limit_is_refused_before_it_is_decoded(as_upload):
    noise = Image.effect_noise((400, 400), 100).convert("RGB")
    out = io.BytesIO()
    noise.save(out, "PNG")
    data = out.getvalue()
    assert len(data) > 20_000

    with pytest.raises(DomainError) as refused:
        save_photo(upload(data, "big.png") if as_upload else data)
    db.session.commit()

    assert refused.value.field == "photo"
    assert "too large" in str(refused.value.message)
    assert media_files() == []
    assert photo_count() == 0


def test_a_photo_exactly_at_the_size_limit_is_accepted(app):
    data = image_bytes("PNG", (200, 200))
    app.config["MAX_PHOTO_BYTES"] = len(data)

    save_photo(upload(data, "edge.png"))
    db.session.commit()

    assert photo_count() == 1


@pytest.mark.parametrize("path", ["../escape.jpg", "ab/../../escape.jpg", "{absolute}", "", "."])
def test_storage_refuses_paths_outside_its_root(tmp_path, path):
    storage = LocalStorage(tmp_path / "root")
    path = path.format(absolute=tmp_path / "escape.jpg")

    with pytest.raises(ValueError, match="escapes"):
        storage.put(path, b"data")
    with pytest.raises(ValueError, match="escapes"):
        storage.delete(path)
    assert storage.get(path) is None
    assert not (tmp_path / "escape.jpg").exists()


def test_storage_round_trip(tmp_path):
    storage = LocalStorage(tmp_path / "root")

    storage.put("ab/abcd/thumb.jpg", b"jpeg bytes")

    assert storage.get("ab/abcd/thumb.jpg") == b"jpeg bytes"
    assert [p.name for p in (tmp_path / "root" / "ab" / "abcd").iterdir()] == ["thumb.jpg"]  # no temp file left
    storage.delete("ab/abcd/thumb.jpg")
    assert storage.get("ab/abcd/thumb.jpg") is None


def test_a_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    storage = LocalStorage(tmp_path / "root")

    def disk_full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("farmstore.media.storage.os.replace", disk_full)
    with pytest.raises(OSError, match="No space"):
        storage.put("ab/abcd/thumb.jpg", b"jpeg bytes")

    assert [p for p in (tmp_path / "root").rglob("*") if p.is_file()] == []
