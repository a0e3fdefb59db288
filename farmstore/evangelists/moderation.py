"""Operators hide abusive content with a reason. Any model with the `Hideable` columns can be
hidden: its area registers it once with `register_hideable`, its public queries add
`Model.hidden_at.is_(None)` (or `visible(Model)`), and its owner sees `hidden_reason`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from farmstore.errors import DomainError, NotAllowed, NotFound
from farmstore.extensions import db
from farmstore.timeutil import UTCDateTime

HIDDEN_REASON_MAX_LENGTH = 500


class Hideable:
    """Columns for content an operator can hide: when and why (who did it is in the audit trail).
    Hidden content disappears from public pages; its owner still sees it, with the reason."""

    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hidden_reason: Mapped[str | None] = mapped_column(String(HIDDEN_REASON_MAX_LENGTH), nullable=True)

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None


@dataclass(frozen=True)
class HideableKind:
    """A kind of content operators may hide: its model, a label, and how to find its producer
    (for the audit trail and the owner's notice)."""

    model: type
    label: object
    producer_of: Callable


HIDEABLE: dict[str, HideableKind] = {}


def register_hideable(kind: str, model: type, label, producer_of: Callable) -> None:
    """Let operators hide rows of `model` as `kind` ("story", "product", "question", …)."""
    HIDEABLE[kind] = HideableKind(model=model, label=label, producer_of=producer_of)


def visible(model):
    """The WHERE clause that keeps hidden rows of `model` off public pages."""
    return model.hidden_at.is_(None)


def get_hideable(kind: str, item_id: int):
    """The row of a registered kind, or NotFound."""
    hideable = HIDEABLE.get(kind)
    item = db.session.get(hideable.model, item_id) if hideable else None
    if item is None:
        raise NotFound(_l("There is nothing to hide there."))
    return item


def _load(kind: str, item_id: int):
    return HIDEABLE.get(kind), get_hideable(kind, item_id)


def hide_content(*, operator, kind: str, item_id: int, reason: str, now: datetime):
    """An operator hides one piece of content with a reason the owner will see. Hiding twice
    keeps the first time and updates the reason."""
    from farmstore.evangelists.services import record_action

    if not getattr(operator, "is_operator", False):
        raise NotAllowed(_l("Only operators can hide content."))
    reason = reason.strip()
    if not reason:
        raise DomainError(_l("Say why this is hidden; the owner will read it."), field="reason")
    if len(reason) > HIDDEN_REASON_MAX_LENGTH:
        raise DomainError(_l("Use at most %(n)d characters.", n=HIDDEN_REASON_MAX_LENGTH), field="reason")
    hideable, item = _load(kind, item_id)
    item.hidden_at = item.hidden_at or now
    item.hidden_reason = reason
    record_action(operator, hideable.producer_of(item), "hid", f"{kind} {item_id}", now)
    db.session.commit()
    return item


def unhide_content(*, operator, kind: str, item_id: int, now: datetime):
    """An operator shows hidden content again."""
    from farmstore.evangelists.services import record_action

    if not getattr(operator, "is_operator", False):
        raise NotAllowed(_l("Only operators can hide content."))
    hideable, item = _load(kind, item_id)
    item.hidden_at = item.hidden_reason = None
    record_action(operator, hideable.producer_of(item), "unhid", f"{kind} {item_id}", now)
    db.session.commit()
    return item


def hidden_items(limit: int = 200) -> list[tuple[str, object]]:
    """(kind, row) of everything hidden, newest first, across every registered kind."""
    items = []
    for kind, hideable in HIDEABLE.items():
        rows = db.session.scalars(
            select(hideable.model).where(hideable.model.hidden_at.is_not(None)).order_by(hideable.model.hidden_at.desc())
            .limit(limit)
        )  # fmt: skip
        items.extend((kind, row) for row in rows)
    return sorted(items, key=lambda pair: pair[1].hidden_at, reverse=True)[:limit]


def register_story_posts_and_products() -> None:
    """Story posts and products can be hidden (registered once the app's models are imported)."""
    from farmstore.catalog.models import Product
    from farmstore.stories.models import StoryPost

    register_hideable("story", StoryPost, _l("Story post"), lambda post: post.subject.producer)
    register_hideable("product", Product, _l("Product"), lambda product: product.producer)
