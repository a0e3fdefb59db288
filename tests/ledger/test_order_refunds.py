"""Refunds from the order page: the producer refunds with an amount and a reason; the buyer and
other producers cannot; the amount is checked against what was paid, never trusted."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

import pytest

from farmstore.extensions import db
from farmstore.sales.services import check_in, payment_of
from tests.factories import make_producer, make_user
from tests.ledger.conftest import NOW, fee, ledger_sum, open_sale, pickup_order, row_counts


@pytest.fixture
def collected(ctx):
    """A producer, a buyer, and the buyer's 24,000 won order, handed over and paid at pickup."""
    producer, buyer = make_producer(), make_user()
    sale = open_sale(producer, price=12_000)
    order = pickup_order(sale, buyer, quantity=2)
    check_in(sale=sale, code=order.pickup_code, by=producer.user, now=NOW + timedelta(days=2))
    return producer, buyer, order


def test_the_producer_refunds_part_of_an_order(client, auth, collected):
    producer, _buyer, order = collected
    auth.login(producer.user.email)

    response = client.post(
        f"/orders/{order.id}/refund", data={"amount": "5000", "reason": "Two bruised heads"}, follow_redirects=True
    )

    assert response.status_code == 200
    assert "Refunded." in response.text
    assert "Refunded: ₩5,000" in response.text
    db.session.expire_all()
    payment = payment_of(order)
    assert [(r.amount, r.reason, r.by_id) for r in payment.refunds] == [(5_000, "Two bruised heads", producer.user_id)]
    assert ledger_sum(payment_id=payment.id) == (24_000 - 5_000) - (fee(24_000) - fee(5_000))


@pytest.mark.parametrize("amount", ["24001", "99999999999999999999"])
def test_an_amount_above_what_was_paid_is_refused(client, auth, collected, amount):
    producer, _buyer, order = collected
    auth.login(producer.user.email)
    before = row_counts()

    response = client.post(
        f"/orders/{order.id}/refund", data={"amount": amount, "reason": "Typo"}, follow_redirects=True
    )

    assert response.status_code == 200
    assert "You can refund at most ₩24,000." in unescape(response.text)
    assert row_counts() == before
    db.session.expire_all()
    assert payment_of(order).refunded_amount == 0


def test_an_order_not_yet_paid_cannot_be_refunded(client, auth, ctx):
    producer, buyer = make_producer(), make_user()
    order = pickup_order(open_sale(producer), buyer)
    auth.login(producer.user.email)

    response = client.post(f"/orders/{order.id}/refund", data={"amount": "1000", "reason": "x"}, follow_redirects=True)

    assert "This payment was not received, so there is nothing to refund." in unescape(response.text)
    assert row_counts() == (0, 0)


def test_the_buyer_cannot_refund_their_own_order(client, auth, collected):
    _producer, buyer, order = collected
    auth.login(buyer.email)

    response = client.post(f"/orders/{order.id}/refund", data={"amount": "24000", "reason": "I want it back"})

    assert response.status_code == 403
    assert row_counts() == (0, 2)


def test_another_producer_cannot_refund_or_even_see_the_order(client, auth, collected):
    _producer, _buyer, order = collected
    auth.login(make_producer().user.email)

    response = client.post(f"/orders/{order.id}/refund", data={"amount": "24000", "reason": "Mine now"})

    assert response.status_code == 404  # the order page hides other people's orders entirely
    assert row_counts() == (0, 2)


@pytest.mark.parametrize("data", [{"amount": "", "reason": "x"}, {"amount": "0", "reason": "x"}, {"amount": "5"}])
def test_a_refund_form_without_an_amount_or_a_reason_is_refused(client, auth, collected, data):
    producer, _buyer, order = collected
    auth.login(producer.user.email)

    response = client.post(f"/orders/{order.id}/refund", data=data, follow_redirects=True)

    assert "Enter an amount and a reason." in response.text
    assert row_counts() == (0, 2)
