"""Payment rules: collect once, refund at most what was paid, write every movement to the ledger.

Sales and group-buys create a Payment with the amount the server computed, then call
`collect` (card) or let the producer `mark_paid_at_pickup`; they learn of success through the
`payment_succeeded` signal. Functions named with a leading underscore never commit; the public
ones own their transaction unless their docstring says the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, update

from farmstore.csvfile import csv_text, local_time
from farmstore.errors import DomainError, NotAllowed
from farmstore.extensions import db
from farmstore.i18n import format_money
from farmstore.payments.models import LedgerEntry, Payment, Refund
from farmstore.payments.providers import PROVIDERS, provider_for
from farmstore.payments.signals import payment_failed, payment_succeeded, refund_completed
from farmstore.producers.models import Producer


def fee_for(amount: int) -> int:
    """The platform fee on `amount` (PLATFORM_FEE_BPS basis points, rounded down to the won)."""
    return amount * current_app.config["PLATFORM_FEE_BPS"] // 10_000


def new_payment(
    *, producer_id: int, buyer_id: int | None, amount: int, provider: str, order=None, pledge=None
) -> Payment:
    """A pending payment for an amount the server computed, for an order or a pledge (added to
    the session; the caller commits it together with what it pays for)."""
    if provider != "credit" and provider not in current_app.config["PAYMENT_PROVIDERS"]:
        raise DomainError(_l("This way of paying is not available."), field="payment_method")
    payment = Payment(
        order=order,
        pledge=pledge,
        producer_id=producer_id,
        buyer_id=buyer_id,
        provider=provider,
        amount=amount,
        currency=current_app.config["CURRENCY"],
    )
    db.session.add(payment)
    return payment


def _ledger(payment: Payment, *, key: str, kind: str, amount: int, now: datetime, refund: Refund | None = None):
    db.session.add(
        LedgerEntry(
            key=key,
            producer_id=payment.producer_id,
            payment_id=payment.id,
            refund_id=refund.id if refund else None,
            kind=kind,
            amount=amount,
            currency=payment.currency,
            occurred_at=now,
        )
    )


def _succeed(payment: Payment, *, now: datetime, by=None) -> bool:
    """Move a payment to succeeded exactly once and write its ledger rows (caller commits).
    Returns False when it had already succeeded; refuses a canceled payment."""
    result = db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status.in_(("pending", "failed")))
        .values(status="succeeded", succeeded_at=now, marked_paid_by_id=by.id if by else None, failure_message="")
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(payment)
    if result.rowcount == 0:
        if payment.status == "succeeded":
            return False
        raise DomainError(_l("This payment was canceled, so it cannot be collected."))
    _ledger(payment, key=f"payment:{payment.id}", kind="payment", amount=payment.amount, now=now)
    fee = fee_for(payment.amount)
    if fee:
        _ledger(payment, key=f"fee:{payment.id}", kind="fee", amount=-fee, now=now)
    payment_succeeded.send(current_app._get_current_object(), payment=payment, now=now)
    return True


def record_success(payment: Payment, *, now: datetime, by=None) -> bool:
    """Record that the money arrived (a webhook, a reconciliation, a producer at pickup).
    Idempotent: a second call changes nothing and returns False."""
    changed = _succeed(payment, now=now, by=by)
    db.session.commit()
    return changed


def mark_paid_at_pickup(payment: Payment, *, by, now: datetime) -> bool:
    """The producer received cash or a transfer for a pay-at-pickup order."""
    if payment.provider != "pickup":
        raise DomainError(_l("Card payments are collected automatically."))
    if not _may_manage(payment, by):
        raise NotAllowed(_l("Only the producer can do this."))
    return record_success(payment, now=now, by=by)


def _may_manage(payment: Payment, user) -> bool:
    producer = db.session.get(Producer, payment.producer_id)
    return bool(user and (producer.is_owned_by(user) or getattr(user, "is_operator", False)))


def lock(payment: Payment) -> None:
    """Hold the payment's row until the caller commits, and read it as committed now: recording
    money for it, or deciding it will never be collected, waits (caller commits). An UPDATE that
    changes nothing, so it takes PostgreSQL's row lock and SQLite's write lock alike."""
    db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id)
        .values(status=Payment.status)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(payment)


def cancel_unpaid(payment: Payment, *, now: datetime) -> None:
    """Stop expecting an unpaid payment (the order was cancelled or expired). Caller commits.
    A card payment's intent is canceled at Stripe so the card is never charged later."""
    if payment.status not in ("pending", "failed"):
        return
    provider_for(payment).cancel(payment, now=now)
    db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status.in_(("pending", "failed")))
        .values(status="canceled", canceled_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(payment)


def refund(
    payment: Payment, *, amount: int, reason: str, by, now: datetime, automatic: bool = False, to_credit: bool = False
) -> Refund:
    """Give back `amount` of a succeeded payment, recorded with who and why. The total refunded
    never exceeds what was paid, even when two refunds race. `automatic` refunds (a cancelled
    sale) skip the permission check. `to_credit` gives the money back as the buyer's store
    credit whatever the payment was made with (an unused market coupon)."""
    if not automatic and not _may_manage(payment, by):
        raise NotAllowed(_l("Only the producer or an operator can refund."))
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_l("Say why you are refunding."), field="reason")
    if amount <= 0:
        raise DomainError(_l("Refund a positive amount."), field="amount")
    if amount > payment.amount:  # can never fit; also keeps numbers SQLite cannot store out of the query
        raise _refusal(payment)
    taken = db.session.execute(
        update(Payment)
        .where(
            Payment.id == payment.id,
            Payment.status == "succeeded",
            Payment.refunded_amount + amount <= Payment.amount,
        )
        .values(refunded_amount=Payment.refunded_amount + amount)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(payment)
    if taken.rowcount == 0:
        db.session.rollback()
        raise _refusal(payment)
    refunded_before = payment.refunded_amount - amount
    record = Refund(payment=payment, amount=amount, reason=reason[:300], by_id=by.id if by else None, created_at=now)
    db.session.add(record)
    db.session.flush()
    provider = PROVIDERS["credit"] if to_credit else provider_for(payment)
    if provider.remote:
        db.session.commit()  # the refund row exists before the provider is asked, so a crash can be reconciled
    provider.send_refund(record)
    _complete_refund(record, refunded_before=refunded_before, now=now)
    db.session.commit()
    return record


def _refusal(payment: Payment) -> DomainError:
    """Why a refund of `payment` does not fit: nothing was received, or less is left (as of now)."""
    db.session.refresh(payment)
    if payment.status != "succeeded":
        return DomainError(_l("This payment was not received, so there is nothing to refund."))
    return DomainError(
        _l("You can refund at most %(amount)s.", amount=format_money(payment.refundable, payment.currency)),
        field="amount",
    )


def _complete_refund(record: Refund, *, refunded_before: int, now: datetime) -> None:
    """Mark a refund done and write its ledger rows: the refund, and the share of the platform
    fee it gives back (so a full refund returns the whole fee, to the won)."""
    payment = record.payment
    record.status = "succeeded"
    _ledger(payment, key=f"refund:{record.id}", kind="refund", amount=-record.amount, now=now, refund=record)
    reversal = fee_for(refunded_before + record.amount) - fee_for(refunded_before)
    if reversal:
        _ledger(payment, key=f"fee_reversal:{record.id}", kind="fee_reversal", amount=reversal, now=now, refund=record)
    refund_completed.send(current_app._get_current_object(), refund=record, now=now)


def _fail_attempt(payment: Payment, *, message: str, now: datetime) -> bool:
    """A pending card payment failed (declined, not authenticated). The next attempt gets a new
    idempotency key: the provider would replay this failure for the old one. Sends `payment_failed`
    once; the caller commits."""
    changed = db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status == "pending")
        .values(status="failed", failure_message=message[:300], attempt=Payment.attempt + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(payment)
    if changed:
        payment_failed.send(current_app._get_current_object(), payment=payment, now=now)
    return bool(changed)


def _fail_refund(record: Refund) -> None:
    """The provider refused a refund: mark it failed and make its amount refundable again (caller
    commits)."""
    if db.session.execute(
        update(Refund).where(Refund.id == record.id, Refund.status == "pending").values(status="failed")
    ).rowcount:
        db.session.execute(
            update(Payment)
            .where(Payment.id == record.payment_id)
            .values(refunded_amount=Payment.refunded_amount - record.amount)
            .execution_options(synchronize_session=False)
        )
    db.session.refresh(record)
    db.session.refresh(record.payment)


def ledger_reward(payment_id: int, *, amount: int, key: str, now: datetime) -> None:
    """Recommendation rewards the producer pays (`amount` > 0) or gets back (< 0) for the purchase
    `payment_id` paid for (caller commits)."""
    payment = db.session.get(Payment, payment_id)
    kind = "reward" if amount > 0 else "reward_reversal"
    _ledger(payment, key=key, kind=kind, amount=-amount, now=now)


def refund_everything(payment: Payment, *, reason: str, now: datetime) -> Refund | None:
    """Automatic full refund of whatever is left (a cancelled sale or order)."""
    if payment.refundable <= 0:
        return None
    return refund(payment, amount=payment.refundable, reason=reason, by=None, now=now, automatic=True)


@dataclass
class PayoutReport:
    """A producer's money for a period, computed from the ledger:
    net = gross − refunds − fees − recommendation rewards."""

    producer: Producer
    start: datetime
    end: datetime
    gross: int = 0
    refunds: int = 0
    fees: int = 0
    rewards: int = 0
    entries: list[LedgerEntry] = field(default_factory=list)

    @property
    def net(self) -> int:
        return self.gross - self.refunds - self.fees - self.rewards


def _sum_columns():
    """gross, refunds, fees, rewards and the plain total of ledger rows (each summed as a column)."""
    kind, amount = LedgerEntry.kind, LedgerEntry.amount
    return (
        func.coalesce(func.sum(case((kind == "payment", amount), else_=0)), 0),
        func.coalesce(func.sum(case((kind == "refund", -amount), else_=0)), 0),
        func.coalesce(func.sum(case((kind.in_(("fee", "fee_reversal")), -amount), else_=0)), 0),
        func.coalesce(func.sum(case((kind.in_(("reward", "reward_reversal")), -amount), else_=0)), 0),
        func.coalesce(func.sum(amount), 0),
    )


def payout_report(producer: Producer, *, start: datetime, end: datetime) -> PayoutReport:
    """Gross, refunds, platform fee and net for [start, end), each straight from the ledger."""
    base = select(LedgerEntry).where(
        LedgerEntry.producer_id == producer.id, LedgerEntry.occurred_at >= start, LedgerEntry.occurred_at < end
    )
    gross, refunds, fees, rewards, total = db.session.execute(base.with_only_columns(*_sum_columns())).one()
    report = PayoutReport(
        producer=producer, start=start, end=end, gross=gross, refunds=refunds, fees=fees, rewards=rewards
    )
    if report.net != total:  # the three figures must account for every row of the ledger
        raise RuntimeError(f"payout report for producer {producer.id} does not add up: {report.net} != {total}")
    report.entries = list(db.session.scalars(base.order_by(LedgerEntry.occurred_at, LedgerEntry.id)))
    return report


def payout_totals(*, start: datetime, end: datetime) -> list[tuple[Producer, int, int, int, int, int]]:
    """For operators: (producer, gross, refunds, fees, rewards, net) of every producer with ledger rows."""
    rows = db.session.execute(
        select(LedgerEntry.producer_id, *_sum_columns())
        .where(LedgerEntry.occurred_at >= start, LedgerEntry.occurred_at < end)
        .group_by(LedgerEntry.producer_id)
    ).all()
    producers = {p.id: p for p in db.session.scalars(select(Producer).where(Producer.id.in_([r[0] for r in rows])))}
    return sorted(((producers[r[0]], *r[1:]) for r in rows), key=lambda row: row[0].farm_name)


LEDGER_KIND_LABELS = {
    "payment": _l("Payment"),
    "refund": _l("Refund"),
    "fee": _l("Platform fee"),
    "fee_reversal": _l("Fee returned"),
    "reward": _l("Recommendation rewards"),
    "reward_reversal": _l("Rewards taken back"),
}


def payout_csv(report: PayoutReport) -> str:
    """The report's ledger rows and totals as CSV (see farmstore.csvfile; amounts in the minor
    unit, signed). Each row names the order or pledge it belongs to and its buyer, found in two
    queries whatever the number of rows."""
    from farmstore.accounts.models import User  # accounts sits above payments

    payment_ids = {entry.payment_id for entry in report.entries}
    paid = {p.id: p for p in db.session.scalars(select(Payment).where(Payment.id.in_(payment_ids)))}
    buyer_ids = {p.buyer_id for p in paid.values() if p.buyer_id}
    names = dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(buyer_ids))).all())
    header = [
        _l("Time"), _l("Kind"), _l("Reference"), _l("Buyer"), _l("Payment"), _l("Refund"), _l("Amount"), _l("Currency")
    ]  # fmt: skip
    rows = []
    for entry in report.entries:
        payment = paid.get(entry.payment_id)
        if payment is not None and payment.order_id:
            reference = str(_l("Order #%(n)d", n=payment.order_id))
        elif payment is not None and payment.pledge_id:
            reference = str(_l("Pledge #%(n)d", n=payment.pledge_id))
        else:
            reference = ""
        buyer = names.get(payment.buyer_id, "") if payment is not None else ""
        kind = LEDGER_KIND_LABELS.get(entry.kind, entry.kind)
        when = local_time(entry.occurred_at)
        refund_id = entry.refund_id or ""
        rows.append([when, kind, reference, buyer, entry.payment_id, refund_id, entry.amount, entry.currency])
    rows.append([])
    for label, value in (
        (_l("Gross"), report.gross),
        (_l("Refunds"), report.refunds),
        (_l("Platform fees"), report.fees),
        (_l("Recommendation rewards"), report.rewards),
        (_l("Net"), report.net),
    ):
        rows.append([str(label), "", "", "", "", "", value, ""])
    return csv_text(header, rows)
