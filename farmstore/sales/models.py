"""Pickup points, sales, their items, orders, waitlists and requests for a sale nearby."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    and_,
    exists,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from farmstore.extensions import db
from farmstore.timeutil import UTCDateTime, utcnow

if TYPE_CHECKING:
    from farmstore.accounts.models import User
    from farmstore.catalog.models import Product
    from farmstore.producers.models import Producer

SALE_STATUSES = {
    "scheduled": _l("Opens soon"),
    "open": _l("Open"),
    "sold_out": _l("Sold out"),
    "closed": _l("Closed"),
    "cancelled": _l("Cancelled"),
}
ORDER_STATUSES = {
    "reserved": _l("Waiting for payment"),
    "confirmed": _l("Confirmed"),
    "picked_up": _l("Picked up"),
    "no_show": _l("Not collected"),
    "cancelled": _l("Cancelled"),
    "expired": _l("Expired"),
}
# Orders that hold stock. Cancelled and expired orders have given theirs back.
ACTIVE_ORDER_STATUSES = ("reserved", "confirmed", "picked_up", "no_show")


class PickupPoint(db.Model):
    """A place a producer meets buyers, reused across sales. `area` is the district buyers ask
    for ("마포구"), so demand by area can be matched to it."""

    __tablename__ = "pickup_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(200))
    area: Mapped[str] = mapped_column(String(40), index=True)
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    directions: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    producer: Mapped[Producer] = relationship()

    @property
    def map_url(self) -> str:
        """A link out to a map: the coordinates when known, else a search for the address."""
        from urllib.parse import quote

        if self.latitude is not None and self.longitude is not None:
            return f"https://www.openstreetmap.org/?mlat={self.latitude}&mlon={self.longitude}#map=17/{self.latitude}/{self.longitude}"
        return f"https://www.openstreetmap.org/search?query={quote(self.address)}"


class Sale(db.Model):
    """A time- and place-limited sale: orders are taken between opens_at and closes_at and
    collected at one pickup point in the pickup window. Its status follows from the time and
    the stock; only cancellation is stored."""

    __tablename__ = "sales"
    __table_args__ = (
        CheckConstraint("closes_at > opens_at", name="window"),
        CheckConstraint("pickup_ends_at > pickup_starts_at", name="pickup_window"),
        CheckConstraint("reservation_minutes > 0", name="reservation_minutes"),
        CheckConstraint("reward_bps >= 0 AND reward_bps <= 10000", name="reward_bps"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"), index=True)
    pickup_point_id: Mapped[int] = mapped_column(ForeignKey("pickup_points.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    pickup_starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    pickup_ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reservation_minutes: Mapped[int] = mapped_column(Integer, default=30)
    # The recommendation reward: basis points of what a buyer paid, split along their chain.
    reward_bps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(String(300), default="")
    no_shows_marked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The evangelist who drafted it with the producer ("written with …"); set by evangelists.drafts.
    # No foreign key: adding one on SQLite would rebuild this table (see migration 8b2c1a5d0f42).
    written_with_id: Mapped[int | None] = mapped_column(Integer)

    producer: Mapped[Producer] = relationship()
    pickup_point: Mapped[PickupPoint] = relationship()
    written_with: Mapped[User | None] = relationship(
        primaryjoin="foreign(Sale.written_with_id) == User.id", viewonly=True
    )
    items: Mapped[list[SaleItem]] = relationship(
        back_populates="sale", order_by="SaleItem.id", cascade="all, delete-orphan"
    )

    def status(self, now: datetime) -> str:
        """scheduled, open, sold_out, closed or cancelled at `now`."""
        if self.cancelled_at is not None:
            return "cancelled"
        if now < self.opens_at:
            return "scheduled"
        if now >= self.closes_at:
            return "closed"
        if all(item.remaining <= 0 for item in self.items):
            return "sold_out"
        return "open"

    def is_open(self, now: datetime) -> bool:
        """Orders are accepted (within the window, not cancelled, something left)."""
        return self.status(now) == "open"

    def is_upcoming(self, now: datetime) -> bool:
        return self.status(now) == "scheduled"

    def status_label(self, now: datetime) -> str:
        return str(SALE_STATUSES[self.status(now)])

    @property
    def cover_photo(self):
        """The first photo of the first item's product that has one, shown on sale cards."""
        for item in self.items:
            if item.product.cover_photo is not None:
                return item.product.cover_photo
        return None

    @property
    def lowest_price(self) -> int | None:
        """The cheapest item still in stock (the cheapest item at all once everything is gone)."""
        prices = [item.price for item in self.items if item.remaining > 0] or [item.price for item in self.items]
        return min(prices) if prices else None

    @property
    def has_several_prices(self) -> bool:
        """More than one price among its items: the card then reads "from …"."""
        return len({item.price for item in self.items}) > 1

    @classmethod
    def open_filter(cls, now: datetime):
        """SQL condition matching `is_open(now)`."""
        return and_(
            cls.cancelled_at.is_(None),
            cls.opens_at <= now,
            cls.closes_at > now,
            exists(select(SaleItem.id).where(SaleItem.sale_id == cls.id, SaleItem.quantity_taken < SaleItem.quantity)),
        )

    @classmethod
    def upcoming_filter(cls, now: datetime):
        """SQL condition matching `is_upcoming(now)`."""
        return and_(cls.cancelled_at.is_(None), cls.opens_at > now)

    @classmethod
    def closed_filter(cls, now: datetime):
        """SQL condition: the ordering window is over (and the sale was not cancelled)."""
        return and_(cls.cancelled_at.is_(None), cls.closes_at <= now)


class SaleItem(db.Model):
    """One product in a sale: its price in won, how many exist, and how many one buyer may take.
    `quantity_taken` counts units held by active orders and waitlist offers; the database
    refuses to let it pass `quantity`."""

    __tablename__ = "sale_items"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price"),
        CheckConstraint("quantity >= 0", name="quantity"),
        CheckConstraint("quantity_taken >= 0 AND quantity_taken <= quantity", name="stock"),
        CheckConstraint("per_buyer_limit >= 1", name="per_buyer_limit"),
        UniqueConstraint("sale_id", "product_id", name="uq_sale_items_sale_product"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    price: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    quantity_taken: Mapped[int] = mapped_column(Integer, default=0)
    per_buyer_limit: Mapped[int] = mapped_column(Integer, default=1)

    sale: Mapped[Sale] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()

    @property
    def remaining(self) -> int:
        return self.quantity - self.quantity_taken


class Order(db.Model):
    """A buyer's order from one sale. Created with its stock already taken; the pickup code is
    short and unique within the sale. A buyer has at most one active order per sale (enforced
    by a partial unique index), which makes the per-buyer limit race-free."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("sale_id", "pickup_code", name="uq_orders_sale_pickup_code"),
        UniqueConstraint("buyer_id", "checkout_key", name="uq_orders_buyer_checkout_key"),
        Index(
            "uq_orders_one_active_per_buyer",
            "sale_id",
            "buyer_id",
            unique=True,
            sqlite_where=text("status IN ('reserved', 'confirmed', 'picked_up', 'no_show')"),
            postgresql_where=text("status IN ('reserved', 'confirmed', 'picked_up', 'no_show')"),
        ),
        CheckConstraint("total >= 0", name="total"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in ORDER_STATUSES)})", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), index=True)
    buyer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(12), index=True)
    total: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="KRW")
    payment_method: Mapped[str] = mapped_column(String(12), default="pickup")
    pickup_code: Mapped[str] = mapped_column(String(8))
    checkout_key: Mapped[str] = mapped_column(String(64))
    reserved_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    picked_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sale: Mapped[Sale] = relationship()
    buyer: Mapped[User | None] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_ORDER_STATUSES

    @property
    def status_label(self) -> str:
        return str(ORDER_STATUSES[self.status])

    def can_cancel(self, now: datetime) -> bool:
        """A buyer may cancel until the sale closes."""
        return self.status in ("reserved", "confirmed") and now < self.sale.closes_at


class OrderLine(db.Model):
    """How many of one sale item an order holds, at the price of the moment (server-computed)."""

    __tablename__ = "order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sale_item_id: Mapped[int] = mapped_column(ForeignKey("sale_items.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(Integer)

    order: Mapped[Order] = relationship(back_populates="lines")
    sale_item: Mapped[SaleItem] = relationship()

    @property
    def line_total(self) -> int:
        return self.quantity * self.unit_price


class WaitlistEntry(db.Model):
    """A buyer waiting for a sold-out item. Freed stock is offered in order of joining: the
    units are held for them (counted in quantity_taken) until `offer_expires_at`."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        Index(
            "uq_waitlist_one_open_per_buyer",
            "sale_item_id",
            "buyer_id",
            unique=True,
            sqlite_where=text("status IN ('waiting', 'offered')"),
            postgresql_where=text("status IN ('waiting', 'offered')"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sale_item_id: Mapped[int] = mapped_column(ForeignKey("sale_items.id", ondelete="CASCADE"), index=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="waiting")  # waiting, offered, claimed, lapsed, left
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    sale_item: Mapped[SaleItem] = relationship()
    buyer: Mapped[User] = relationship()


class AreaRequest(db.Model):
    """A buyer asks a producer to bring a sale to their area. One per buyer, producer and area."""

    __tablename__ = "area_requests"
    __table_args__ = (UniqueConstraint("producer_id", "buyer_id", "area", name="uq_area_requests_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"), index=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    area: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    notified_sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id", ondelete="SET NULL"))

    buyer: Mapped[User] = relationship()
