"""Card orders paid through Stripe (localstripe): the server computes the amount, the money is
recorded once whether the webhook comes from Stripe, comes three times, or never comes, and a
declined card releases what the order held."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe

from farmstore.extensions import db
from farmstore.payments import stripe_flow
from farmstore.payments.services import payout_report
from farmstore.sales.models import SaleItem
from farmstore.sales.services import cancel_order, expire_reservations, orders_of
from farmstore.tick import run_tick
from tests.factories import make_producer, make_user
from tests.payments.conftest import (
    STRIPE_CONFIG,
    as_dict,
    card_order,
    deliver,
    event,
    fee,
    ledger,
    open_sale,
    outbox_to,
    pay_in_browser,
    payment_for,
    wait_for,
)

pytestmark = STRIPE_CONFIG


@pytest.fixture
def shop(ctx, now):
    """A producer's open sale of 12,000 won items and a buyer."""
    producer = make_producer()
    return open_sale(producer, now=now), make_user("buyer@example.com", locale="en")


def stock_taken(sale) -> int:
    """How many units of the sale's item orders hold now."""
    db.session.expire_all()
    return db.session.get(SaleItem, sale.items[0].id).quantity_taken


def test_a_card_order_gets_a_payment_intent_for_the_amount_the_server_computed(client, auth, shop, stripe_api):
    sale, buyer = shop
    auth.login(buyer.email)

    response = client.post(
        f"/sales/{sale.id}/order",
        data={
            f"qty-{sale.items[0].id}": "2", "payment_method": "stripe", "checkout_key": "tab-1",
            "amount": "1", "total": "1", "price": "1",  # whatever the client claims is ignored
        },
    )  # fmt: skip

    db.session.expire_all()
    [order] = orders_of(buyer)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/orders/{order.id}/pay"
    payment = payment_for(order.id)
    intent = stripe_api.v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
    assert (order.status, order.total, payment.status, payment.amount) == ("reserved", 24_000, "pending", 24_000)
    assert (intent.amount, intent.currency, intent.status) == (24_000, "krw", "requires_payment_method")
    assert intent.metadata["payment_id"] == str(payment.id)
    assert intent.metadata["order_id"] == str(order.id)


def test_the_webhook_localstripe_sends_confirms_the_order_and_writes_the_ledger_once(
    shop, now, stripe_api, stripe_webhooks
):
    sale, buyer = shop
    order = card_order(sale, buyer, now=now)
    payment = payment_for(order.id)

    intent = pay_in_browser(stripe_api, payment.stripe_payment_intent_id)

    assert intent.status == "succeeded"
    wait_for(lambda: payment_for(order.id).status == "succeeded")
    payment = payment_for(order.id)
    assert payment.order.status == "confirmed"
    assert ledger(payment) == [("payment", 24_000), ("fee", -fee(24_000))]
    report = payout_report(sale.producer, start=now - timedelta(days=1), end=now + timedelta(days=1))
    assert (report.gross, report.refunds, report.fees, report.net) == (24_000, 0, 720, 23_280)


def test_a_signed_succeeded_event_replayed_three_times_changes_the_ledger_once(client, shop, now, stripe_api):
    sale, buyer = shop
    order = card_order(sale, buyer, now=now)
    payment = payment_for(order.id)
    intent = pay_in_browser(stripe_api, payment.stripe_payment_intent_id)
    succeeded = event("payment_intent.succeeded", as_dict(intent))

    responses = [deliver(client, succeeded) for _ in range(4)]

    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    payment = payment_for(order.id)
    assert (payment.status, payment.order.status) == ("succeeded", "confirmed")
    assert ledger(payment) == [("payment", 24_000), ("fee", -720)]
    report = payout_report(sale.producer, start=now - timedelta(days=1), end=now + timedelta(days=1))
    assert (report.gross, report.fees, report.net) == (24_000, 720, 23_280)
    assert len(outbox_to("buyer@example.com")) == 1  # one confirmation email


def test_money_stripe_took_without_telling_us_is_found_by_the_tick(runner, shop, now, stripe_api):
    """The crash: Stripe charged the card, but the webhook never reached us."""
    sale, buyer = shop
    order = card_order(sale, buyer, now=now - timedelta(minutes=10))
    payment = payment_for(order.id)
    payment.created_at = order.created_at  # paid ten minutes ago, and still nothing heard
    db.session.commit()
    pay_in_browser(stripe_api, payment.stripe_payment_intent_id)
    assert payment_for(order.id).status == "pending"

    order_id = order.id

    result = runner.invoke(args=["farm", "tick"])

    assert result.exit_code == 0, result.output
    assert "'stripe_payments': 1" in result.output
    payment = payment_for(order_id)
    assert (payment.status, payment.order.status) == ("succeeded", "confirmed")
    assert ledger(payment) == [("payment", 24_000), ("fee", -720)]
    charges = stripe_api.v1.charges.list({"limit": 10}).data
    assert [c.amount for c in charges] == [24_000]  # one charge, never a second


def test_an_expiring_reservation_that_was_paid_is_confirmed_not_expired(shop, now, stripe_api):
    sale, buyer = shop
    order = card_order(sale, buyer, now=now)
    pay_in_browser(stripe_api, payment_for(order.id).stripe_payment_intent_id)

    expired = expire_reservations(now=now + timedelta(minutes=sale.reservation_minutes))

    assert expired == 0
    payment = payment_for(order.id)
    assert (payment.status, payment.order.status) == ("succeeded", "confirmed")
    assert stock_taken(sale) == 2


def test_an_unpaid_reservation_expires_and_its_intent_is_canceled_at_stripe(shop, now, stripe_api):
    sale, buyer = shop
    order = card_order(sale, buyer, now=now)
    intent_id = payment_for(order.id).stripe_payment_intent_id

    assert expire_reservations(now=now + timedelta(minutes=sale.reservation_minutes)) == 1

    payment = payment_for(order.id)
    assert (payment.status, payment.order.status) == ("canceled", "expired")
    assert stripe_api.v1.payment_intents.retrieve(intent_id).status == "canceled"
    assert stock_taken(sale) == 0


def test_a_declined_card_marks_the_payment_failed_and_releases_the_stock(shop, now, stripe_api, stripe_webhooks):
    sale, buyer = shop
    order = card_order(sale, buyer, now=now)
    assert stock_taken(sale) == 2

    with pytest.raises(stripe.CardError):
        pay_in_browser(stripe_api, payment_for(order.id).stripe_payment_intent_id, "pm_card_chargeCustomerFail")

    wait_for(lambda: payment_for(order.id).status == "failed")
    payment = payment_for(order.id)
    assert payment.failure_message == "Your card was declined."
    assert payment.order.status == "expired"
    assert stock_taken(sale) == 0
    assert ledger(payment) == []
    assert [m.subject for m in outbox_to("buyer@example.com")] == ["Your reservation expired: 토요일 한우"]


def test_a_decline_is_also_found_by_reconciling_when_the_webhook_is_lost(shop, now, stripe_api):
    sale, buyer = shop
    order = card_order(sale, buyer, now=now)
    payment = payment_for(order.id)
    with pytest.raises(stripe.CardError):
        pay_in_browser(stripe_api, payment.stripe_payment_intent_id, "pm_card_chargeCustomerFail")

    stripe_flow.reconcile(payment, now=now)

    payment = payment_for(order.id)
    assert (payment.status, payment.failure_message) == ("failed", "Your card was declined.")
    assert payment.order.status == "expired"
    assert stock_taken(sale) == 0


def test_money_arriving_for_an_order_cancelled_meanwhile_is_recorded_then_refunded(shop, now, stripe_api):
    """The buyer cancels in one tab while paying in another: the intent can no longer be
    canceled (it succeeded), so the money is recorded, and the tick gives it back."""
    sale, buyer = shop
    order = card_order(sale, buyer, now=now)
    intent_id = payment_for(order.id).stripe_payment_intent_id
    pay_in_browser(stripe_api, intent_id)

    cancel_order(order, by=buyer, now=now)
    payment = payment_for(order.id)
    assert (payment.status, payment.order.status) == ("succeeded", "cancelled")

    run_tick(now=now)

    payment = payment_for(order.id)
    assert (payment.refunded_amount, [r.status for r in payment.refunds]) == (24_000, ["succeeded"])
    refunds = stripe_api.v1.refunds.list({"payment_intent": intent_id}).data
    assert [r.amount for r in refunds] == [24_000]
    assert ledger(payment) == [("payment", 24_000), ("fee", -720), ("refund", -24_000), ("fee_reversal", 720)]
