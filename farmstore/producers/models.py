"""Producer profiles."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from farmstore.extensions import db
from farmstore.timeutil import UTCDateTime, utcnow

if TYPE_CHECKING:
    from farmstore.accounts.models import User
    from farmstore.media.models import Photo
    from farmstore.villages.models import Village

FARM_NAME_MAX_LENGTH = 80
CONTACT_MAX_LENGTH = 200


class Producer(db.Model):
    """A farm, fishery or maker, owned by exactly one account and belonging to one village.
    Only its owner edits it."""

    __tablename__ = "producers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    farm_name: Mapped[str] = mapped_column(String(FARM_NAME_MAX_LENGTH))
    about: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str] = mapped_column(String(CONTACT_MAX_LENGTH), default="")
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(back_populates="producer")
    village: Mapped[Village] = relationship(back_populates="producers")
    photo: Mapped[Photo | None] = relationship()

    def is_owned_by(self, user) -> bool:
        """True when `user` is the account this profile belongs to."""
        return user is not None and user.is_authenticated and user.id == self.user_id
