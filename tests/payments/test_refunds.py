"""Refunds of card payments through Stripe (localstripe): full and partial, never above what was
paid (localstripe would accept an over-refund, so our records must refuse it), and never twice
when our commit after Stripe's refund is lost."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event as sqla_event

from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.payments import stripe_flow
from farmstore.payments.services import payout_report, refund
from farmstore.tick import run_tick
from tests.factories import make_producer, make_user
from tests.payments.conftest import (
    STRIPE_CONFIG,
    card_order,
    deliver,
    event,
    ledger,
    localstripe_config,
    open_sale,
    pay_in_browser,
    payment_for,
)

pytestmark = STRIPE_CONFIG


@pytest.fixture
def paid(ctx, now, stripe_api):
    """A 24,000 won card order, paid and recorded; its producer; its intent's id."""
    producer = make_producer()
    order = card_order(open_sale(producer, now=now), make_user(), now=now)
    payment = payment_for(order.id)
    pay_in_browser(stripe_api, payment.stripe_payment_intent_id)
    stripe_flow.reconcile(payment, now=now)
    assert payment.status == "succeeded"
    return payment, producer, payment.stripe_payment_intent_id


def refunds_at_stripe(stripe_api, intent_id: str) -> list[tuple[int, str]]:
    """(amount, our refund id) of every refund localstripe made on the intent, oldest first."""
    refunds = stripe_api.v1.refunds.list({"payment_intent": intent_id}).data
    return sorted((r.amount, r.metadata["refund_id"]) for r in refunds)


def report(producer, now):
    """The producer's payout report for the days around `now`."""
    return payout_report(producer, start=now - timedelta(days=1), end=now + timedelta(days=1))


@contextmanager
def commit_lost(number: int):
    """The process dies at the `number`th commit from here on: that commit never happens."""
    session = db.session()
    commits = []

    def crash(_session):
        commits.append(1)
        if len(commits) == number:
            raise RuntimeError("the process died here")

    sqla_event.listen(session, "before_commit", crash)
    try:
        with pytest.raises(RuntimeError, match="the process died here"):
            yield
    finally:
        sqla_event.remove(session, "before_commit", crash)
        db.session.rollback()


def test_a_full_refund_goes_back_through_stripe_with_its_fee(paid, now, stripe_api):
    payment, producer, intent_id = paid

    record = refund(payment, amount=24_000, reason="Sale called off", by=producer.user, now=now)

    assert (record.status, record.stripe_refund_id is not None) == ("succeeded", True)
    assert refunds_at_stripe(stripe_api, intent_id) == [(24_000, str(record.id))]
    assert ledger(payment) == [("payment", 24_000), ("fee", -720), ("refund", -24_000), ("fee_reversal", 720)]
    figures = report(producer, now)
    assert (figures.gross, figures.refunds, figures.fees, figures.net) == (24_000, 24_000, 0, 0)


def test_partial_refunds_add_up_and_the_last_won_cannot_be_refunded_twice(paid, now, stripe_api):
    payment, producer, intent_id = paid

    first = refund(payment, amount=5_000, reason="Two bruised heads", by=producer.user, now=now)
    with pytest.raises(DomainError, match="at most"):
        refund(payment, amount=19_001, reason="Too much", by=producer.user, now=now)
    second = refund(payment, amount=19_000, reason="The rest", by=producer.user, now=now)
    with pytest.raises(DomainError):
        refund(payment, amount=1, reason="One more won", by=producer.user, now=now)

    assert refunds_at_stripe(stripe_api, intent_id) == sorted([(5_000, str(first.id)), (19_000, str(second.id))])
    assert payment_for(payment.order_id).refunded_amount == 24_000
    figures = report(producer, now)
    assert (figures.gross, figures.refunds, figures.fees, figures.net) == (24_000, 24_000, 0, 0)


def test_an_over_refund_is_refused_before_stripe_is_asked(client, auth, paid, stripe_api):
    payment, producer, intent_id = paid
    auth.login(producer.user.email)

    response = client.post(
        f"/orders/{payment.order_id}/refund", data={"amount": "30000", "reason": "Oops"}, follow_redirects=True
    )

    assert "You can refund at most ₩24,000." in response.text
    assert refunds_at_stripe(stripe_api, intent_id) == []
    assert (payment_for(payment.order_id).refunded_amount, ledger(payment)[2:]) == (0, [])


def test_a_refund_whose_commit_was_lost_is_finished_by_reconcile_without_a_second_refund(paid, now, stripe_api):
    payment, producer, intent_id = paid
    with commit_lost(2):  # the first commit saves the pending refund; the second would finish it
        refund(payment, amount=10_000, reason="Short weight", by=producer.user, now=now)
    payment = payment_for(payment.order_id)
    [record] = payment.refunds
    assert (record.status, record.stripe_refund_id, payment.refunded_amount) == ("pending", None, 10_000)
    assert refunds_at_stripe(stripe_api, intent_id) == [(10_000, str(record.id))]

    stripe_flow.reconcile(payment, now=now)
    stripe_flow.reconcile(payment, now=now + timedelta(hours=1))  # again: nothing more to do

    payment = payment_for(payment.order_id)
    [record] = payment.refunds
    [at_stripe] = stripe_api.v1.refunds.list({"payment_intent": intent_id}).data
    assert (record.status, record.stripe_refund_id) == ("succeeded", at_stripe.id)
    assert ledger(payment) == [("payment", 24_000), ("fee", -720), ("refund", -10_000), ("fee_reversal", 300)]
    figures = report(producer, now)
    assert (figures.gross, figures.refunds, figures.fees, figures.net) == (24_000, 10_000, 420, 13_580)


def test_the_charge_refunded_webhook_finishes_a_refund_whose_commit_was_lost(client, paid, now, stripe_api):
    payment, producer, intent_id = paid
    with commit_lost(2):
        refund(payment, amount=24_000, reason="Sale called off", by=producer.user, now=now)
    charge = stripe_api.v1.payment_intents.retrieve(intent_id).latest_charge
    refunded = event("charge.refunded", {"id": charge.id, "object": "charge", "payment_intent": intent_id})

    responses = [deliver(client, refunded) for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    payment = payment_for(payment.order_id)
    assert [r.status for r in payment.refunds] == ["succeeded"]
    assert len(refunds_at_stripe(stripe_api, intent_id)) == 1
    assert ledger(payment) == [("payment", 24_000), ("fee", -720), ("refund", -24_000), ("fee_reversal", 720)]


def test_a_refund_stripe_never_received_is_sent_once_by_the_tick(app, paid, now, stripe_api, localstripe):
    payment, producer, intent_id = paid
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # Stripe is unreachable for a moment
    with pytest.raises(DomainError, match="will be sent automatically"):
        refund(payment, amount=6_000, reason="Late delivery", by=producer.user, now=now)
    app.config["STRIPE_API_BASE"] = localstripe

    run_tick(now=now + timedelta(minutes=1))  # too soon: the refund may still be on its way
    assert refunds_at_stripe(stripe_api, intent_id) == []
    run_tick(now=now + timedelta(minutes=6))
    run_tick(now=now + timedelta(minutes=7))

    payment = payment_for(payment.order_id)
    [record] = payment.refunds
    assert record.status == "succeeded"
    assert refunds_at_stripe(stripe_api, intent_id) == [(6_000, str(record.id))]
    assert ledger(payment)[2:] == [("refund", -6_000), ("fee_reversal", 180)]


def test_a_refund_stripe_refuses_is_marked_failed_and_its_amount_freed(paid, now):
    payment, producer, _intent_id = paid
    localstripe_config("DELETE", "/_config/data")  # Stripe no longer knows the charge: it refuses

    with pytest.raises(DomainError, match="refused the refund"):
        refund(payment, amount=4_000, reason="Bruised", by=producer.user, now=now)

    payment = payment_for(payment.order_id)
    assert [r.status for r in payment.refunds] == ["failed"]
    assert (payment.refunded_amount, payment.refundable) == (0, 24_000)
    assert ledger(payment) == [("payment", 24_000), ("fee", -720)]
