"""Writing together: a village's evangelist drafts story posts, products, sales and group-buys for
one of its producers; nothing is published until the producer approves, unless the producer has
granted their evangelist "publish directly" (revocable).

A `Draft` row holds the kind, the producer, the author and the form's values as JSON. Approving
calls the area's own create service (`write_post`, `create_product`, `create_sale`,
`create_group_buy` + `open_group_buy`) in the producer's name, so every rule of those services
applies unchanged; the new row then gets `written_with_id` (shown as "written with <evangelist>")
and the draft remembers it in `target_id`. The target tables needed only that one column, no
draft state. Drafts carry text and numbers, not photos: the producer adds photos after publishing.

Every draft, approval, rejection, direct publication, grant and revocation is written to the
audit trail (`record_action`) in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from farmstore.catalog.models import CATEGORIES, Product
from farmstore.catalog.services import create_product
from farmstore.errors import DomainError, NotAllowed, NotFound
from farmstore.evangelists.models import PublishGrant
from farmstore.evangelists.services import can_publish_directly, helps, record_action, village_evangelist
from farmstore.extensions import db
from farmstore.groupbuys.services import create_group_buy, open_group_buy
from farmstore.i18n import format_money, format_when
from farmstore.producers.models import Producer
from farmstore.sales.models import PickupPoint
from farmstore.sales.services import ItemSpec, create_sale
from farmstore.stories.models import Subject
from farmstore.stories.services import write_post
from farmstore.timeutil import UTCDateTime, utcnow

if TYPE_CHECKING:
    from farmstore.accounts.models import User

DRAFT_KINDS = {
    "story": _l("Story post"),
    "product": _l("Product"),
    "sale": _l("Sale"),
    "group_buy": _l("Group-buy"),
}
DRAFT_STATUSES = ("pending", "published", "rejected")
REASON_MAX_LENGTH = 500


class Draft(db.Model):
    """Something an evangelist wrote for a producer. 'pending' until the producer approves
    ('published', with `target_id` the created row) or rejects it with a reason ('rejected').
    `published_directly` marks those published at once under a "publish directly" grant."""

    __tablename__ = "drafts"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in DRAFT_KINDS)})", name="kind"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in DRAFT_STATUSES)})", name="status"),
        Index("ix_drafts_producer_status", "producer_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    title: Mapped[str] = mapped_column(String(120), default="")
    data: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    published_directly: Mapped[bool] = mapped_column(Boolean, default=False)
    target_id: Mapped[int | None] = mapped_column(Integer)
    reject_reason: Mapped[str] = mapped_column(String(REASON_MAX_LENGTH), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    producer: Mapped[Producer] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def kind_label(self) -> str:
        return str(DRAFT_KINDS.get(self.kind, self.kind))


# ---------------------------------------------------------------- publishing through the areas' services


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _publish_story(producer: Producer, data: dict, now: datetime):
    subject = db.session.get(Subject, data.get("subject_id") or 0)
    if subject is None or subject.producer_id != producer.id:
        raise DomainError(_l("Choose one of your animals or fields."), field="subject_id")
    happened_on = date.fromisoformat(data["happened_on"]) if data.get("happened_on") else None
    return write_post(
        subject, by=producer.user, happened_on=happened_on, title=data.get("title", ""), body=data.get("body", ""),
        now=now,
    )  # fmt: skip


def _publish_product(producer: Producer, data: dict, now: datetime):
    return create_product(
        producer=producer, by=producer.user, name=data.get("name", ""), unit=data.get("unit", ""),
        category=data.get("category", ""), description=data.get("description", ""),
        subject_ids=data.get("subject_ids") or [], now=now,
    )  # fmt: skip


def _publish_sale(producer: Producer, data: dict, now: datetime):
    return create_sale(
        producer=producer, by=producer.user, title=data.get("title", ""), description=data.get("description", ""),
        pickup_point_id=data.get("pickup_point_id"), opens_at=_when(data["opens_at"]),
        closes_at=_when(data["closes_at"]), pickup_starts_at=_when(data["pickup_starts_at"]),
        pickup_ends_at=_when(data["pickup_ends_at"]), items=[ItemSpec(**item) for item in data.get("items", [])],
        now=now,
    )  # fmt: skip


def _publish_group_buy(producer: Producer, data: dict, now: datetime):
    fields = {key: data.get(key) for key in ("subject_id", "unit_price", "total_units", "min_units", "per_buyer_max")}
    group_buy = create_group_buy(
        producer=producer, by=producer.user, title=data.get("title", ""), story=data.get("story", ""),
        unit_label=data.get("unit_label", ""), deadline=_when(data["deadline"]),
        pickup_point_id=data.get("pickup_point_id") or None, pickup_starts_at=_when(data.get("pickup_starts_at")),
        pickup_ends_at=_when(data.get("pickup_ends_at")), delivery_note=data.get("delivery_note", ""), now=now,
        **fields,
    )  # fmt: skip
    open_group_buy(group_buy, by=producer.user, now=now)
    return group_buy


PUBLISHERS: dict[str, Callable] = {
    "story": _publish_story,
    "product": _publish_product,
    "sale": _publish_sale,
    "group_buy": _publish_group_buy,
}


def _publish(draft: Draft, now: datetime):
    """Create the draft's row through its area's service (which commits), then mark who wrote it
    with the producer. A refused draft rolls back everything the caller changed."""
    try:
        target = PUBLISHERS[draft.kind](draft.producer, draft.data, now)
    except DomainError:
        db.session.rollback()
        raise
    target.written_with_id = draft.author_id
    draft.target_id = target.id
    db.session.commit()
    return target


# ---------------------------------------------------------------- the draft as it will look


@dataclass
class DraftPreview:
    """A draft as the producer will see it published: facts in words (the subject's name, not
    its id; won and times formatted) and the Markdown text to render."""

    facts: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""
    lines: list[tuple[str, str, int]] = field(default_factory=list)  # sale items: name, price, quantity


def _name(model, row_id, attribute: str = "name") -> str:
    row = db.session.get(model, row_id or 0)
    return getattr(row, attribute) if row is not None else "—"


def _span(start: str | None, end: str | None) -> str:
    return f"{format_when(_when(start), 'short')} – {format_when(_when(end), 'short')}"


def preview_of(draft: Draft) -> DraftPreview:
    """The draft's values resolved into what the published page will show."""
    data, preview = draft.data, DraftPreview()
    fact = preview.facts.append
    if draft.kind == "story":
        fact((str(_l("Animal or field")), _name(Subject, data.get("subject_id"))))
        if data.get("happened_on"):
            fact((str(_l("Day")), format_date(date.fromisoformat(data["happened_on"]), "medium")))
        preview.body = data.get("body", "")
    elif draft.kind == "product":
        fact((str(_l("Unit")), data.get("unit", "")))
        fact((str(_l("Category")), str(CATEGORIES.get(data.get("category"), data.get("category", "")))))
        names = [_name(Subject, i) for i in data.get("subject_ids") or []]
        if names:
            fact((str(_l("Where it comes from")), ", ".join(names)))
        preview.body = data.get("description", "")
    elif draft.kind == "sale":
        fact((str(_l("Where")), _name(PickupPoint, data.get("pickup_point_id"))))
        fact((str(_l("Orders")), _span(data.get("opens_at"), data.get("closes_at"))))
        fact((str(_l("Pickup")), _span(data.get("pickup_starts_at"), data.get("pickup_ends_at"))))
        preview.lines = [
            (_name(Product, item.get("product_id")), format_money(item.get("price") or 0), item.get("quantity") or 0)
            for item in data.get("items", [])
        ]
        preview.body = data.get("description", "")
    elif draft.kind == "group_buy":
        fact((str(_l("Animal or field")), _name(Subject, data.get("subject_id"))))
        fact((str(_l("Price")), f"{format_money(data.get('unit_price') or 0)} / {data.get('unit_label', '')}"))
        fact(
            (
                str(_l("Units")),
                str(
                    _l(
                        "%(total)s in all, at least %(min)s, up to %(max)s per household",
                        total=data.get("total_units"),
                        min=data.get("min_units"),
                        max=data.get("per_buyer_max"),
                    )
                ),
            )
        )
        fact((str(_l("Deadline")), format_when(_when(data.get("deadline")), "short")))
        if data.get("pickup_point_id"):
            fact((str(_l("Pickup")), _name(PickupPoint, data.get("pickup_point_id"))))
        elif data.get("delivery_note"):
            fact((str(_l("Delivery")), data["delivery_note"]))
        preview.body = data.get("story", "")
    return preview


# ---------------------------------------------------------------- drafting, approving, rejecting


def _title_of(kind: str, data: dict) -> str:
    return str(data.get("title") or data.get("name") or DRAFT_KINDS[kind])[:120]


def submit_draft(*, producer: Producer, by, kind: str, data: dict, now: datetime) -> Draft:
    """The active evangelist of the producer's village drafts something for them. With a "publish
    directly" grant it is published at once (through the area's service, so its rules apply);
    otherwise it waits for the producer's approval. Anyone else is refused."""
    if not helps(by, producer):
        raise NotAllowed(_l("Only the evangelist of this producer's village can write with them."))
    if kind not in DRAFT_KINDS:
        raise DomainError(_l("Choose what to write."), field="kind")
    draft = Draft(producer=producer, author=by, kind=kind, data=data, title=_title_of(kind, data), created_at=now)
    db.session.add(draft)
    db.session.flush()
    if can_publish_directly(by, producer):
        draft.status, draft.published_directly, draft.decided_at = "published", True, now
        record_action(by, producer, "published directly", f"{kind} draft {draft.id}", now)
        _publish(draft, now)
    else:
        record_action(by, producer, "drafted", f"{kind} draft {draft.id}", now)
        db.session.commit()
    return draft


def _require_producer(draft: Draft, user) -> None:
    if not draft.producer.is_owned_by(user):
        raise NotAllowed(_l("Only the producer can approve or reject what is written for them."))


def _decide(draft: Draft, *, by, status: str, now: datetime, reason: str = "") -> None:
    """Move a pending draft to `status`, once: of two clicks, one wins."""
    moved = db.session.execute(
        update(Draft)
        .where(Draft.id == draft.id, Draft.status == "pending")
        .values(status=status, decided_at=now, decided_by_id=by.id, reject_reason=reason)
    ).rowcount
    if not moved:
        db.session.rollback()
        raise DomainError(_l("This draft has already been decided."))
    db.session.expire(draft)


def approve_draft(draft: Draft, *, by, now: datetime):
    """The producer approves a pending draft: it is published in their name, "written with" its
    author. If the area's rules refuse it now (a date has passed, say) it stays pending and the
    producer sees why. Returns the published row."""
    _require_producer(draft, by)
    _decide(draft, by=by, status="published", now=now)
    record_action(by, draft.producer, "approved", f"{draft.kind} draft {draft.id}", now)
    return _publish(draft, now)


def reject_draft(draft: Draft, *, by, reason: str, now: datetime) -> Draft:
    """The producer turns a pending draft down, saying why; nothing is published."""
    _require_producer(draft, by)
    reason = reason.strip()[:REASON_MAX_LENGTH]
    _decide(draft, by=by, status="rejected", now=now, reason=reason)
    record_action(by, draft.producer, "rejected", f"{draft.kind} draft {draft.id}", now)
    db.session.commit()
    return draft


# ---------------------------------------------------------------- "publish directly"


def open_grant(producer: Producer) -> PublishGrant | None:
    """The producer's unrevoked "publish directly" grant, if any."""
    return db.session.scalar(
        select(PublishGrant)
        .where(PublishGrant.producer_id == producer.id, PublishGrant.revoked_at.is_(None))
        .options(selectinload(PublishGrant.evangelist))
    )


def grant_publish_directly(producer: Producer, *, by, now: datetime) -> PublishGrant:
    """The producer lets their village's evangelist publish for them without asking first."""
    if not producer.is_owned_by(by):
        raise NotAllowed(_l("Only the producer can change this."))
    evangelist = village_evangelist(producer.village_id)
    if evangelist is None:
        raise DomainError(_l("Your village has no evangelist yet."))
    grant = open_grant(producer)
    if grant is not None and grant.evangelist_id == evangelist.id:
        return grant
    if grant is not None:  # granted to a former evangelist: that one ends now
        grant.revoked_at = now
    grant = PublishGrant(producer=producer, evangelist=evangelist, granted_at=now)
    db.session.add(grant)
    record_action(by, producer, "granted publish directly", f"user {evangelist.id}", now)
    db.session.commit()
    return grant


def revoke_publish_directly(producer: Producer, *, by, now: datetime) -> None:
    """The producer takes "publish directly" back: from now on their evangelist's work waits for
    approval again."""
    if not producer.is_owned_by(by):
        raise NotAllowed(_l("Only the producer can change this."))
    grant = open_grant(producer)
    if grant is None:
        return
    grant.revoked_at = now
    record_action(by, producer, "revoked publish directly", f"user {grant.evangelist_id}", now)
    db.session.commit()


# ---------------------------------------------------------------- lists


def get_draft(draft_id: int) -> Draft:
    draft = db.session.scalar(
        select(Draft)
        .where(Draft.id == draft_id)
        .options(selectinload(Draft.producer).selectinload(Producer.village), selectinload(Draft.author))
    )
    if draft is None:
        raise NotFound(_l("No such draft."))
    return draft


def approval_queue(producer: Producer, *, by) -> list[Draft]:
    """The producer's drafts: pending first (oldest on top), then the decided ones, newest first."""
    if not producer.is_owned_by(by):
        raise NotAllowed(_l("Only the producer can see what waits for their approval."))
    return list(
        db.session.scalars(
            select(Draft)
            .where(Draft.producer_id == producer.id)
            .options(selectinload(Draft.author))
            .order_by(Draft.status != "pending", Draft.created_at.desc(), Draft.id.desc())
        )
    )


def drafts_by(user) -> list[Draft]:
    """What an evangelist has written, newest first."""
    return list(
        db.session.scalars(
            select(Draft)
            .where(Draft.author_id == user.id)
            .options(selectinload(Draft.producer))
            .order_by(Draft.created_at.desc(), Draft.id.desc())
        )
    )
