"""Fixtures for the Toss Payments tests: a Toss-compatible API on loopback (tests/fakes/toss.py),
started once per session and emptied before every test. Test modules put `TOSS_CONFIG` in their
`pytestmark`, so the app has Toss keys, talks to the fake and offers Toss at checkout.

`toss` is the fake itself: the tests play the buyer's browser with it (`widget_payment`) and read
Toss's own view of what happened, independently of the code under test.

Assertions are on the English source text, so these tests use the English-reading `ctx` and
`client` (tests/english.py). The platform fee is pinned at 3 %.
"""

from __future__ import annotations

from datetime import datetime
from itertools import count

import pytest

from farmstore.payments import toss_flow
from farmstore.payments.models import Payment
from farmstore.sales.models import Order, Sale
from farmstore.sales.services import place_order
from farmstore.timeutil import utcnow
from tests.english import client, ctx  # noqa: F401 (fixtures, found by pytest by name)
from tests.fakes.toss import TEST_SECRET_KEY, FakeToss, TossServer
from tests.payments.conftest import fee, ledger, open_sale, outbox_to, payment_for  # noqa: F401 (re-exported)

_SERVER = TossServer(TEST_SECRET_KEY)
TOSS_SETTINGS = {
    "TOSS_CLIENT_KEY": "test_ck_farmstore_fake",
    "TOSS_SECRET_KEY": TEST_SECRET_KEY,
    "TOSS_API_BASE": _SERVER.url,
    "PAYMENT_PROVIDERS": ["pickup", "toss"],
    "PLATFORM_FEE_BPS": 300,
}
TOSS_CONFIG = pytest.mark.app_config(**TOSS_SETTINGS)
_checkouts = count(1)


@pytest.fixture(scope="session")
def toss_server():
    """The fake Toss API in a thread of the test process, for the whole session."""
    _SERVER.start()
    yield _SERVER
    _SERVER.stop()


@pytest.fixture(autouse=True)
def toss(toss_server) -> FakeToss:
    """The fake Toss, emptied of everything earlier tests made."""
    toss_server.toss.reset()
    return toss_server.toss


@pytest.fixture
def now() -> datetime:
    return utcnow()


def toss_order(sale: Sale, buyer, *, now: datetime, quantity: int = 2) -> Order:
    """`buyer` orders `quantity` of the sale's first item, to pay with Toss."""
    return place_order(
        sale=sale, buyer=buyer, quantities={sale.items[0].id: quantity}, payment_method="toss",
        checkout_key=f"toss-{next(_checkouts)}", now=now,
    )  # fmt: skip


def pay_in_widget(toss: FakeToss, payment: Payment, *, amount: int | None = None, method: str = "카드") -> str:
    """What the buyer does in Toss's widget for our payment: Toss holds an authenticated payment
    for our order id. Returns its paymentKey (what the success redirect carries)."""
    return toss.widget_payment(
        order_id=toss_flow.order_id(payment), amount=payment.amount if amount is None else amount, method=method
    )


def success_url(order: Order, payment: Payment, payment_key: str, *, amount: int | None = None) -> str:
    """The success redirect Toss sends the browser to, with the query Toss adds."""
    return (
        f"/orders/{order.id}/pay/toss/success?paymentKey={payment_key}&orderId={toss_flow.order_id(payment)}"
        f"&amount={payment.amount if amount is None else amount}&paymentType=NORMAL"
    )


def paid_toss_order(toss: FakeToss, sale: Sale, buyer, *, now: datetime, quantity: int = 2) -> tuple[Order, str]:
    """A Toss order the buyer paid in the widget and our server confirmed. Returns it and the
    paymentKey."""
    order = toss_order(sale, buyer, now=now, quantity=quantity)
    payment = payment_for(order.id)
    key = pay_in_widget(toss, payment)
    toss_flow.confirm(
        payment, payment_key=key, toss_order_id=toss_flow.order_id(payment), amount=payment.amount, now=now
    )
    return order, key


def status_changed(payment_key: str, **data) -> dict:
    """A PAYMENT_STATUS_CHANGED body as Toss posts it (unsigned: its `data` is only a hint)."""
    return {"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-12-04T21:00:00+09:00",
            "data": {"paymentKey": payment_key, **data}}  # fmt: skip
