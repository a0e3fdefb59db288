"""Small factories: each makes one committed row with sensible defaults."""

from __future__ import annotations

import io
import itertools

from PIL import Image

from farmstore.accounts.models import User
from farmstore.accounts.passwords import hash_password
from farmstore.extensions import db
from farmstore.producers.models import Producer
from farmstore.text import slugify
from farmstore.villages.models import Village

PASSWORD = "quiet-river-under-pine-trees"
_PASSWORD_HASH = hash_password(PASSWORD)  # hashing is slow on purpose; do it once
_numbers = itertools.count(1)


def make_user(email: str | None = None, *, display_name: str = "테스터", is_operator: bool = False, **fields) -> User:
    n = next(_numbers)
    user = User(
        email=email or f"user{n}@example.com",
        display_name=display_name,
        password_hash=_PASSWORD_HASH,
        is_operator=is_operator,
        **fields,
    )
    db.session.add(user)
    db.session.commit()
    return user


def make_village(name: str | None = None, *, region: str = "gangwon", kind: str = "village", **fields) -> Village:
    name = name or f"햇살마을{next(_numbers)}"
    village = Village(name=name, slug=slugify(name), region=region, kind=kind, **fields)
    db.session.add(village)
    db.session.commit()
    return village


def make_producer(
    user: User | None = None, village: Village | None = None, *, farm_name: str | None = None
) -> Producer:
    farm_name = farm_name or f"느릅골 농장 {next(_numbers)}"
    producer = Producer(
        user=user or make_user(),
        village=village or make_village(),
        farm_name=farm_name,
        slug=slugify(farm_name),
        about="풀을 먹여 키웁니다.",
    )
    db.session.add(producer)
    db.session.commit()
    return producer


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (640, 480), exif: Image.Exif | None = None) -> bytes:
    """A small valid image in `fmt`, optionally carrying `exif`."""
    image = Image.new("RGB", size, (120, 160, 80))
    out = io.BytesIO()
    if exif is not None:
        image.save(out, fmt, exif=exif)
    else:
        image.save(out, fmt)
    return out.getvalue()
