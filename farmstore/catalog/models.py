"""Products. Prices and stock belong to sales and group-buys, not here."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from farmstore.evangelists.moderation import Hideable
from farmstore.extensions import db
from farmstore.timeutil import UTCDateTime, utcnow

if TYPE_CHECKING:
    from farmstore.accounts.models import User
    from farmstore.media.models import Photo
    from farmstore.producers.models import Producer
    from farmstore.stories.models import Subject

CATEGORIES = {
    "meat": _l("Meat"),
    "vegetables": _l("Vegetables"),
    "fruit": _l("Fruit"),
    "grains": _l("Rice and grains"),
    "tea": _l("Tea"),
    "honey": _l("Honey"),
    "seafood": _l("Seafood"),
    "dairy_eggs": _l("Dairy and eggs"),
    "preserves": _l("Kimchi and preserves"),
}
NAME_MAX_LENGTH = 80
UNIT_MAX_LENGTH = 30
DESCRIPTION_MAX_LENGTH = 10_000
ORIGIN_MAX_LENGTH = 80
STORAGE_MAX_LENGTH = 120
INGREDIENTS_MAX_LENGTH = 300

product_subjects = Table(
    "product_subjects",
    db.metadata,
    Column("product_id", ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("subject_id", ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Product(Hideable, db.Model):
    """Something a producer sells (a box of cabbages, a share of a cow), linked to the subjects
    it comes from so its page can show their timelines. The slug is unique per producer."""

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("producer_id", "slug", name="uq_products_producer_slug"),
        CheckConstraint(f"category IN ({', '.join(repr(c) for c in CATEGORIES)})", name="category"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    unit: Mapped[str] = mapped_column(String(UNIT_MAX_LENGTH))
    category: Mapped[str] = mapped_column(String(16), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The evangelist who drafted it with the producer ("written with …"); set by evangelists.drafts.
    # No foreign key: adding one on SQLite would rebuild this table (see migration 8b2c1a5d0f42).
    written_with_id: Mapped[int | None] = mapped_column(Integer)
    # Label facts (전자상거래 상품정보제공 고시, 농축수산물 and 가공식품); "" or None when not stated.
    # trace_number: a 12-digit animal number or a 15-character lot number (farmstore.trace).
    trace_number: Mapped[str] = mapped_column(String(15), default="", server_default="", index=True)
    grade: Mapped[str] = mapped_column(String(20), default="", server_default="")
    origin: Mapped[str] = mapped_column(String(ORIGIN_MAX_LENGTH), default="", server_default="")
    storage: Mapped[str] = mapped_column(String(STORAGE_MAX_LENGTH), default="", server_default="")
    ingredients: Mapped[str] = mapped_column(String(INGREDIENTS_MAX_LENGTH), default="", server_default="")
    packed_on: Mapped[date | None] = mapped_column(Date)
    use_by: Mapped[date | None] = mapped_column(Date)
    weight_grams: Mapped[int | None] = mapped_column(Integer)

    producer: Mapped[Producer] = relationship()
    written_with: Mapped[User | None] = relationship(
        primaryjoin="foreign(Product.written_with_id) == User.id", viewonly=True
    )
    subjects: Mapped[list[Subject]] = relationship(secondary=product_subjects, order_by="Subject.name")
    photos: Mapped[list[ProductPhoto]] = relationship(
        order_by="ProductPhoto.position", cascade="all, delete-orphan", back_populates="product"
    )

    @property
    def category_label(self) -> str:
        """The category's name in the current language."""
        return str(CATEGORIES.get(self.category, self.category))

    @property
    def cover_photo(self) -> Photo | None:
        """The first photo, shown on cards and link previews."""
        return self.photos[0].photo if self.photos else None


class ProductPhoto(db.Model):
    """A photo of a product, in order."""

    __tablename__ = "product_photos"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    product: Mapped[Product] = relationship(back_populates="photos")
    photo: Mapped[Photo] = relationship()
