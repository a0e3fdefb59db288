"""Stalls of a market, their daily deals and the coupons buyers redeem at the stall."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Time, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from farmstore.extensions import db
from farmstore.timeutil import UTCDateTime, utcnow

if TYPE_CHECKING:
    from farmstore.accounts.models import User
    from farmstore.groupbuys.models import GroupBuy, Pledge
    from farmstore.producers.models import Producer
    from farmstore.villages.models import Village

DEAL_STATES = {
    "scheduled": _l("Coming up"),
    "live": _l("On sale now"),
    "deciding": _l("Being decided"),
    "tipped": _l("It tipped: coupons are valid"),
    "failed": _l("Did not tip: nobody pays"),
    "ended": _l("Ended"),
    "cancelled": _l("Cancelled"),
}
COUPON_STATES = {
    "valid": _l("Valid"),
    "upcoming": _l("Not valid yet"),
    "redeemed": _l("Used"),
    "expired": _l("Expired"),
}


class Stall(db.Model):
    """A producer of a market village seen as a stall: where it is in the market and when it
    opens. The name and photo are the producer profile's; one stall per producer."""

    __tablename__ = "stalls"

    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[str] = mapped_column(String(20), default="")
    location: Mapped[str] = mapped_column(String(120), default="")
    opens_at: Mapped[time] = mapped_column(Time)
    closes_at: Mapped[time] = mapped_column(Time)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    producer: Mapped[Producer] = relationship()


class Deal(db.Model):
    """One stall's coupon deal on one day of its market. The coupons are bought through the deal's
    own group-buy (`group_buy_id`): coupons are pledged units, the deal tips when the minimum is
    pledged, and the group-buy settlement decides and settles it at the tipping deadline
    (`group_buy.deadline`). The group-buy stays a draft until `drop_at`. At most one deal that is
    not cancelled per market and day: the database refuses a second one."""

    __tablename__ = "deals"
    __table_args__ = (
        CheckConstraint("face_value IS NULL OR face_value > 0", name="face_value"),
        Index(
            "uq_deals_one_per_market_day",
            "village_id",
            "deal_date",
            unique=True,
            sqlite_where=text("cancelled_at IS NULL"),
            postgresql_where=text("cancelled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_buy_id: Mapped[int] = mapped_column(ForeignKey("group_buys.id", ondelete="CASCADE"), unique=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"), index=True)
    deal_date: Mapped[date] = mapped_column(Date, index=True)
    drop_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # What one coupon is worth at the stall: an amount in won, or an item ("사과 2 kg").
    face_value: Mapped[int | None] = mapped_column(Integer)
    item: Mapped[str] = mapped_column(String(120), default="")
    redeem_until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dropped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    group_buy: Mapped[GroupBuy] = relationship()
    village: Mapped[Village] = relationship()
    producer: Mapped[Producer] = relationship()

    @property
    def deadline(self) -> datetime:
        """The tipping deadline: if the minimum is not bought by then, nobody pays."""
        return self.group_buy.deadline

    @property
    def price(self) -> int:
        return self.group_buy.unit_price

    @property
    def tipped(self) -> bool:
        """Enough coupons are bought: it is on (decided for good at the deadline)."""
        return self.group_buy.minimum_reached and self.group_buy.status in ("open", "succeeded", "fulfilled")

    def state_label(self, now: datetime) -> str:
        return str(DEAL_STATES[self.state(now)])

    @property
    def worth(self) -> str:
        """What one coupon gets at the stall, for pages and emails: the item, or the amount."""
        from farmstore.i18n import format_money

        return self.item or format_money(self.face_value or 0)

    def state(self, now: datetime) -> str:
        """scheduled, live, tipped (decided and on), failed, cancelled or ended (redemption over)."""
        status = self.group_buy.status
        if self.cancelled_at is not None or status == "cancelled":
            return "cancelled"
        if status == "draft":
            return "scheduled"
        if status == "open":
            return "live" if now < self.group_buy.deadline else "deciding"
        if status == "failed":
            return "failed"
        return "tipped" if now < self.redeem_until else "ended"


class Coupon(db.Model):
    """One coupon of a tipped deal, issued to the buyer of a pledge (one per pledged unit, `seq`
    1..units, so issuing twice cannot make more). Worth its face value at the deal's stall only,
    from `valid_from` until `valid_until`. Redeemed once (a conditional UPDATE of `redeemed_at`);
    one not redeemed by then is settled once by the unredeemed policy (`expired_at`, `outcome`)."""

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("pledge_id", "seq", name="uq_coupons_pledge_seq"),
        CheckConstraint("outcome IN ('', 'stall', 'refund', 'unpaid')", name="outcome"),
        Index("ix_coupons_stall_redeemed", "producer_id", "redeemed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledges.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    buyer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"))
    price: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redeemed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(8), default="")

    deal: Mapped[Deal] = relationship()
    pledge: Mapped[Pledge] = relationship()
    buyer: Mapped[User | None] = relationship(foreign_keys=[buyer_id])

    def state_label(self, now: datetime) -> str:
        return str(COUPON_STATES[self.state(now)])

    def state(self, now: datetime) -> str:
        """redeemed, expired, upcoming (not valid yet) or valid."""
        if self.redeemed_at is not None:
            return "redeemed"
        if self.expired_at is not None or now >= self.valid_until:
            return "expired"
        return "upcoming" if now < self.valid_from else "valid"
