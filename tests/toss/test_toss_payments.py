"""Sale orders paid through Toss Payments, against the fake Toss on loopback: the widget's
success redirect is confirmed by our server for the amount our database holds, the fail page
says what happened, and a buyer who never came back is caught up by the tick."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask_babel import force_locale

from farmstore.extensions import db
from farmstore.payments import toss_flow
from farmstore.sales.models import SaleItem
from farmstore.sales.services import cancel_order, expire_reservations, orders_of
from farmstore.tick import run_tick
from tests.factories import make_producer, make_user
from tests.toss.conftest import (
    TOSS_CONFIG,
    fee,
    ledger,
    open_sale,
    outbox_to,
    pay_in_widget,
    payment_for,
    success_url,
    toss_order,
)

pytestmark = TOSS_CONFIG


@pytest.fixture
def shop(ctx, now):
    """A producer's open sale of 12,000 won items and a buyer."""
    return open_sale(make_producer(), now=now), make_user("buyer@example.com", locale="en")


def stock_taken(sale) -> int:
    db.session.expire_all()
    return db.session.get(SaleItem, sale.items[0].id).quantity_taken


def test_a_toss_order_is_reserved_and_the_pay_page_hands_the_widget_our_amount(client, auth, shop, toss):
    sale, buyer = shop
    auth.login(buyer.email)

    response = client.post(
        f"/sales/{sale.id}/order",
        data={f"qty-{sale.items[0].id}": "2", "payment_method": "toss", "checkout_key": "tab-1", "amount": "1"},
    )
    [order] = orders_of(buyer)
    page = client.get(f"/orders/{order.id}/pay")

    payment = payment_for(order.id)
    assert response.headers["Location"] == f"/orders/{order.id}/pay"
    assert (order.status, payment.provider, payment.amount) == ("reserved", "toss", 24_000)
    html = page.get_data(as_text=True)
    assert 'data-amount="24000"' in html
    assert f'data-order-id="{toss_flow.order_id(payment)}"' in html
    assert 'data-client-key="test_ck_farmstore_fake"' in html
    assert "https://js.tosspayments.com/v2/standard" in html
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self' https://js.tosspayments.com" in csp
    assert "frame-src https://*.tosspayments.com" in csp
    assert page.headers["Cache-Control"] == "no-store"
    assert "tosspayments" not in client.get(f"/orders/{order.id}").headers.get("Content-Security-Policy", "")
    assert toss.count("POST", "/v1/payments/confirm") == 0  # nothing charged by placing the order


def test_the_toss_choice_is_offered_only_when_toss_is_the_provider(client, auth, shop, app):
    sale, buyer = shop
    auth.login(buyer.email)
    assert 'value="toss"' in client.get(f"/sales/{sale.id}").get_data(as_text=True)
    app.config["PAYMENT_PROVIDERS"] = ["pickup"]
    assert 'value="toss"' not in client.get(f"/sales/{sale.id}").get_data(as_text=True)


def test_the_success_redirect_is_confirmed_at_toss_and_recorded_once(client, auth, shop, now, toss):
    sale, buyer = shop
    order = toss_order(sale, buyer, now=now)
    payment = payment_for(order.id)
    key = pay_in_widget(toss, payment)
    auth.login(buyer.email)

    first = client.get(success_url(order, payment, key))
    again = client.get(success_url(order, payment, key))  # the buyer reloads the page

    payment = payment_for(order.id)
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == f"/orders/{order.id}"
    assert (payment.status, payment.order.status, payment.toss_payment_key) == ("succeeded", "confirmed", key)
    assert ledger(payment) == [("payment", 24_000), ("fee", -fee(24_000))]
    assert toss.payment(key)["status"] == "DONE"
    assert toss.count("POST", "/v1/payments/confirm") == 1
    assert len(outbox_to("buyer@example.com")) == 1


def test_an_amount_changed_in_the_browser_is_refused_before_toss_is_asked(client, auth, shop, now, toss):
    sale, buyer = shop
    order = toss_order(sale, buyer, now=now)
    payment = payment_for(order.id)
    key = pay_in_widget(toss, payment)
    auth.login(buyer.email)

    response = client.get(success_url(order, payment, key, amount=100))

    assert response.status_code == 200
    assert "The amount does not match your order" in response.get_data(as_text=True)
    assert toss.count("POST", "/v1/payments/confirm") == 0
    assert toss.payment(key)["status"] == "IN_PROGRESS"  # never approved: nothing charged
    payment = payment_for(order.id)
    assert (payment.status, ledger(payment)) == ("pending", [])


def test_a_widget_payment_for_another_amount_is_refused_by_toss_and_never_recorded(client, auth, shop, now, toss):
    """The browser changed the widget's amount and the success URL alike: our confirm sends our
    amount, which Toss refuses, so the buyer's 100 won never buys 24,000 won of meat."""
    sale, buyer = shop
    order = toss_order(sale, buyer, now=now)
    payment = payment_for(order.id)
    key = pay_in_widget(toss, payment, amount=100)
    auth.login(buyer.email)

    response = client.get(success_url(order, payment, key))

    assert response.status_code == 200
    assert toss.payment(key)["status"] == "IN_PROGRESS"
    payment = payment_for(order.id)
    assert (payment.status, payment.order.status, ledger(payment)) == ("pending", "reserved", [])
    assert payment.attempt == 2  # the next try in the widget gets a new order id


def test_someone_elses_order_is_not_found(client, auth, shop, now, toss):
    sale, buyer = shop
    order = toss_order(sale, buyer, now=now)
    payment = payment_for(order.id)
    key = pay_in_widget(toss, payment)
    make_user("other@example.com")
    auth.login("other@example.com")

    assert client.get(success_url(order, payment, key)).status_code == 404
    assert client.get(f"/orders/{order.id}/pay/toss/fail?code=PAY_PROCESS_CANCELED").status_code == 404
    assert toss.count("POST", "/v1/payments/confirm") == 0


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("PAY_PROCESS_CANCELED", "취소되었습니다.", "You stopped the payment. Nothing was charged"),
        ("REJECT_CARD_COMPANY", "카드사에서 거절했습니다.", "Your card company declined the payment: 카드사에서"),
        ("PAY_PROCESS_ABORTED", "", "The payment service did not answer in time."),
    ],
)
def test_the_fail_page_says_what_happened_and_offers_another_try(client, auth, shop, now, code, message, expected):
    sale, buyer = shop
    order = toss_order(sale, buyer, now=now)
    auth.login(buyer.email)

    response = client.get(f"/orders/{order.id}/pay/toss/fail?code={code}&message={message}&orderId=x")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert expected in html
    assert f"/orders/{order.id}/pay" in html  # try again while the items are held
    assert payment_for(order.id).status == "pending"
    assert stock_taken(sale) == 2


def test_every_failure_is_explained_in_korean(ctx):
    with force_locale("ko"):
        said = [
            toss_flow.failure_message("PAY_PROCESS_CANCELED", ""),
            toss_flow.failure_message("REJECT_CARD_COMPANY", "한도 초과"),
            toss_flow.failure_message("PAY_PROCESS_ABORTED", ""),
            str(toss_flow.AMOUNT_MISMATCH),
            str(toss_flow.ENDED),
        ]
    assert "결제를 멈추셨어요" in said[0]
    assert "카드사에서 결제를 거절했어요: 한도 초과" in said[1]
    assert all(re.search("[가-힣]", text) and not re.search("[a-zA-Z]{4}", text) for text in said)


def test_toss_not_answering_the_confirm_is_caught_up_by_the_tick(client, auth, shop, now, toss):
    sale, buyer = shop
    order = toss_order(sale, buyer, now=now - timedelta(minutes=3))
    payment = payment_for(order.id)
    payment.created_at = now - timedelta(minutes=3)
    db.session.commit()
    key = pay_in_widget(toss, payment)
    auth.login(buyer.email)
    toss.fail_next(503)

    response = client.get(success_url(order, payment, key))

    assert response.status_code == 200
    assert "did not answer in time" in response.get_data(as_text=True)
    assert payment_for(order.id).status == "pending"
    report = run_tick(now=now)
    payment = payment_for(order.id)
    assert report["toss_payments"] == 1
    assert (payment.status, payment.order.status) == ("succeeded", "confirmed")
    assert ledger(payment) == [("payment", 24_000), ("fee", -fee(24_000))]
    assert toss.payment(key)["status"] == "DONE"


def test_a_buyer_who_paid_but_never_came_back_is_confirmed_by_the_tick(shop, now, toss):
    sale, buyer = shop
    order = toss_order(sale, buyer, now=now - timedelta(minutes=2))
    payment = payment_for(order.id)
    payment.created_at = now - timedelta(minutes=2)
    db.session.commit()
    key = pay_in_widget(toss, payment)  # ... and the phone lost its signal

    assert run_tick(now=now - timedelta(minutes=1, seconds=30))["toss_payments"] == 0  # too early to ask
    run_tick(now=now)

    payment = payment_for(order.id)
    assert (payment.status, payment.toss_payment_key) == ("succeeded", key)
    assert ledger(payment) == [("payment", 24_000), ("fee", -fee(24_000))]
    assert toss.count("POST", "/v1/payments/confirm") == 1
    run_tick(now=now + timedelta(minutes=1))
    assert toss.count("POST", "/v1/payments/confirm") == 1


def test_a_reservation_that_ends_unpaid_gives_back_its_stock_and_cannot_be_paid_later(client, auth, shop, now, toss):
    sale, buyer = shop
    order = toss_order(sale, buyer, now=now - timedelta(hours=1))
    payment = payment_for(order.id)

    assert expire_reservations(now=now) == 1
    key = pay_in_widget(toss, payment)  # the buyer comes back to an old tab
    auth.login(buyer.email)
    response = client.get(success_url(order, payment, key))

    payment = payment_for(order.id)
    assert response.status_code == 200
    assert "This order ended before the payment was made" in response.get_data(as_text=True)
    assert (payment.status, payment.order.status, stock_taken(sale)) == ("canceled", "expired", 0)
    assert toss.count("POST", "/v1/payments/confirm") == 0
    assert toss.payment(key)["status"] == "IN_PROGRESS"  # never approved, so never charged


def test_money_taken_just_before_the_buyer_cancelled_is_recorded_and_refunded(client, auth, shop, now, toss):
    sale, buyer = shop
    order = toss_order(sale, buyer, now=now)
    payment = payment_for(order.id)
    key = pay_in_widget(toss, payment)
    toss.approve(key)  # a confirm whose answer never reached us

    cancel_order(order=order, by=buyer, now=now)
    run_tick(now=now)

    payment = payment_for(order.id)
    assert (payment.status, payment.refunded_amount) == ("succeeded", 24_000)
    assert toss.payment(key)["status"] == "CANCELED"
    assert sum(row[1] for row in ledger(payment) if row[0] in ("payment", "refund")) == 0
