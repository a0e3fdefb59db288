"""Evangelists: volunteers who adopt one village and help its producers get online."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from farmstore.extensions import db
from farmstore.timeutil import UTCDateTime, utcnow

if TYPE_CHECKING:
    from farmstore.accounts.models import User
    from farmstore.producers.models import Producer
    from farmstore.villages.models import Village

ADOPTION_STATUSES = ("applied", "active", "declined", "handed_over", "ended")
MOTIVATION_MAX_LENGTH = 1000
REASON_MAX_LENGTH = 500
NOTE_MAX_LENGTH = 120
ACTIVE = text("status = 'active'")
APPLIED = text("status = 'applied'")


class Adoption(db.Model):
    """A user's adoption of a village, from application to its end. One village has at most one
    'active' evangelist and an evangelist at most one 'active' village; both are unique indexes,
    so two operators approving at once cannot break the rule. A user has at most one open
    ('applied') application. While active, `successor_id` names the user it is being handed over
    to; when they accept, this row becomes 'handed_over' and theirs starts. Rows are never deleted:
    they are the village's history."""

    __tablename__ = "adoptions"
    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in ADOPTION_STATUSES)})", name="status"),
        Index("uq_adoptions_active_village", "village_id", unique=True, sqlite_where=ACTIVE, postgresql_where=ACTIVE),
        Index("uq_adoptions_active_user", "user_id", unique=True, sqlite_where=ACTIVE, postgresql_where=ACTIVE),
        Index("uq_adoptions_applied_user", "user_id", unique=True, sqlite_where=APPLIED, postgresql_where=APPLIED),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="applied")
    motivation: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decline_reason: Mapped[str] = mapped_column(String(REASON_MAX_LENGTH), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    successor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    village: Mapped[Village] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    successor: Mapped[User | None] = relationship(foreign_keys=[successor_id])

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class Invitation(db.Model):
    """A single-use, expiring, revocable invitation from a village's evangelist for a producer to
    join that village. The short `code` is random (unguessable) and is the whole secret."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id", ondelete="CASCADE"), index=True)
    evangelist_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    note: Mapped[str] = mapped_column(String(NOTE_MAX_LENGTH), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    village: Mapped[Village] = relationship()
    evangelist: Mapped[User] = relationship(foreign_keys=[evangelist_id])
    used_by: Mapped[User | None] = relationship(foreign_keys=[used_by_id])

    def is_open(self, now: datetime) -> bool:
        """Unused, unrevoked and not yet expired."""
        return self.used_at is None and self.revoked_at is None and now < self.expires_at

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class Helper(db.Model):
    """The evangelist who onboarded a producer (through `invitation_id`) and is linked as their
    helper. One row per producer. Helping rights themselves follow the village's active adoption
    (see `services.helps`), so a handover moves them without rewriting this history."""

    __tablename__ = "producer_helpers"

    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    producer: Mapped[Producer] = relationship()
    user: Mapped[User] = relationship()


class PublishGrant(db.Model):
    """A producer lets one evangelist publish for them without asking first. Revocable: a revoked
    grant keeps its row (`revoked_at`) for the record, and a new grant is a new row. At most one
    unrevoked grant per producer and evangelist."""

    __tablename__ = "publish_grants"
    __table_args__ = (
        Index(
            "uq_publish_grants_open",
            "producer_id",
            "evangelist_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"), index=True)
    evangelist_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    producer: Mapped[Producer] = relationship()
    evangelist: Mapped[User] = relationship()


class AuditEntry(db.Model):
    """Append-only record of who did what for a producer ("drafted story post 12", "approved …").
    Written in the caller's transaction; never updated or deleted by the application."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_producer", "producer_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship()
    producer: Mapped[Producer] = relationship()


class Verification(db.Model):
    """An operator records that an evangelist visited a producer's farm on a given day; the
    producer page then says "verified by <evangelist> on <date>". The newest one is shown."""

    __tablename__ = "verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"), index=True)
    evangelist_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    visited_on: Mapped[date] = mapped_column(Date)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    producer: Mapped[Producer] = relationship()
    evangelist: Mapped[User] = relationship(foreign_keys=[evangelist_id])
