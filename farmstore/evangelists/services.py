"""Evangelist rules: who helps which producer, who may publish for them, and the audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from farmstore.accounts.models import User
from farmstore.evangelists.models import Adoption, AuditEntry, PublishGrant
from farmstore.extensions import db
from farmstore.producers.models import Producer


def active_adoption_of_village(village_id: int) -> Adoption | None:
    """The village's active adoption, if it has an evangelist."""
    return db.session.scalar(select(Adoption).where(Adoption.village_id == village_id, Adoption.status == "active"))


def active_adoption_of_user(user) -> Adoption | None:
    """The adoption `user` is currently active in (an evangelist has at most one)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(select(Adoption).where(Adoption.user_id == user.id, Adoption.status == "active"))


def village_evangelist(village_id: int) -> User | None:
    """The village's active evangelist, or None."""
    return db.session.scalar(
        select(User).join(Adoption, Adoption.user_id == User.id).where(
            Adoption.village_id == village_id, Adoption.status == "active"
        )
    )


def helps(user, producer: Producer) -> bool:
    """True when `user` is the active evangelist of the producer's village. An evangelist whose
    adoption ended (or was handed over) no longer helps anyone."""
    adoption = active_adoption_of_user(user)
    return adoption is not None and adoption.village_id == producer.village_id


def can_publish_directly(user, producer: Producer) -> bool:
    """True when `user` helps the producer and the producer has granted them "publish directly"
    (and not revoked it)."""
    if not helps(user, producer):
        return False
    grant = db.session.scalar(
        select(PublishGrant.id).where(
            PublishGrant.producer_id == producer.id,
            PublishGrant.evangelist_id == user.id,
            PublishGrant.revoked_at.is_(None),
        )
    )
    return grant is not None


def record_action(actor, producer: Producer, action: str, target: str, now: datetime) -> AuditEntry:
    """Append who did what for a producer to the audit trail, in the caller's transaction
    (no commit: the entry exists exactly when the action does)."""
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        producer_id=producer.id,
        action=action[:40],
        target=target[:120],
        created_at=now,
    )
    db.session.add(entry)
    return entry
