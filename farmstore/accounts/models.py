"""The account every person has: buyer by default, producer or operator on top."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from farmstore.extensions import db
from farmstore.timeutil import UTCDateTime, utcnow

if TYPE_CHECKING:
    from farmstore.producers.models import Producer

DISPLAY_NAME_MAX = 60


class User(UserMixin, db.Model):
    """A person with an account. Every account can buy; a producer profile makes it a
    producer; `is_operator` is set only by `flask farm make-operator`."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(DISPLAY_NAME_MAX))
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(8))
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active_account: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A Korean mobile number, normalised ("010-1234-5678"); shown only to producers the person
    # ordered from or pledged to (roster, allocation sheet), never on a public page.
    phone: Mapped[str | None] = mapped_column(String(13))

    producer: Mapped[Producer | None] = relationship(back_populates="user", uselist=False)

    @property
    def is_active(self) -> bool:  # Flask-Login: deactivated accounts cannot sign in
        return self.is_active_account

    @property
    def is_producer(self) -> bool:
        return self.producer is not None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"
