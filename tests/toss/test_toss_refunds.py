"""Refunds of Toss payments, full and partial, through the same refund paths as any payment:
each goes to Toss's cancel API once (idempotency key `refund-<id>`), a refusal changes nothing,
and a refund whose answer was lost is finished by the tick without cancelling twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.payments.models import Refund
from farmstore.payments.services import refund
from farmstore.tick import run_tick
from tests.factories import make_producer, make_user
from tests.toss.conftest import TOSS_CONFIG, fee, ledger, open_sale, paid_toss_order, payment_for

pytestmark = TOSS_CONFIG


@pytest.fixture
def paid(ctx, now, toss):
    """A confirmed 24,000 won Toss order, its producer and its paymentKey."""
    producer = make_producer()
    sale = open_sale(producer, now=now)
    order, key = paid_toss_order(toss, sale, make_user("buyer@example.com", locale="en"), now=now)
    return order, producer, key


def test_a_partial_then_the_full_rest_is_cancelled_at_toss_and_written_once(paid, now, toss):
    order, producer, key = paid

    first = refund(payment_for(order.id), amount=5_000, reason="Two cuts missing", by=producer.user, now=now)
    rest = refund(payment_for(order.id), amount=19_000, reason="Spoiled", by=producer.user, now=now)

    payment = payment_for(order.id)
    at_toss = toss.payment(key)
    assert (first.status, rest.status, payment.refunded_amount) == ("succeeded", "succeeded", 24_000)
    assert [c["cancelAmount"] for c in at_toss["cancels"]] == [5_000, 19_000]
    assert [c["transactionKey"] for c in at_toss["cancels"]] == [first.toss_transaction_key, rest.toss_transaction_key]
    assert (at_toss["status"], at_toss["balanceAmount"]) == ("CANCELED", 0)
    assert ledger(payment) == [
        ("payment", 24_000), ("fee", -fee(24_000)),
        ("refund", -5_000), ("fee_reversal", fee(5_000)),
        ("refund", -19_000), ("fee_reversal", fee(24_000) - fee(5_000)),
    ]  # fmt: skip
    with pytest.raises(DomainError, match=r"nothing to refund|at most"):
        refund(payment_for(order.id), amount=1, reason="again", by=producer.user, now=now)
    assert toss.count("POST", r"/v1/payments/[^/]+/cancel") == 2


def test_the_producer_refunds_from_the_order_page(client, auth, paid, toss):
    order, producer, key = paid
    auth.login(producer.user.email)

    response = client.post(f"/orders/{order.id}/refund", data={"amount": "3000", "reason": "Late delivery"})

    assert response.status_code == 302
    assert toss.payment(key)["balanceAmount"] == 21_000
    assert payment_for(order.id).refunded_amount == 3_000


def test_a_cancel_toss_refuses_changes_nothing_here(paid, now, toss):
    """Someone refunded at Toss's dashboard already: Toss refuses the cancel, the refund is marked
    failed, its amount is refundable again and the ledger has no refund row."""
    order, producer, key = paid
    toss.payments[key].balance = 1_000  # the dashboard gave back 23,000

    with pytest.raises(DomainError, match="refused the refund: 취소 할 수 없는 금액"):
        refund(payment_for(order.id), amount=5_000, reason="Two cuts missing", by=producer.user, now=now)

    payment = payment_for(order.id)
    assert payment.refunded_amount == 0
    assert db.session.scalar(db.select(Refund.status)) == "failed"
    assert [kind for kind, _amount in ledger(payment)] == ["payment", "fee"]


def test_a_refund_whose_answer_was_lost_is_finished_by_the_tick_without_cancelling_twice(paid, now, toss):
    order, producer, key = paid
    toss.drop_after.add(f"/v1/payments/{key}/cancel")

    with pytest.raises(DomainError, match="The refund is saved and will be sent automatically"):
        refund(payment_for(order.id), amount=5_000, reason="Two cuts missing", by=producer.user, now=now)
    toss.drop_after.clear()

    assert toss.payment(key)["balanceAmount"] == 19_000  # Toss did it; we never heard
    assert db.session.scalar(db.select(Refund.status)) == "pending"
    run_tick(now=now + timedelta(minutes=1))
    assert db.session.scalar(db.select(Refund.status)) == "pending"  # too early to send again
    run_tick(now=now + timedelta(minutes=6))

    payment = payment_for(order.id)
    record = db.session.scalar(db.select(Refund))
    assert (record.status, payment.refunded_amount) == ("succeeded", 5_000)
    assert record.toss_transaction_key == toss.payment(key)["cancels"][0]["transactionKey"]
    assert len(toss.payment(key)["cancels"]) == 1  # the same Idempotency-Key replayed the first cancel
    assert ledger(payment)[2:] == [("refund", -5_000), ("fee_reversal", fee(5_000))]
