"""Helpers for the catalogue, regulars, search and browse tests: subjects, story posts and
products made through the real services, and what a page shows.

Assertions are on the English source text; Korean is the default language, so these tests use the
accounts tests' English-reading `ctx` and `client`.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from html.parser import HTMLParser

from werkzeug.datastructures import FileStorage

from farmstore.catalog.models import Product
from farmstore.catalog.services import create_product
from farmstore.producers.models import Producer
from farmstore.stories.models import StoryPost, Subject
from farmstore.stories.services import create_subject, write_post
from tests.accounts.conftest import client, ctx  # noqa: F401 (fixtures, found by pytest by name)
from tests.factories import image_bytes

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)  # noon in Seoul
TODAY = date(2025, 6, 1)


def photo_upload(filename: str = "photo.jpg") -> FileStorage:
    """A small JPEG as the browser sends it from a file input."""
    return FileStorage(io.BytesIO(image_bytes()), filename=filename)


def make_subject(producer: Producer, name: str = "누렁이", *, kind: str = "animal", **fields) -> Subject:
    """A subject of `producer`, created by its owner."""
    values = {"started_on": None, "breed": "", "location": "", "description": ""} | fields
    return create_subject(producer=producer, by=producer.user, kind=kind, name=name, now=NOW, **values)


def make_post(
    subject: Subject, title: str = "", *, body: str = "풀을 잘 먹었어요.", days_ago: int = 0, photos=()
) -> StoryPost:
    """A story on `subject`'s timeline dated `days_ago` days before TODAY, written by its owner."""
    return write_post(
        subject,
        by=subject.producer.user,
        happened_on=TODAY - timedelta(days=days_ago),
        title=title,
        body=body,
        photos=photos,
        now=NOW,
    )


def make_product(
    producer: Producer,
    name: str = "한우 정육 세트",
    *,
    unit: str = "1 kg",
    category: str = "meat",
    description: str = "",
    subjects=(),
    photos=(),
    now: datetime = NOW,
) -> Product:
    """A product of `producer`, listed by its owner."""
    return create_product(
        producer=producer,
        by=producer.user,
        name=name,
        unit=unit,
        category=category,
        description=description,
        subject_ids=[s.id for s in subjects],
        photos=photos,
        now=now,
    )


class _HeadTags(HTMLParser):
    """Collects <meta> contents by property or name, and <link> targets by rel."""

    def __init__(self):
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        key = attributes.get("property") or attributes.get("name")
        if tag == "meta" and key:
            self.meta[key] = attributes.get("content", "")
        if tag == "link" and attributes.get("rel"):
            self.links[attributes["rel"]] = attributes.get("href", "")


def head_tags(html: str) -> _HeadTags:
    """The page's meta and link tags, attribute values unescaped."""
    parser = _HeadTags()
    parser.feed(html)
    return parser


def story_titles(html: str) -> list[str]:
    """Titles of the story posts shown on a page, in page order ("" for a post without one)."""
    stories = re.findall(r'<article class="story">(.*?)</article>', html, re.S)
    titles = [re.search(r'<h3><a href="[^"]*">(.*?)</a></h3>', story) for story in stories]
    return [unescape(title.group(1)) if title else "" for title in titles]
