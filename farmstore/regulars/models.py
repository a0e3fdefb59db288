"""Follows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from farmstore.accounts.models import User
from farmstore.extensions import db
from farmstore.producers.models import Producer
from farmstore.timeutil import UTCDateTime, utcnow


class Follow(db.Model):
    """A buyer is a regular of a producer: they see its new stories (and later sales) first.
    One row per pair; following twice changes nothing."""

    __tablename__ = "follows"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    producer_id: Mapped[int] = mapped_column(
        ForeignKey("producers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
    producer: Mapped[Producer] = relationship()
