"""The Stripe webhook: only events Stripe signed, recently, are acted on; each exactly once; the
types we do not need are acknowledged and ignored; and the events localstripe never sends
(payment_intent.canceled, charge.refunded) are signed here with Stripe's own library."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.payments import stripe_flow
from farmstore.payments.models import LedgerEntry, WebhookEvent
from farmstore.payments.services import record_success
from farmstore.sales.models import SaleItem
from farmstore.sales.services import cancel_order
from farmstore.timeutil import utcnow
from tests.factories import make_producer, make_user
from tests.payments.conftest import (
    STRIPE_CONFIG,
    STRIPE_SETTINGS,
    as_dict,
    card_order,
    deliver,
    event,
    ledger,
    open_sale,
    outbox_to,
    pay_in_browser,
    payment_for,
    signed,
)

pytestmark = STRIPE_CONFIG


@pytest.fixture
def paid_at_stripe(ctx, now, stripe_api):
    """A card order whose card Stripe charged, and the payment_intent.succeeded event for it
    that has not reached us yet."""
    sale = open_sale(make_producer(), now=now)
    order = card_order(sale, make_user("buyer@example.com", locale="en"), now=now)
    intent = pay_in_browser(stripe_api, payment_for(order.id).stripe_payment_intent_id)
    return order, event("payment_intent.succeeded", as_dict(intent))


def nothing_recorded(order) -> bool:
    """The payment is still pending, no event was stored and the ledger is empty."""
    payment = payment_for(order.id)
    events = db.session.scalar(select(func.count()).select_from(WebhookEvent))
    entries = db.session.scalar(select(func.count()).select_from(LedgerEntry))
    return (payment.status, payment.order.status, events, entries) == ("pending", "reserved", 0, 0)


def test_a_signed_event_is_acted_on(client, paid_at_stripe):
    order, succeeded = paid_at_stripe

    response = deliver(client, succeeded)

    assert (response.status_code, response.json) == (200, {"received": True})
    payment = payment_for(order.id)
    assert (payment.status, payment.order.status) == ("succeeded", "confirmed")
    assert db.session.get(WebhookEvent, succeeded["id"]).type == "payment_intent.succeeded"


def test_a_tampered_body_is_refused_and_changes_nothing(client, paid_at_stripe):
    order, succeeded = paid_at_stripe
    payload = json.dumps(succeeded)
    headers = signed(payload)
    forged = payload.replace('"amount": 24000', '"amount": 24001')
    assert forged != payload

    response = client.post("/stripe/webhook", data=forged, headers=headers)

    assert response.status_code == 400
    assert nothing_recorded(order)


@pytest.mark.parametrize(
    "signing",
    [
        {"secret": "whsec_someone_else"},
        {"timestamp": int(time.time()) - 600},  # ten minutes old: a replay of a captured request
    ],
    ids=["wrong secret", "stale timestamp"],
)
def test_a_wrong_signature_or_a_stale_one_is_refused_and_changes_nothing(client, paid_at_stripe, signing):
    order, succeeded = paid_at_stripe

    response = deliver(client, succeeded, **signing)

    assert response.status_code == 400
    assert nothing_recorded(order)


def test_an_unsigned_event_is_refused(client, paid_at_stripe):
    order, succeeded = paid_at_stripe

    response = client.post("/stripe/webhook", json=succeeded)

    assert response.status_code == 400
    assert nothing_recorded(order)


@pytest.mark.app_config(**STRIPE_SETTINGS, WTF_CSRF_ENABLED=True)
def test_stripe_needs_no_csrf_token(client, paid_at_stripe):
    order, succeeded = paid_at_stripe

    assert deliver(client, succeeded).status_code == 200
    assert payment_for(order.id).status == "succeeded"


def test_an_event_type_we_do_not_need_is_acknowledged_and_ignored(client, paid_at_stripe):
    order, _succeeded = paid_at_stripe

    response = deliver(client, event("customer.created", {"id": "cus_123", "object": "customer"}))

    assert response.status_code == 200
    assert nothing_recorded(order)


def test_an_event_about_an_intent_that_is_not_ours_changes_nothing(client, paid_at_stripe):
    order, succeeded = paid_at_stripe
    stranger = {**succeeded["data"]["object"], "id": "pi_not_ours", "metadata": {}}

    response = deliver(client, event("payment_intent.succeeded", stranger))

    assert response.status_code == 200
    payment = payment_for(order.id)
    assert (payment.status, ledger(payment)) == ("pending", [])


def test_a_succeeded_event_for_another_amount_is_not_recorded(client, paid_at_stripe):
    order, succeeded = paid_at_stripe
    cheaper = {**succeeded["data"]["object"], "amount": 100}

    assert deliver(client, event("payment_intent.succeeded", cheaper)).status_code == 200

    payment = payment_for(order.id)
    assert (payment.status, ledger(payment)) == ("pending", [])


def test_the_intent_id_is_found_from_its_metadata_when_our_commit_of_it_was_lost(client, paid_at_stripe):
    order, succeeded = paid_at_stripe
    payment = payment_for(order.id)
    payment.stripe_payment_intent_id = None  # Stripe made the intent; we never stored its id
    db.session.commit()

    assert deliver(client, succeeded).status_code == 200

    payment = payment_for(order.id)
    assert (payment.status, payment.stripe_payment_intent_id) == ("succeeded", succeeded["data"]["object"]["id"])
    assert ledger(payment) == [("payment", 24_000), ("fee", -720)]


def test_an_intent_canceled_at_stripe_releases_the_order_once(client, ctx, now, stripe_api):
    sale = open_sale(make_producer(), now=now)
    order = card_order(sale, make_user("buyer@example.com", locale="en"), now=now)
    intent = stripe_api.v1.payment_intents.cancel(payment_for(order.id).stripe_payment_intent_id)
    canceled = event("payment_intent.canceled", as_dict(intent))

    responses = [deliver(client, canceled) for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    payment = payment_for(order.id)
    assert (payment.status, payment.order.status) == ("canceled", "expired")
    assert db.session.get(SaleItem, sale.items[0].id).quantity_taken == 0
    assert len(outbox_to("buyer@example.com")) == 1


def test_money_is_never_recorded_after_a_cancel(client, ctx, now, stripe_api):
    """localstripe would still capture a canceled intent; our records refuse the money."""
    sale = open_sale(make_producer(), now=now)
    buyer = make_user(locale="en")
    order = card_order(sale, buyer, now=now)
    intent_id = payment_for(order.id).stripe_payment_intent_id
    cancel_order(order, by=buyer, now=now)
    payment = payment_for(order.id)
    assert payment.status == "canceled"
    assert stripe_api.v1.payment_intents.retrieve(intent_id).status == "canceled"
    captured = {**as_dict(stripe_api.v1.payment_intents.retrieve(intent_id)), "status": "succeeded"}

    response = deliver(client, event("payment_intent.succeeded", captured))

    assert response.status_code == 200  # acknowledged, so Stripe does not retry it for days
    payment = payment_for(order.id)
    assert (payment.status, payment.order.status, ledger(payment)) == ("canceled", "cancelled", [])
    with pytest.raises(DomainError, match="canceled, so it cannot be collected"):
        record_success(payment, now=now)
    stripe_flow.reconcile(payment, now=now + timedelta(minutes=10))
    assert ledger(payment_for(order.id)) == []


def test_the_same_event_delivered_twice_at_once_is_acted_on_once(app, paid_at_stripe):
    order, succeeded = paid_at_stripe
    start = threading.Barrier(2)
    outcomes = []

    def deliver_in_parallel() -> None:
        with app.app_context():
            start.wait()
            outcomes.append(stripe_flow.handle_event(succeeded, now=utcnow()))

    threads = [threading.Thread(target=deliver_in_parallel) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == [False, True]  # one acted; the other found it already processed
    payment = payment_for(order.id)
    assert (payment.status, ledger(payment)) == ("succeeded", [("payment", 24_000), ("fee", -720)])
