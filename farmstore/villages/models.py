"""Villages."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from farmstore.extensions import db
from farmstore.timeutil import UTCDateTime, utcnow
from farmstore.villages.regions import REGIONS, VILLAGE_KINDS

if TYPE_CHECKING:
    from farmstore.media.models import Photo
    from farmstore.producers.models import Producer

NAME_MAX_LENGTH = 80


class Village(db.Model):
    """A rural community or a market: where producers belong, the unit an evangelist adopts.
    Created by operators."""

    __tablename__ = "villages"
    __table_args__ = (
        CheckConstraint("kind IN ('village', 'market')", name="kind"),
        CheckConstraint(f"region IN ({', '.join(repr(r) for r in REGIONS)})", name="region"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    region: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="village")
    description: Mapped[str] = mapped_column(Text, default="")
    cover_photo_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    cover_photo: Mapped[Photo | None] = relationship()
    producers: Mapped[list[Producer]] = relationship(back_populates="village", order_by="Producer.farm_name")

    @property
    def region_label(self) -> str:
        """The region's name in the current language."""
        return str(REGIONS.get(self.region, self.region))

    @property
    def kind_label(self) -> str:
        """The kind ("Village" or "Market") in the current language."""
        return str(VILLAGE_KINDS.get(self.kind, self.kind))
