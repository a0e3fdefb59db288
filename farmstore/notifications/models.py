"""The email outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from farmstore.extensions import db
from farmstore.timeutil import UTCDateTime, utcnow


class OutboxMessage(db.Model):
    """An email waiting to be sent, sent, or given up on.

    It is written in the same transaction as the event that caused it, so a rolled-back event
    sends nothing. `flask farm tick` claims due messages one at a time (pending → sending) before
    talking to SMTP, so two ticks never send the same message. A message left in `sending` by a
    killed process becomes `unknown` and is not retried: a duplicate email is worse than asking an
    operator to look.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_due", "status", "next_attempt_at"),)

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))

    @property
    def message_id(self) -> str:
        """A stable Message-ID, so even a resent copy is recognisably the same message."""
        return f"<outbox-{self.id}@farmstore>"
