"""Refunds: in full or in part, by the producer or an operator, with who and why; never more
than was received, even when refunds race; the platform fee given back in proportion, so a full
refund leaves the payment's ledger at exactly zero."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from farmstore.accounts.models import User
from farmstore.errors import DomainError, NotAllowed
from farmstore.extensions import db
from farmstore.payments.models import Payment, Refund
from farmstore.payments.services import cancel_unpaid, mark_paid_at_pickup, refund, refund_everything
from farmstore.sales.services import cancel_sale, payment_of
from tests.factories import make_producer, make_user
from tests.ledger.conftest import (
    NOW,
    fee,
    ledger_rows,
    ledger_sum,
    open_sale,
    paid_payment,
    pickup_order,
    pickup_payment,
    race,
    row_counts,
)

LATER = NOW + timedelta(days=1)


def test_a_full_refund_by_the_producer_returns_the_fee_and_nets_to_zero(ctx):
    producer = make_producer()
    payment = paid_payment(producer, 10_000)

    record = refund(payment, amount=10_000, reason="  Cabbage froze in transit  ", by=producer.user, now=LATER)

    assert (record.amount, record.reason, record.by_id, record.status) == (
        10_000,
        "Cabbage froze in transit",
        producer.user_id,
        "succeeded",
    )
    assert (payment.refunded_amount, payment.refundable) == (10_000, 0)
    assert [(row.kind, row.amount, row.refund_id) for row in ledger_rows(payment_id=payment.id)] == [
        ("payment", 10_000, None),
        ("fee", -300, None),
        ("refund", -10_000, record.id),
        ("fee_reversal", 300, record.id),
    ]
    assert ledger_sum("fee", "fee_reversal", payment_id=payment.id) == 0
    assert ledger_sum(payment_id=payment.id) == 0


def test_a_partial_refund_by_an_operator_is_recorded_with_who_and_why(ctx):
    producer, operator = make_producer(), make_user(is_operator=True)
    payment = paid_payment(producer, 10_000)

    record = refund(payment, amount=2_500, reason="One jar was cracked", by=operator, now=LATER)

    db.session.refresh(payment)
    assert [(r.amount, r.reason, r.by_id, r.created_at) for r in payment.refunds] == [
        (2_500, "One jar was cracked", operator.id, LATER)
    ]
    assert (payment.refunded_amount, payment.refundable) == (2_500, 7_500)
    assert [(row.kind, row.amount) for row in ledger_rows(refund_id=record.id)] == [
        ("refund", -2_500),
        ("fee_reversal", fee(2_500)),
    ]
    assert ledger_sum(payment_id=payment.id) == 7_500 - (fee(10_000) - fee(2_500))


def test_a_refund_above_what_is_left_is_refused_and_writes_nothing(ctx):
    producer = make_producer()
    payment = paid_payment(producer, 10_000)
    refund(payment, amount=6_000, reason="Short weight", by=producer.user, now=LATER)
    before = row_counts()

    with pytest.raises(DomainError, match=r"You can refund at most ₩4,000\.") as raised:
        refund(payment, amount=4_001, reason="Everything else too", by=producer.user, now=LATER)

    assert raised.value.field == "amount"
    assert row_counts() == before
    db.session.refresh(payment)
    assert payment.refunded_amount == 6_000


@pytest.mark.parametrize("state", ["pending", "canceled"])
def test_a_payment_never_received_cannot_be_refunded(ctx, state):
    producer = make_producer()
    payment = pickup_payment(producer, 10_000)
    if state == "canceled":
        cancel_unpaid(payment, now=NOW)
        db.session.commit()

    with pytest.raises(DomainError, match=r"This payment was not received, so there is nothing to refund\."):
        refund(payment, amount=1_000, reason="Changed my mind", by=producer.user, now=LATER)

    assert row_counts() == (0, 0)
    db.session.refresh(payment)
    assert (payment.status, payment.refunded_amount) == (state, 0)


@pytest.mark.parametrize(
    ("amount", "reason", "message", "field"),
    [
        (0, "Broken jar", "Refund a positive amount.", "amount"),
        (-500, "Broken jar", "Refund a positive amount.", "amount"),
        (500, "   ", "Say why you are refunding.", "reason"),
    ],
)
def test_a_refund_needs_a_positive_amount_and_a_reason(ctx, amount, reason, message, field):
    producer = make_producer()
    payment = paid_payment(producer, 10_000)

    with pytest.raises(DomainError, match=re.escape(message)) as raised:
        refund(payment, amount=amount, reason=reason, by=producer.user, now=LATER)

    assert raised.value.field == field
    assert row_counts() == (0, 2)


@pytest.mark.parametrize("who", ["buyer", "other producer", "nobody"])
def test_only_the_producer_or_an_operator_refunds(ctx, who):
    producer, buyer = make_producer(), make_user()
    payment = paid_payment(producer, 10_000, buyer=buyer)
    user = {"buyer": buyer, "other producer": make_producer().user, "nobody": None}[who]

    with pytest.raises(NotAllowed, match=r"Only the producer or an operator can refund\."):
        refund(payment, amount=1_000, reason="Please", by=user, now=LATER)

    assert row_counts() == (0, 2)


def test_refund_everything_gives_back_what_is_left_once(ctx):
    producer = make_producer()
    payment = paid_payment(producer, 10_000)
    refund(payment, amount=3_333, reason="Partly spoiled", by=producer.user, now=LATER)

    record = refund_everything(payment, reason="Sale cancelled", now=LATER)

    assert (record.amount, record.by_id, record.reason) == (6_667, None, "Sale cancelled")
    assert refund_everything(payment, reason="Sale cancelled", now=LATER) is None
    assert payment.refunded_amount == 10_000
    assert ledger_sum("fee", "fee_reversal", payment_id=payment.id) == 0
    assert ledger_sum(payment_id=payment.id) == 0


def test_cancelling_a_sale_refunds_a_transfer_received_in_advance(ctx):
    producer, paid_buyer, unpaid_buyer = make_producer(), make_user(), make_user()
    sale = open_sale(producer, price=12_000)
    paid_order, unpaid_order = pickup_order(sale, paid_buyer, 2), pickup_order(sale, unpaid_buyer, 1)
    mark_paid_at_pickup(payment_of(paid_order), by=producer.user, now=NOW)

    cancel_sale(sale, by=producer.user, reason="Hail destroyed the field", now=LATER)

    paid, unpaid = payment_of(paid_order), payment_of(unpaid_order)
    assert (paid.status, paid.refunded_amount, unpaid.status) == ("succeeded", 24_000, "canceled")
    assert [(r.amount, r.by_id, r.reason) for r in paid.refunds] == [(24_000, None, "Sale cancelled by the producer")]
    assert ledger_rows(payment_id=unpaid.id) == []
    assert ledger_sum(producer_id=producer.id) == 0


def test_ten_refunds_of_forty_percent_racing_leave_exactly_two(app, ctx):
    producer = make_producer()
    payment_id, user_id = paid_payment(producer, 10_000).id, producer.user_id

    def refund_forty_percent(i: int) -> int:
        payment, user = db.session.get(Payment, payment_id), db.session.get(User, user_id)
        return refund(payment, amount=4_000, reason=f"Attempt {i}", by=user, now=LATER).id

    outcomes = race(app, refund_forty_percent, threads=10)

    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(refused) == 8, outcomes
    assert {str(error.message) for error in refused} == {"You can refund at most ₩2,000."}
    done = [o for o in outcomes if isinstance(o, int)]
    assert len(done) == 2, outcomes
    db.session.expire_all()
    payment = db.session.get(Payment, payment_id)
    assert payment.refunded_amount == 8_000
    assert sorted(r.id for r in payment.refunds) == sorted(done)
    assert ledger_sum("refund", payment_id=payment_id) == -8_000
    assert ledger_sum("fee", "fee_reversal", payment_id=payment_id) == -(fee(10_000) - fee(8_000))


def test_racing_refunds_of_odd_amounts_never_exceed_the_payment_and_return_the_fee_exactly(app, ctx):
    producer = make_producer()
    payment_id, user_id = paid_payment(producer, 9_999).id, producer.user_id
    amounts = [1_234, 3_001, 2_718, 999, 4_321, 7, 1_777, 2_500]

    def refund_some(i: int) -> int:
        payment, user = db.session.get(Payment, payment_id), db.session.get(User, user_id)
        return refund(payment, amount=amounts[i], reason="Racing", by=user, now=LATER).amount

    outcomes = race(app, refund_some, threads=len(amounts))

    assert all(isinstance(o, int | DomainError) for o in outcomes), outcomes
    refunded = sum(o for o in outcomes if isinstance(o, int))
    assert 0 < refunded <= 9_999
    refused = [amounts[i] for i, o in enumerate(outcomes) if isinstance(o, DomainError)]
    assert refused, "the amounts add up to more than was paid, so some must be refused"
    assert all(amount > 9_999 - refunded for amount in refused)  # each refusal was because too little was left
    db.session.expire_all()
    assert db.session.get(Payment, payment_id).refunded_amount == refunded
    assert ledger_sum("refund", payment_id=payment_id) == -refunded
    assert ledger_sum("fee", "fee_reversal", payment_id=payment_id) == -(fee(9_999) - fee(refunded))


@pytest.mark.parametrize("seed", range(12))
def test_many_partial_refunds_of_odd_amounts_add_up_to_the_won(ctx, seed):
    rng = random.Random(seed)
    amount = 9_999 if seed == 0 else rng.randint(7, 250_000)
    chunks = rng.randint(2, 7) if seed else 7
    cuts = sorted(rng.sample(range(1, amount), chunks - 1))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, amount], strict=True)]
    producer = make_producer()
    payment = paid_payment(producer, amount)

    for n, part in enumerate(parts, start=1):
        refund(payment, amount=part, reason=f"Part {n}", by=producer.user, now=LATER)
        refunded = sum(parts[:n])
        assert payment.refunded_amount == refunded
        assert ledger_sum("fee", "fee_reversal", payment_id=payment.id) == -(fee(amount) - fee(refunded))
        assert ledger_sum(payment_id=payment.id) == (amount - refunded) - (fee(amount) - fee(refunded))

    assert sum(parts) == amount
    assert all(row.amount >= 0 for row in ledger_rows(payment_id=payment.id, kind="fee_reversal"))
    assert ledger_sum("refund", payment_id=payment.id) == -amount
    assert ledger_sum("fee", "fee_reversal", payment_id=payment.id) == 0
    assert ledger_sum(payment_id=payment.id) == 0
    with pytest.raises(DomainError, match=r"You can refund at most ₩0\."):
        refund(payment, amount=1, reason="One more", by=producer.user, now=LATER)
    assert len(db.session.scalars(select(Refund).where(Refund.payment_id == payment.id)).all()) == len(parts)
