"""Stored photos."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from farmstore.extensions import db
from farmstore.timeutil import UTCDateTime, utcnow

# Widths we serve; an upload smaller than a width is never upscaled.
SIZES: dict[str, int] = {"thumb": 320, "medium": 800, "large": 1600}
# The link-preview picture (og:image): KakaoTalk and others show 2:1 at 800×400, cropped to fill.
SHARE = "share"
SHARE_SIZE = (800, 400)
# Every file stored for a photo.
RENDITIONS = (*SIZES, SHARE)


class Photo(db.Model):
    """A photo re-encoded from an upload. Only the re-encoded sizes exist; the uploaded bytes
    (and their EXIF, GPS included) are never stored."""

    __tablename__ = "photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    alt: Mapped[str] = mapped_column(String(200), default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def size(self, name: str) -> tuple[int, int]:
        """(width, height) of the stored rendition `name`."""
        if name == SHARE:
            return SHARE_SIZE
        width = min(SIZES[name], self.width)
        return width, max(1, round(self.height * width / self.width))

    def path(self, name: str) -> str:
        """Storage path of the rendition `name`."""
        return f"{self.key[:2]}/{self.key}/{name}.jpg"
