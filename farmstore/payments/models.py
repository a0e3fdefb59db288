"""Payments, refunds, the ledger and processed webhook events."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from farmstore.extensions import db
from farmstore.timeutil import UTCDateTime, utcnow

if TYPE_CHECKING:
    from farmstore.accounts.models import User
    from farmstore.groupbuys.models import Pledge
    from farmstore.sales.models import Order

PROVIDERS = ("pickup", "stripe", "toss", "credit")
PAYMENT_STATUSES = ("pending", "succeeded", "failed", "canceled")
LEDGER_KINDS = ("payment", "refund", "fee", "fee_reversal", "reward", "reward_reversal")


class Payment(db.Model):
    """Money owed for an order or a group-buy pledge: collected at pickup, by card, or from the buyer's
    store credit (an order may have a credit payment beside its pickup or card payment). `amount` is computed by the
    server in the currency's minor unit. A payment succeeds at most once, never after it was
    canceled, and is never refunded beyond its amount (the database checks the last)."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount", name="refunded"),
        CheckConstraint(f"provider IN ({', '.join(repr(p) for p in PROVIDERS)})", name="provider"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in PAYMENT_STATUSES)})", name="status"),
        CheckConstraint("order_id IS NULL OR pledge_id IS NULL", name="one_purpose"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledges.id"), unique=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id"), index=True)
    buyer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    provider: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    refunded_amount: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Toss's key of the payment the buyer made in the widget for this payment's order id.
    toss_payment_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    failure_message: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When an off-session charge of a saved card was last begun: if the commit of its outcome
    # was lost, the next attempt first looks for the PaymentIntent at Stripe.
    charge_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    marked_paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    order: Mapped[Order | None] = relationship()
    pledge: Mapped[Pledge | None] = relationship()
    refunds: Mapped[list[Refund]] = relationship(back_populates="payment", order_by="Refund.id")

    @property
    def refundable(self) -> int:
        """What can still be refunded: only money actually received."""
        return self.amount - self.refunded_amount if self.status == "succeeded" else 0


class Refund(db.Model):
    """Money given back, in full or in part, with who decided it and why (automatic refunds
    of cancelled sales have no `by`)."""

    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="amount"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(300))
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending, succeeded, failed
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Toss's transaction key of the cancel that gave this refund back.
    toss_transaction_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="refunds")
    by: Mapped[User | None] = relationship()


class LedgerEntry(db.Model):
    """One movement of money for a producer, never changed or deleted. Amounts are signed from
    the producer's point of view: payments +, refunds −, platform fees −, fee reversals +,
    recommendation rewards − (and + when a refund takes them back).
    `key` names the event that caused the row, so replaying an event cannot write it twice."""

    __tablename__ = "ledger_entries"
    __table_args__ = (CheckConstraint(f"kind IN ({', '.join(repr(k) for k in LEDGER_KINDS)})", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


@event.listens_for(LedgerEntry, "before_update")
@event.listens_for(LedgerEntry, "before_delete")
def _ledger_is_append_only(_mapper, _connection, entry) -> None:
    raise RuntimeError(f"ledger entry {entry.id} is append-only")


class WebhookEvent(db.Model):
    """A Stripe event we have handled; seeing its id again means there is nothing to do."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(80))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StripeCustomer(db.Model):
    """The Stripe Customer that holds an account's saved card."""

    __tablename__ = "stripe_customers"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(255), unique=True)


class TossCustomer(db.Model):
    """The random customerKey Toss knows an account by: billing keys are issued to it and charged
    with it (Toss asks for an unguessable value, never an email or a user id)."""

    __tablename__ = "toss_customers"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    customer_key: Mapped[str] = mapped_column(String(64), unique=True)


class SavedCard(db.Model):
    """A card a buyer saves for a later off-session charge (a group-buy pledge), through a Stripe
    SetupIntent on their Customer. The row exists before Stripe is asked (its id is the
    SetupIntent's idempotency key); `payment_method_id` is set once the buyer's card is saved, and
    `released_at` once it is detached (or the unfinished SetupIntent canceled), which happens once."""

    __tablename__ = "saved_cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    setup_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    payment_method_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
