"""User text: Markdown rendered and sanitised, and readable URL slugs."""

from __future__ import annotations

import re

import markdown
import nh3
from markupsafe import Markup

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "s", "del", "blockquote", "code", "pre",
    "ul", "ol", "li", "h2", "h3", "h4", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}
RESERVED_SLUGS = {"new", "edit", "feed", "search"}  # words our own URLs use after a prefix


def render_markdown(text: str | None) -> Markup:
    """Markdown to safe HTML: no scripts, no event handlers, no javascript: URLs; every link
    gets rel="nofollow ugc noopener"."""
    if not text:
        return Markup("")
    html = markdown.markdown(text, extensions=["sane_lists"], output_format="html")
    return Markup(  # noqa: S704 (sanitised by nh3 just below)
        nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes=URL_SCHEMES,
            link_rel="nofollow ugc noopener",
        )
    )


def plain_text(text) -> str:
    """What a reader of the rendered Markdown sees, as plain text with no marks or tags (for link
    previews and meta descriptions): "**맛있는** 배추" → "맛있는 배추". Already rendered HTML
    (Markup) only loses its tags."""
    if not text:
        return ""
    html = text if isinstance(text, Markup) else render_markdown(str(text))
    return Markup(html).striptags()  # noqa: S704 (sanitised HTML, only read for its text)


def slugify(text: str, max_length: int = 60) -> str:
    """A readable URL part that keeps Hangul: "느릅골 한우농장!" → "느릅골-한우농장"."""
    slug = re.sub(r"[\W_]+", "-", text.strip().lower()).strip("-")
    return slug[:max_length].strip("-") or "item"


def unique_slug(model, text: str, *, scope=None) -> str:
    """A slug for `text` that no other row of `model` (within `scope`, a SQL condition such as
    one producer's rows) uses: "햇살마을", then "햇살마을-2"..."""
    from sqlalchemy import select

    from farmstore.extensions import db

    base = slugify(text)
    if base in RESERVED_SLUGS:
        base = f"{base}-1"
    taken_query = select(model.slug).where(model.slug.like(f"{base}%"))
    if scope is not None:
        taken_query = taken_query.where(scope)
    taken = set(db.session.scalars(taken_query))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug
