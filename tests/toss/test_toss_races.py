"""Toss payments under concurrency (run them on PostgreSQL): a success redirect arriving twice at
once, Toss's webhook racing the redirect, and 20 refunds of one payment at once. Each side talks
HTTP to the fake Toss; the payment row lock and the conditional updates keep the money right."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from farmstore.extensions import db
from farmstore.payments import toss_flow
from farmstore.payments.models import LedgerEntry, Refund, WebhookEvent
from farmstore.payments.services import refund
from tests.factories import make_producer, make_user
from tests.ledger.conftest import race
from tests.toss.conftest import (
    TOSS_CONFIG,
    fee,
    ledger,
    open_sale,
    paid_toss_order,
    pay_in_widget,
    payment_for,
    toss_order,
)

pytestmark = TOSS_CONFIG


@pytest.fixture
def sale(ctx, now):
    return open_sale(make_producer(), now=now)


def _confirm(app, order_id: int, key: str, now):
    """What one success request does: load the payment afresh and confirm it."""
    payment = payment_for(order_id)
    return toss_flow.confirm(
        payment, payment_key=key, toss_order_id=toss_flow.order_id(payment), amount=payment.amount, now=now
    )


def test_the_success_redirect_twice_at_once_records_one_payment(app, sale, now, toss):
    order = toss_order(sale, make_user("buyer@example.com", locale="en"), now=now)
    key = pay_in_widget(toss, payment_for(order.id))
    toss.answer_delay = 0.3  # the card company takes its time: the second request arrives meanwhile

    outcomes = race(app, lambda _i: _confirm(app, order.id, key, now), threads=2)

    assert outcomes == [None, None]  # both buyers' tabs are told it worked
    payment = payment_for(order.id)
    assert (payment.status, payment.order.status) == ("succeeded", "confirmed")
    assert ledger(payment) == [("payment", 24_000), ("fee", -fee(24_000))]
    assert toss.count("POST", "/v1/payments/confirm") == 1  # the second waited for the first


def test_the_webhook_racing_the_redirect_writes_the_ledger_once(app, sale, now, toss, live_server):
    """Toss posts its webhook the moment it approves, while our confirm waits for Toss's answer."""
    order = toss_order(sale, make_user("buyer@example.com", locale="en"), now=now)
    key = pay_in_widget(toss, payment_for(order.id))
    toss.webhook_url = f"{live_server}/payments/toss/webhook"
    toss.answer_delay = 0.5

    _confirm(app, order.id, key, now)
    deadline = time.monotonic() + 10
    while not toss.webhooks_sent and time.monotonic() < deadline:
        time.sleep(0.05)

    db.session.rollback()
    payment = payment_for(order.id)
    assert toss.webhooks_sent == [key]
    assert ledger(payment) == [("payment", 24_000), ("fee", -fee(24_000))]
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 2
    assert db.session.scalar(select(func.count(WebhookEvent.id))) == 1  # it arrived and was handled


def test_twenty_refunds_at_once_give_back_at_most_the_payment(app, sale, now, toss):
    order, key = paid_toss_order(toss, sale, make_user("buyer@example.com", locale="en"), now=now)
    producer_id = sale.producer.user_id

    def refund_3000(_i: int):
        from farmstore.accounts.models import User

        return refund(
            payment_for(order.id), amount=3_000, reason="Short weight", by=db.session.get(User, producer_id), now=now
        )

    outcomes = race(app, refund_3000, threads=20)

    done = [o for o in outcomes if isinstance(o, Refund)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    payment = payment_for(order.id)
    at_toss = toss.payment(key)
    assert (len(done), len(refused)) == (8, 12)  # 8 × 3,000 = 24,000
    assert all("at most" in str(error) for error in refused)
    assert payment.refunded_amount == 24_000
    assert sum(c["cancelAmount"] for c in at_toss["cancels"]) == 24_000
    assert (at_toss["status"], at_toss["balanceAmount"]) == ("CANCELED", 0)
    assert db.session.scalar(select(func.count(Refund.id)).where(Refund.status == "succeeded")) == 8
    assert sum(amount for kind, amount in ledger(payment) if kind == "refund") == -24_000
