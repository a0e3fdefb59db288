"""Helpers for the stories tests: rows inserted directly (fast, and photos without files), uploads
as a browser sends them, a farm with a subject and a story to act on, and English messages.

Assertions are on the English source text; Korean is the default language, so the tests ask for
English explicitly.
"""

from __future__ import annotations

import io
import itertools
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.media.models import Photo
from farmstore.producers.models import Producer
from farmstore.stories.models import Claim, StoryPhoto, StoryPost, Subject
from farmstore.text import slugify
from tests.english import client  # noqa: F401 (a fixture, found by pytest by name)
from tests.factories import image_bytes, make_producer, make_user, make_village

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)  # noon in Seoul
TODAY = date(2025, 6, 1)
OWNER_EMAIL = "owner@example.com"
_numbers = itertools.count(1)


def upload(data: bytes | None = None, filename: str = "photo.jpg") -> FileStorage:
    """A file as the browser sends it from a file input (a small JPEG unless `data` is given)."""
    return FileStorage(io.BytesIO(image_bytes() if data is None else data), filename=filename)


def make_photo(**fields) -> Photo:
    """A photo row with no files behind it: enough for a page to link to its renditions."""
    photo = Photo(key=secrets.token_hex(16), **({"width": 1200, "height": 900, "alt": "사진"} | fields))
    db.session.add(photo)
    db.session.commit()
    return photo


def make_subject(producer: Producer, name: str = "누렁이", *, kind: str = "animal", **fields) -> Subject:
    """A subject of `producer`, inserted directly (slug from the name unless given)."""
    values = {"slug": slugify(name), "created_at": NOW, "updated_at": NOW} | fields
    subject = Subject(producer=producer, kind=kind, name=name, **values)
    db.session.add(subject)
    db.session.commit()
    return subject


def make_claim(subject: Subject, text: str = "풀만 먹여요", *, certificate: Photo | None = None) -> Claim:
    """A claim on `subject`, inserted directly."""
    claim = Claim(subject=subject, text=text, certificate_photo=certificate)
    db.session.add(claim)
    db.session.commit()
    return claim


def make_post(
    subject: Subject, title: str = "", *, body: str = "풀을 잘 먹었어요.", happened_on: date = TODAY, photos: int = 0,
    **fields,
) -> StoryPost:  # fmt: skip
    """A story on `subject`'s timeline with `photos` photo rows (no files), inserted directly."""
    post = StoryPost(
        subject=subject, author_id=subject.producer.user_id, happened_on=happened_on, title=title, body=body,
        **({"created_at": NOW} | fields),
    )  # fmt: skip
    post.photos = [
        StoryPhoto(photo=Photo(key=secrets.token_hex(16), width=1200, height=900, alt=title), position=i)
        for i in range(photos)
    ]
    db.session.add(post)
    db.session.commit()
    return post


def english(message) -> str:
    """A (lazily translated) user-facing message, or a DomainError's, in English."""
    with force_locale("en"):
        return message.message if isinstance(message, DomainError) else str(message)


def count(model) -> int:
    """How many rows `model` has."""
    return db.session.scalar(select(func.count()).select_from(model))


def media_files() -> list[Path]:
    """Every file under MEDIA_ROOT."""
    return sorted(p for p in Path(current_app.config["MEDIA_ROOT"]).rglob("*") if p.is_file())


VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Tag:
    """A start tag as a browser would see it: attribute values unescaped."""

    name: str
    attributes: dict[str, str]
    in_prose: bool  # inside a `class="prose"` block, where user Markdown is rendered


class PageTags(HTMLParser):
    """Every start tag of a page, in order, and how many `prose` blocks it has."""

    def __init__(self):
        super().__init__()
        self.tags: list[Tag] = []
        self.prose_blocks = 0
        self._prose_depth = 0  # elements open since entering a prose block

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append(Tag(tag, attributes, self._prose_depth > 0))
        if tag in VOID_TAGS:
            return
        if self._prose_depth:
            self._prose_depth += 1
        elif "prose" in attributes.get("class", "").split():
            self.prose_blocks += 1
            self._prose_depth = 1

    def handle_endtag(self, tag):
        if self._prose_depth and tag not in VOID_TAGS:
            self._prose_depth -= 1

    def meta(self) -> dict[str, str]:
        """<meta> contents by property or name."""
        return {
            t.attributes.get("property") or t.attributes["name"]: t.attributes["content"]
            for t in self.tags
            if t.name == "meta" and ("property" in t.attributes or "name" in t.attributes)
        }

    def links(self, rel: str) -> list[dict[str, str]]:
        """The attributes of every <link rel=`rel`>."""
        return [t.attributes for t in self.tags if t.name == "link" and t.attributes.get("rel") == rel]


def page_tags(html: str) -> PageTags:
    """The start tags of `html`."""
    parser = PageTags()
    parser.feed(html)
    parser.close()
    return parser


@dataclass(frozen=True)
class Farm:
    """A producer (owner@example.com) with one subject, one claim and one story on its timeline."""

    producer_id: int
    producer_slug: str
    village_slug: str
    subject_id: int
    subject_slug: str
    claim_id: int
    post_id: int

    @property
    def subject_url(self) -> str:
        return f"/producers/{self.producer_slug}/subjects/{self.subject_slug}"

    @property
    def post_url(self) -> str:
        return f"{self.subject_url}/posts/{self.post_id}"


def make_farm(email: str = OWNER_EMAIL, farm_name: str = "느릅골 한우농장", subject_name: str = "누렁이") -> Farm:
    """A producer account with a subject, a claim and one story, in a village of its own."""
    village = make_village(f"들꽃마을 {next(_numbers)}")
    producer = make_producer(make_user(email), village, farm_name=farm_name)
    subject = make_subject(producer, subject_name, breed="한우", location="north slope pasture")
    claim = make_claim(subject, "grass-fed")
    post = make_post(subject, "First grass", body="She ate **well** today.", happened_on=date(2025, 5, 1))
    return Farm(producer.id, producer.slug, village.slug, subject.id, subject.slug, claim.id, post.id)


@pytest.fixture
def farm(app) -> Farm:
    """A farm whose owner is not signed in yet (`auth.login(OWNER_EMAIL)` signs them in)."""
    with app.app_context():
        return make_farm()
