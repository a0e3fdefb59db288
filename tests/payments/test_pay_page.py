"""The card payment page: only the buyer sees it; it carries the intent's client secret for
Stripe.js, which only this page may load; it never asks to be paid twice; and it survives
Stripe being unreachable."""

from __future__ import annotations

import re
from html import unescape

import pytest

from farmstore.extensions import db
from farmstore.sales.services import place_order
from tests.factories import make_producer, make_user
from tests.payments.conftest import STRIPE_CONFIG, card_order, open_sale, pay_in_browser, payment_for

pytestmark = STRIPE_CONFIG


@pytest.fixture
def reserved(ctx, now):
    """A buyer's reserved 24,000 won card order, and the producer who sells it."""
    producer, buyer = make_producer(), make_user()
    return card_order(open_sale(producer, now=now), buyer, now=now), buyer, producer


def test_the_buyer_gets_the_payment_element_for_this_orders_intent(client, auth, reserved, stripe_api):
    order, buyer, _producer = reserved
    auth.login(buyer.email)
    intent = stripe_api.v1.payment_intents.retrieve(payment_for(order.id).stripe_payment_intent_id)

    response = client.get(f"/orders/{order.id}/pay")

    assert response.status_code == 200
    page = unescape(response.text)
    assert f'data-client-secret="{intent.client_secret}"' in page
    assert 'data-publishable-key="pk_test_farmstore"' in page
    assert f'data-return-url="http://farmstore.test/orders/{order.id}"' in page
    assert "Pay ₩24,000" in page
    assert f'datetime="{order.reserved_until.isoformat()}"' in page  # the countdown
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert [attributes for attributes, body in scripts if body.strip() or "src=" not in attributes] == []
    sources = [re.search(r'src="([^"]+)"', attributes)[1] for attributes, _body in scripts]
    assert sources == [
        "/static/js/limits.js",
        "https://js.stripe.com/v3/",
        "/static/js/countdown.js",
        "/static/js/pay.js",
    ]
    assert response.headers["Cache-Control"] == "no-store"


def test_only_the_pay_page_lets_stripe_in(client, auth, reserved):
    order, buyer, _producer = reserved
    auth.login(buyer.email)

    pay_page = client.get(f"/orders/{order.id}/pay").headers["Content-Security-Policy"]
    order_page = client.get(f"/orders/{order.id}").headers["Content-Security-Policy"]

    assert "script-src 'self' https://js.stripe.com" in pay_page
    assert "frame-src https://js.stripe.com" in pay_page
    assert "connect-src 'self' https://api.stripe.com" in pay_page
    assert "frame-ancestors 'none'" in pay_page
    assert "stripe" not in order_page


@pytest.mark.parametrize("who", ["another buyer", "the producer"])
def test_nobody_else_sees_the_pay_page(client, auth, reserved, who):
    order, _buyer, producer = reserved
    auth.login(make_user().email if who == "another buyer" else producer.user.email)

    assert client.get(f"/orders/{order.id}/pay").status_code == 404
    assert client.get("/orders/999999/pay").status_code == 404


def test_a_paid_order_is_confirmed_by_the_pay_page_without_waiting_for_the_webhook(client, auth, reserved, stripe_api):
    order, buyer, _producer = reserved
    auth.login(buyer.email)
    pay_in_browser(stripe_api, payment_for(order.id).stripe_payment_intent_id)

    response = client.get(f"/orders/{order.id}/pay")

    assert (response.status_code, response.headers["Location"]) == (302, f"/orders/{order.id}")
    payment = payment_for(order.id)
    assert (payment.status, payment.order.status) == ("succeeded", "confirmed")


def test_a_pay_at_pickup_order_has_nothing_to_pay_online(client, auth, ctx, now):
    sale, buyer = open_sale(make_producer(), now=now), make_user()
    order = place_order(
        sale=sale, buyer=buyer, quantities={sale.items[0].id: 1}, payment_method="pickup", checkout_key="cash",
        now=now,
    )  # fmt: skip
    auth.login(buyer.email)

    response = client.get(f"/orders/{order.id}/pay")

    assert (response.status_code, response.headers["Location"]) == (302, f"/orders/{order.id}")


def test_when_stripe_is_unreachable_the_order_stands_and_the_pay_page_tries_again(
    app, client, auth, ctx, now, localstripe, stripe_api
):
    sale, buyer = open_sale(make_producer(), now=now), make_user()
    auth.login(buyer.email)
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"

    response = client.post(
        f"/sales/{sale.id}/order",
        data={f"qty-{sale.items[0].id}": "1", "payment_method": "stripe", "checkout_key": "tab-1"},
        follow_redirects=True,
    )

    assert response.status_code == 200
    assert "We could not reach the card payment service. Please try again in a minute." in unescape(response.text)
    assert "payment-element" not in response.text
    order_id = int(re.search(r"/orders/(\d+)", response.request.path)[1])
    assert payment_for(order_id).stripe_payment_intent_id is None

    app.config["STRIPE_API_BASE"] = localstripe
    response = client.get(f"/orders/{order_id}/pay")

    assert 'id="payment-element"' in response.text
    db.session.expire_all()
    intent = stripe_api.v1.payment_intents.retrieve(payment_for(order_id).stripe_payment_intent_id)
    assert (intent.amount, intent.metadata["order_id"]) == (12_000, str(order_id))
