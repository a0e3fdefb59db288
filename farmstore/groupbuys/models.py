"""Group-buys and pledges."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from farmstore.extensions import db
from farmstore.timeutil import UTCDateTime, utcnow

if TYPE_CHECKING:
    from farmstore.accounts.models import User
    from farmstore.payments.models import Payment
    from farmstore.producers.models import Producer
    from farmstore.sales.models import PickupPoint
    from farmstore.stories.models import Subject

GROUP_BUY_STATUSES = {
    "draft": _l("Draft"),
    "open": _l("Taking pledges"),
    "succeeded": _l("It's on"),
    "failed": _l("Did not reach the minimum"),
    "cancelled": _l("Cancelled"),
    "fulfilled": _l("Handed over"),
}
PLEDGE_STATUSES = {
    "active": _l("Pledged"),
    "withdrawn": _l("Withdrawn"),
    "due": _l("Pay at pickup"),
    "paid": _l("Paid"),
    "unpaid": _l("Payment failed"),
    "released": _l("Released"),
    "lapsed": _l("Not paid in time"),
}
WAITLIST_STATUSES = ("waiting", "offered", "claimed", "lapsed", "left")
# Pledges that hold units of the group-buy.
HOLDING_PLEDGE_STATUSES = ("active", "due", "paid", "unpaid")


def kg(grams: int) -> str:
    """A weight in grams written in kg, without trailing zeros: 17250 → "17.25"."""
    return f"{grams / 1000:,.3f}".rstrip("0").rstrip(".")


class GroupBuy(db.Model):
    """Buying a field or an animal together, all or nothing: if `min_units` are pledged by the
    deadline every pledge is charged, otherwise nobody pays. `units_pledged` is kept by atomic
    updates and the database refuses to let it pass `total_units`. The status is stored because
    it is decided once, at the deadline, by `flask farm tick`."""

    __tablename__ = "group_buys"
    __table_args__ = (
        CheckConstraint("unit_price >= 0", name="unit_price"),
        CheckConstraint("total_units >= 1", name="total_units"),
        CheckConstraint("min_units >= 1 AND min_units <= total_units", name="min_units"),
        CheckConstraint("per_buyer_max >= 1", name="per_buyer_max"),
        CheckConstraint("units_pledged >= 0 AND units_pledged <= total_units", name="units_pledged"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in GROUP_BUY_STATUSES)})", name="status"),
        CheckConstraint("reward_bps >= 0 AND reward_bps <= 10000", name="reward_bps"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"), index=True)
    # None for the group-buy behind a market deal (farmstore.deals), which sells coupons of a stall.
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    story: Mapped[str] = mapped_column(Text, default="")
    unit_label: Mapped[str] = mapped_column(String(80))
    unit_price: Mapped[int] = mapped_column(Integer)
    total_units: Mapped[int] = mapped_column(Integer)
    min_units: Mapped[int] = mapped_column(Integer)
    per_buyer_max: Mapped[int] = mapped_column(Integer)
    # The recommendation reward: basis points of what a pledger paid, split along their chain.
    reward_bps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    deadline: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    pickup_point_id: Mapped[int | None] = mapped_column(ForeignKey("pickup_points.id"))
    pickup_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pickup_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivery_note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="draft", index=True)
    units_pledged: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(String(300), default="")
    # The evangelist who drafted it with the producer ("written with …"); set by evangelists.drafts.
    # No foreign key: adding one on SQLite would rebuild this table (see migration 8b2c1a5d0f42).
    written_with_id: Mapped[int | None] = mapped_column(Integer)
    # Sold by weight (an animal): the unit price assumes `grams_per_unit`; once a share is weighed,
    # the difference is settled at `price_per_kg` won. Both set or neither (the service checks).
    price_per_kg: Mapped[int | None] = mapped_column(Integer)
    grams_per_unit: Mapped[int | None] = mapped_column(Integer)

    producer: Mapped[Producer] = relationship()
    subject: Mapped[Subject | None] = relationship()
    pickup_point: Mapped[PickupPoint | None] = relationship()
    written_with: Mapped[User | None] = relationship(
        primaryjoin="foreign(GroupBuy.written_with_id) == User.id", viewonly=True
    )

    @property
    def status_label(self) -> str:
        return str(GROUP_BUY_STATUSES[self.status])

    @property
    def units_left(self) -> int:
        return self.total_units - self.units_pledged

    @property
    def minimum_reached(self) -> bool:
        """The minimum is met: if nothing changes before the deadline, it is on."""
        return self.units_pledged >= self.min_units

    @property
    def percent_of_minimum(self) -> int:
        return min(100, self.units_pledged * 100 // self.min_units)

    @property
    def percent_of_total(self) -> int:
        return self.units_pledged * 100 // self.total_units

    @property
    def sold_by_weight(self) -> bool:
        """Shares are weighed before pickup and the difference settled."""
        return bool(self.price_per_kg and self.grams_per_unit)

    def takes_pledges(self, now: datetime) -> bool:
        """Pledges can be made or changed: open and before the deadline."""
        return self.status == "open" and now < self.deadline


class Pledge(db.Model):
    """A buyer's promise to take `units` if the group-buy succeeds. One holding pledge per buyer
    and group-buy (partial unique index); it is changed in place until the deadline."""

    __tablename__ = "pledges"
    __table_args__ = (
        CheckConstraint("units >= 1", name="units"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in PLEDGE_STATUSES)})", name="status"),
        CheckConstraint("payment_method IN ('pickup', 'stripe', 'toss')", name="payment_method"),
        UniqueConstraint("group_buy_id", "pickup_code", name="uq_pledges_group_buy_pickup_code"),
        Index(
            "uq_pledges_one_per_buyer",
            "group_buy_id",
            "buyer_id",
            unique=True,
            sqlite_where=text("status IN ('active', 'due', 'paid', 'unpaid')"),
            postgresql_where=text("status IN ('active', 'due', 'paid', 'unpaid')"),
        ),
        Index("ix_pledges_settlement", "group_buy_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_buy_id: Mapped[int] = mapped_column(ForeignKey("group_buys.id", ondelete="CASCADE"))
    buyer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    units: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="active")
    payment_method: Mapped[str] = mapped_column(String(10), default="pickup")
    card_payment_method_id: Mapped[str | None] = mapped_column(String(255))
    # When the saved card was detached at Stripe because this pledge will never be charged.
    card_released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    show_name: Mapped[bool] = mapped_column(Boolean, default=False)
    pickup_code: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    picked_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An unpaid pledge (its card was declined) holds its units until then; the tick frees them after.
    pay_by: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The share's weight as handed over, settled once before pickup: `weight_difference` is what it
    # changed, in won (+ the buyer owes more, − the buyer gets back or pays less). An extra charge
    # is its own Payment (a pledge's first payment owns `Payment.pledge_id`), linked here. A plain
    # column: a foreign key would make SQLite rebuild this table, and payments refer to pledges.
    final_grams: Mapped[int | None] = mapped_column(Integer)
    weight_difference: Mapped[int | None] = mapped_column(Integer)
    weight_settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    weight_payment_id: Mapped[int | None] = mapped_column(Integer)

    group_buy: Mapped[GroupBuy] = relationship()
    buyer: Mapped[User | None] = relationship()
    weight_payment: Mapped[Payment | None] = relationship(
        primaryjoin="foreign(Pledge.weight_payment_id) == Payment.id", viewonly=True
    )

    @property
    def status_label(self) -> str:
        return str(PLEDGE_STATUSES[self.status])

    @property
    def total(self) -> int:
        return self.units * self.group_buy.unit_price

    @property
    def total_after_weight(self) -> int:
        """What the share costs once weighed (never below nothing)."""
        return max(0, self.total + (self.weight_difference or 0))

    @property
    def final_kg(self) -> str:
        return kg(self.final_grams or 0)

    @property
    def assumed_kg(self) -> str:
        """What the unit price assumed this share weighs."""
        return kg(self.units * (self.group_buy.grams_per_unit or 0))

    @property
    def extra_due(self) -> int:
        """An extra charge for a heavier share still to be paid at pickup (0 when none)."""
        payment = self.weight_payment
        return payment.amount if payment is not None and payment.status != "succeeded" else 0


class GroupBuyWaitlistEntry(db.Model):
    """A buyer waiting for units of a full group-buy. Units freed after the deadline (a pledge
    not paid in time, an offer not taken) are offered in order of joining: they are held for
    the buyer (counted in `units_pledged`) until `offer_expires_at`."""

    __tablename__ = "group_buy_waitlist"
    __table_args__ = (
        CheckConstraint("units >= 1", name="units"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in WAITLIST_STATUSES)})", name="status"),
        Index(
            "uq_group_buy_waitlist_one_open_per_buyer",
            "group_buy_id",
            "buyer_id",
            unique=True,
            sqlite_where=text("status IN ('waiting', 'offered')"),
            postgresql_where=text("status IN ('waiting', 'offered')"),
        ),
        Index("ix_group_buy_waitlist_line", "group_buy_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_buy_id: Mapped[int] = mapped_column(ForeignKey("group_buys.id", ondelete="CASCADE"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    units: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="waiting")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    group_buy: Mapped[GroupBuy] = relationship()
    buyer: Mapped[User] = relationship()
