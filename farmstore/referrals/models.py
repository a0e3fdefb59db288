"""Share links, visits, attributions, the chains recorded on purchases, endorsements and store credit."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from farmstore.extensions import db
from farmstore.timeutil import UTCDateTime, utcnow

if TYPE_CHECKING:
    from farmstore.accounts.models import User
    from farmstore.groupbuys.models import Pledge
    from farmstore.sales.models import Order
    from farmstore.villages.models import Village

# What a share link can point at. The producer of every target is stored on the link, so chains,
# attribution and insight work per producer without looking at the target again.
TARGET_KINDS = ("producer", "subject", "story", "product", "sale", "groupbuy")
CREDIT_KINDS = {
    "reward": _l("Recommendation reward"),
    "reward_reversal": _l("Reward reversed (refund)"),
    "spend": _l("Spent at checkout"),
    "spend_refund": _l("Returned (refund)"),
    "grant": _l("Gift from farmstore"),
    "expiry": _l("Gift certificate expired"),
}


class ShareLink(db.Model):
    """One user's personal link to one target (reused: one per user and target). `parent_id` is the
    link its maker arrived through for the same producer, so links form chains; `depth` is 1 for a
    link nobody led to. Parents are always older links, so a chain can never loop."""

    __tablename__ = "share_links"
    __table_args__ = (
        UniqueConstraint("user_id", "target_kind", "target_id", name="uq_share_links_user_target"),
        CheckConstraint(f"target_kind IN ({', '.join(repr(k) for k in TARGET_KINDS)})", name="target_kind"),
        CheckConstraint("depth >= 1", name="depth"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(16), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"), index=True)
    target_kind: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("share_links.id", ondelete="SET NULL"), index=True)
    depth: Mapped[int] = mapped_column(Integer, default=1)
    show_name: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()
    parent: Mapped[ShareLink | None] = relationship(remote_side=[id])


class LinkVisit(db.Model):
    """Someone opened a share link: counted once per visitor per link per day. `visitor` is
    "u<user id>" for members and "g<random id>" for guests, so reach counts people, not clicks."""

    __tablename__ = "link_visits"
    __table_args__ = (
        UniqueConstraint("link_id", "visitor", "day", name="uq_link_visits_once_a_day"),
        Index("ix_link_visits_producer_visitor", "producer_id", "visitor"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("share_links.id", ondelete="CASCADE"), index=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"))
    visitor: Mapped[str] = mapped_column(String(40))
    day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attribution(db.Model):
    """The share link a member last arrived through for a producer (the last link wins) and until
    when it counts. Guests keep theirs in the session until they sign in or register."""

    __tablename__ = "attributions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"), primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("share_links.id", ondelete="CASCADE"))
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    link: Mapped[ShareLink] = relationship()


class Referral(db.Model):
    """The chain that led to one order or pledge, written in the transaction that created it and
    never changed: `length` recommenders, closest first in `entries`. Rewards granted for it are
    tracked here so paying them out (and taking them back on refund) happens once."""

    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint("(order_id IS NULL) <> (pledge_id IS NULL)", name="one_purchase"),
        CheckConstraint("length >= 1", name="length"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledges.id", ondelete="CASCADE"), unique=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"), index=True)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id", ondelete="CASCADE"), index=True)
    group_buy_id: Mapped[int | None] = mapped_column(ForeignKey("group_buys.id", ondelete="CASCADE"), index=True)
    buyer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    link_id: Mapped[int | None] = mapped_column(ForeignKey("share_links.id", ondelete="SET NULL"), index=True)
    length: Mapped[int] = mapped_column(Integer)
    reward_bps: Mapped[int] = mapped_column(Integer, default=0)
    rewarded_amount: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order | None] = relationship()
    pledge: Mapped[Pledge | None] = relationship()
    entries: Mapped[list[ChainEntry]] = relationship(order_by="ChainEntry.position", back_populates="referral")


class ChainEntry(db.Model):
    """One recommender in a recorded chain: position 1 shared the link the buyer opened, position 2
    shared the link position 1 arrived through, and so on. Immutable once written; the recommender
    may later rename or delete their account (then `user_id` is empty: "a former member")."""

    __tablename__ = "chain_entries"
    __table_args__ = (
        UniqueConstraint("referral_id", "position", name="uq_chain_entries_position"),
        CheckConstraint("position >= 1", name="position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("share_links.id", ondelete="SET NULL"))
    link_token: Mapped[str] = mapped_column(String(16))
    shared_at: Mapped[datetime] = mapped_column(UTCDateTime)
    show_name: Mapped[bool] = mapped_column(Boolean, default=True)

    referral: Mapped[Referral] = relationship(back_populates="entries")
    user: Mapped[User | None] = relationship()


class Endorsement(db.Model):
    """A member publicly recommends a producer or one of its products, with a short note."""

    __tablename__ = "endorsements"
    __table_args__ = (
        UniqueConstraint("user_id", "target_kind", "target_id", name="uq_endorsements_once"),
        CheckConstraint("target_kind IN ('producer', 'product')", name="target_kind"),
        Index("ix_endorsements_target", "target_kind", "target_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"), index=True)
    target_kind: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(280), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class CreditAccount(db.Model):
    """A member's store credit balance, kept by conditional updates; the database refuses to let
    it go below zero. Every change is explained by a CreditEntry."""

    __tablename__ = "credit_accounts"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    balance: Mapped[int] = mapped_column(Integer, default=0)


class CreditCertificate(db.Model):
    """A market gift certificate (상품권): store credit of one member that can be spent only with the
    producers of one village (a market: the scope) and only until `expires_at`. It is part of the one
    credit ledger: every change is a CreditEntry naming it, and `remaining` is kept like an account's
    balance (changed under the member's account lock, never below zero). Once it has expired the tick
    writes one "expiry" entry for what is left and sets `expired_at`."""

    __tablename__ = "credit_certificates"
    __table_args__ = (
        CheckConstraint("remaining >= 0", name="remaining"),
        Index("ix_credit_certificates_user_scope", "user_id", "village_id", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id", ondelete="CASCADE"))
    remaining: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    village: Mapped[Village] = relationship()

    @property
    def valid_through(self) -> datetime:
        """The last moment it can be spent (its last day, once shown in the local zone)."""
        return self.expires_at - timedelta(seconds=1)

    def is_expired(self, now: datetime) -> bool:
        """True from `expires_at` on, whether or not the tick has written its expiry yet."""
        return self.expired_at is not None or now >= self.expires_at


class CreditEntry(db.Model):
    """One movement of store credit, never changed or deleted. `amount` is what moved; `intended`
    is what should have moved (a reversal can take back no more than is left of the balance).
    `key` names the event, so replaying it cannot write twice. An entry with a `certificate_id`
    moved that gift certificate's credit (and `balance_after` is what the certificate has left);
    one without moved the member's general credit."""

    __tablename__ = "credit_entries"
    __table_args__ = (CheckConstraint(f"kind IN ({', '.join(repr(k) for k in CREDIT_KINDS)})", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Integer)
    intended: Mapped[int] = mapped_column(Integer)
    balance_after: Mapped[int] = mapped_column(Integer)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id", ondelete="SET NULL"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"), index=True)
    producer_id: Mapped[int | None] = mapped_column(ForeignKey("producers.id", ondelete="SET NULL"))
    certificate_id: Mapped[int | None] = mapped_column(
        ForeignKey("credit_certificates.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    certificate: Mapped[CreditCertificate | None] = relationship()

    @property
    def kind_label(self) -> str:
        return str(CREDIT_KINDS[self.kind])


@event.listens_for(ChainEntry, "before_update")
@event.listens_for(ChainEntry, "before_delete")
@event.listens_for(CreditEntry, "before_update")
@event.listens_for(CreditEntry, "before_delete")
def _append_only(_mapper, _connection, row) -> None:
    raise RuntimeError(f"{type(row).__name__} {row.id} is append-only")
