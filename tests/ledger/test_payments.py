"""Collecting pay-at-pickup payments: money is received once, never after a cancel, and every
receipt writes a payment row and a platform-fee row to the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest

from farmstore.errors import DomainError, NotAllowed
from farmstore.extensions import db
from farmstore.payments.services import cancel_unpaid, fee_for, mark_paid_at_pickup, new_payment, record_success
from farmstore.sales.services import check_in, payment_of
from tests.factories import make_producer, make_user
from tests.ledger.conftest import NOW, fee, ledger_rows, open_sale, paid_payment, pickup_order, pickup_payment


@pytest.mark.parametrize(("amount", "expected"), [(0, 0), (33, 0), (34, 1), (10_000, 300), (9_999, 299)])
def test_fee_is_rounded_down_to_the_won(ctx, amount, expected):
    assert fee_for(amount) == expected


def test_a_payment_succeeds_once(ctx):
    producer = make_producer()
    payment = pickup_payment(producer, 10_000)

    assert record_success(payment, now=NOW) is True
    assert record_success(payment, now=NOW + timedelta(minutes=5)) is False

    db.session.refresh(payment)
    assert (payment.status, payment.succeeded_at) == ("succeeded", NOW)
    rows = ledger_rows(payment_id=payment.id)
    assert [(row.kind, row.amount, row.key) for row in rows] == [
        ("payment", 10_000, f"payment:{payment.id}"),
        ("fee", -300, f"fee:{payment.id}"),
    ]
    assert all(row.producer_id == producer.id and row.occurred_at == NOW for row in rows)


def test_a_payment_too_small_for_a_fee_writes_no_fee_row(ctx):
    payment = paid_payment(make_producer(), 33)

    assert [(row.kind, row.amount) for row in ledger_rows(payment_id=payment.id)] == [("payment", 33)]


def test_a_canceled_payment_cannot_be_collected(ctx):
    payment = pickup_payment(make_producer(), 10_000)
    cancel_unpaid(payment, now=NOW)
    db.session.commit()

    with pytest.raises(DomainError, match=r"This payment was canceled, so it cannot be collected\."):
        record_success(payment, now=NOW + timedelta(hours=1))

    db.session.refresh(payment)
    assert (payment.status, payment.canceled_at, payment.succeeded_at) == ("canceled", NOW, None)
    assert ledger_rows(payment_id=payment.id) == []


def test_canceling_a_received_payment_changes_nothing(ctx):
    payment = paid_payment(make_producer(), 10_000)

    cancel_unpaid(payment, now=NOW + timedelta(hours=1))
    db.session.commit()

    db.session.refresh(payment)
    assert (payment.status, payment.canceled_at) == ("succeeded", None)
    assert len(ledger_rows(payment_id=payment.id)) == 2


def test_an_unknown_way_of_paying_is_refused(ctx):
    with pytest.raises(DomainError, match=r"This way of paying is not available\.") as raised:
        new_payment(producer_id=make_producer().id, buyer_id=None, amount=1_000, provider="bitcoin")
    assert raised.value.field == "payment_method"


def test_the_producer_marks_a_pickup_payment_paid_once(ctx):
    producer = make_producer()
    payment = pickup_payment(producer, 24_000)

    assert mark_paid_at_pickup(payment, by=producer.user, now=NOW) is True
    assert mark_paid_at_pickup(payment, by=producer.user, now=NOW) is False

    assert (payment.status, payment.marked_paid_by_id) == ("succeeded", producer.user_id)
    assert [row.kind for row in ledger_rows(payment_id=payment.id)] == ["payment", "fee"]


@pytest.mark.parametrize("who", ["buyer", "other producer"])
def test_only_the_producer_marks_a_payment_paid(ctx, who):
    producer, buyer = make_producer(), make_user()
    payment = pickup_payment(producer, 24_000, buyer=buyer)
    user = buyer if who == "buyer" else make_producer().user

    with pytest.raises(NotAllowed, match=r"Only the producer can do this\."):
        mark_paid_at_pickup(payment, by=user, now=NOW)

    db.session.refresh(payment)
    assert payment.status == "pending"
    assert ledger_rows() == []


def test_check_in_marks_a_pickup_order_paid(ctx):
    producer, buyer = make_producer(), make_user()
    sale = open_sale(producer, price=12_000)
    order = pickup_order(sale, buyer, quantity=2)
    assert payment_of(order).status == "pending"
    assert ledger_rows() == []

    check_in(sale=sale, code=order.pickup_code, by=producer.user, now=NOW + timedelta(days=2))

    payment = payment_of(order)
    assert (payment.status, payment.amount, payment.marked_paid_by_id) == ("succeeded", 24_000, producer.user_id)
    assert [(row.kind, row.amount) for row in ledger_rows(producer_id=producer.id)] == [
        ("payment", 24_000),
        ("fee", -fee(24_000)),
    ]
