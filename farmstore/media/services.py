"""Turning an upload into a stored Photo: verify, re-encode, strip metadata, resize."""

from __future__ import annotations

import io
import secrets
import warnings

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.media.models import RENDITIONS, SHARE, SHARE_SIZE, SIZES, Photo
from farmstore.media.storage import get_storage

ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "GIF"}
MAX_PIXELS = 50_000_000  # a 50-megapixel phone photo is fine; a decompression bomb is not
MIN_SIDE = 16
JPEG_QUALITY = 82


def read_upload(upload, *, field: str) -> bytes:
    """The bytes of an uploaded file (or of bytes already in memory), refused if empty or over
    MAX_PHOTO_BYTES. A file is read no further than one byte past the limit."""
    limit = current_app.config["MAX_PHOTO_BYTES"]
    data = upload[: limit + 1] if isinstance(upload, bytes) else upload.read(limit + 1)
    if not data:
        raise DomainError(_l("The file is empty."), field=field)
    if len(data) > limit:
        raise DomainError(
            _l("This photo is too large. The limit is %(mb)d MB.", mb=limit // (1024 * 1024)),
            field=field,
        )
    return data


def _decode(data: bytes, field: str) -> Image.Image:
    """Open and fully decode an image, refusing anything that is not a sane photo."""
    not_an_image = DomainError(_l("This file is not a photo we can read (JPEG, PNG, WebP or GIF)."), field=field)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(data))
            if probe.format not in ACCEPTED_FORMATS:
                raise not_an_image
            if probe.width * probe.height > MAX_PIXELS:
                raise DomainError(_l("This photo has too many pixels."), field=field)
            probe.verify()
            image = Image.open(io.BytesIO(data))
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DomainError(_l("This photo has too many pixels."), field=field) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise not_an_image from None
    if min(image.size) < MIN_SIDE:
        raise DomainError(_l("This photo is too small."), field=field)
    return image


def _clean_rgb(image: Image.Image) -> Image.Image:
    """Upright RGB pixels with no metadata at all: EXIF (GPS included), XMP and ICC are gone."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    else:
        image = image.convert("RGB")
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    return clean


def encode_jpeg(image: Image.Image) -> bytes:
    """Progressive JPEG without metadata."""
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def save_photo(upload, *, uploaded_by=None, alt: str = "", field: str = "photo") -> Photo:
    """Verify an upload (a file or bytes; the same limits apply to both) and store it as a Photo
    in every size (added to the session, not committed). Raises DomainError naming `field` for
    anything that is not a usable photo."""
    data = read_upload(upload, field=field)
    image = _clean_rgb(_decode(data, field))
    photo = Photo(
        key=secrets.token_hex(16),
        width=image.width,
        height=image.height,
        alt=alt[:200],
        uploaded_by_id=uploaded_by.id if uploaded_by is not None else None,
    )
    storage = get_storage()
    for name in SIZES:
        size = photo.size(name)  # exactly what the <img> tag will announce
        rendition = image if size == image.size else image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
        storage.put(photo.path(name), encode_jpeg(rendition))
    storage.put(photo.path(SHARE), encode_jpeg(share_rendition(image)))
    db.session.add(photo)
    return photo


def share_rendition(image: Image.Image) -> Image.Image:
    """The link-preview picture: the middle of the photo cropped to 2:1 and scaled to 800×400."""
    return ImageOps.fit(image, SHARE_SIZE, Image.Resampling.LANCZOS, centering=(0.5, 0.45))


def ensure_share_rendition(prefix: str, key: str) -> bytes | None:
    """The share picture of a photo stored before it existed, made once from its large rendition
    (None when the photo has no files)."""
    storage = get_storage()
    large = storage.get(f"{prefix}/{key}/large.jpg")
    if large is None:
        return None
    with Image.open(io.BytesIO(large)) as image:
        data = encode_jpeg(share_rendition(image.convert("RGB")))
    storage.put(f"{prefix}/{key}/{SHARE}.jpg", data)
    return data


def save_photos(uploads, *, uploaded_by=None, alt: str = "", field: str = "photos", limit: int = 8) -> list[Photo]:
    """Several uploads at once (empty file inputs are skipped). If one is refused, the error names
    `field` and the caller does not commit, so no row of the batch survives."""
    uploads = [u for u in uploads or [] if u and getattr(u, "filename", True)]
    if len(uploads) > limit:
        raise DomainError(_l("Add at most %(n)d photos at a time.", n=limit), field=field)
    return [save_photo(upload, uploaded_by=uploaded_by, alt=alt, field=field) for upload in uploads]


def delete_photo_files(photos: list[Photo]) -> None:
    """Remove the stored renditions of photos whose rows were deleted (call after the commit)."""
    storage = get_storage()
    for photo in photos:
        for name in RENDITIONS:
            storage.delete(photo.path(name))
