"""Toss's PAYMENT_STATUS_CHANGED webhooks: Toss does not sign them, so each is checked by fetching
the payment again from Toss's API; a replay changes nothing and other events are ignored."""

from __future__ import annotations

import pytest

from farmstore.extensions import db
from farmstore.payments import toss_flow
from farmstore.payments.models import WebhookEvent
from tests.factories import make_producer, make_user
from tests.toss.conftest import (
    TOSS_CONFIG,
    fee,
    ledger,
    open_sale,
    pay_in_widget,
    payment_for,
    status_changed,
    toss_order,
)

pytestmark = TOSS_CONFIG


@pytest.fixture
def authenticated(ctx, now, toss):
    """A Toss order the buyer authenticated in the widget: (order, paymentKey)."""
    sale = open_sale(make_producer(), now=now)
    order = toss_order(sale, make_user("buyer@example.com", locale="en"), now=now)
    return order, pay_in_widget(toss, payment_for(order.id))


def test_a_webhook_records_money_toss_took_and_a_replay_changes_nothing(client, authenticated, toss):
    order, key = authenticated
    toss.approve(key)  # confirmed, but our confirm's answer was lost

    responses = [client.post("/payments/toss/webhook", json=status_changed(key, status="DONE")) for _ in range(3)]

    payment = payment_for(order.id)
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert (payment.status, payment.order.status, payment.toss_payment_key) == ("succeeded", "confirmed", key)
    assert ledger(payment) == [("payment", 24_000), ("fee", -fee(24_000))]
    assert db.session.scalar(db.select(db.func.count(WebhookEvent.id))) == 1


def test_a_forged_webhook_claiming_payment_is_checked_with_toss_and_ignored(client, authenticated, toss):
    order, key = authenticated  # authenticated, never confirmed: no money taken

    response = client.post("/payments/toss/webhook", json=status_changed(key, status="DONE", totalAmount=24_000))

    assert response.status_code == 200
    assert payment_for(order.id).status == "pending"
    assert toss.count("GET", f"/v1/payments/{key}") == 1


def test_unknown_payments_bodies_and_events(client, authenticated, toss):
    order, _key = authenticated

    assert client.post("/payments/toss/webhook", json=status_changed("tgen_made_up")).status_code == 400
    assert client.post("/payments/toss/webhook", data="not json", content_type="application/json").status_code == 400
    other = {"eventType": "DEPOSIT_CALLBACK", "data": {"orderId": toss_flow.order_id(payment_for(order.id))}}
    assert client.post("/payments/toss/webhook", json=other).status_code == 200
    assert payment_for(order.id).status == "pending"


def test_toss_unreachable_asks_toss_to_deliver_again(client, authenticated, toss):
    order, key = authenticated
    toss.approve(key)
    toss.fail_next(503)

    assert client.post("/payments/toss/webhook", json=status_changed(key)).status_code == 503
    assert payment_for(order.id).status == "pending"
    assert client.post("/payments/toss/webhook", json=status_changed(key)).status_code == 200
    assert payment_for(order.id).status == "succeeded"
