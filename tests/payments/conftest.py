"""Fixtures for the Stripe tests: the real `stripe` library against localstripe, a fake Stripe
API started once per session on a free loopback port with its on-disk persistence turned off,
emptied before every test and stopped at the end. Test modules put `STRIPE_CONFIG` in their
`pytestmark`, so the app has Stripe keys, talks to localstripe and offers card payments.

`stripe_api` is a Stripe client of the tests' own, to look at (or act on) localstripe the way a
browser or the Stripe Dashboard would, independently of the code under test.

Assertions are on the English source text, so these tests use the English-reading `ctx` and
`client` (tests/english.py). The platform fee is pinned at 3 %.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import count
from urllib.parse import urlencode

import pytest
import stripe
from sqlalchemy import select

from farmstore.extensions import db
from farmstore.notifications.models import OutboxMessage
from farmstore.payments.models import LedgerEntry, Payment
from farmstore.producers.models import Producer
from farmstore.sales.models import Order, Sale
from farmstore.sales.services import ItemSpec, create_pickup_point, create_sale, place_order
from farmstore.timeutil import utcnow
from tests.catalog.conftest import make_product
from tests.conftest import free_port
from tests.english import client, ctx  # noqa: F401 (fixtures, found by pytest by name)

LOCALSTRIPE_URL = f"http://127.0.0.1:{free_port()}"
SECRET_KEY = "sk_test_farmstore"
WEBHOOK_SECRET = "whsec_farmstore_tests"
FEE_BPS = 300
STRIPE_SETTINGS = {
    "STRIPE_SECRET_KEY": SECRET_KEY,
    "STRIPE_PUBLISHABLE_KEY": "pk_test_farmstore",
    "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "STRIPE_API_BASE": LOCALSTRIPE_URL,
    "STRIPE_SETUP_FUTURE_USAGE": None,  # localstripe rejects the parameter
    "PAYMENT_PROVIDERS": ["pickup", "stripe"],
    "PLATFORM_FEE_BPS": FEE_BPS,
}
STRIPE_CONFIG = pytest.mark.app_config(**STRIPE_SETTINGS)

# localstripe started from Python, not its CLI: the CLI listens on every interface and pickles
# its whole store to /tmp/localstripe.pickle on every write (slow, and shared between runs).
_SERVER = """
import sys
from aiohttp import web
from localstripe import resources
resources.Store.dump_to_disk = lambda self: None
resources.Store.try_load_from_disk = lambda self: None


# Stripe lists a Customer's PaymentIntents (`customer=`); localstripe 1.15 knows no filter there.
@classmethod
def _list_payment_intents(cls, url, customer=None, limit=None, starting_after=None):
    listed = super(resources.PaymentIntent, cls)._api_list_all(url, limit=limit, starting_after=starting_after)
    if customer is not None:
        listed._list = [intent for intent in listed._list if intent.customer == customer]
    return listed


resources.PaymentIntent._api_list_all = _list_payment_intents
from localstripe.server import app
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""
_checkouts = count(1)
_events = count(1)


def localstripe_config(method: str, path: str, data: dict | None = None) -> None:
    """Call one of localstripe's own configuration endpoints."""
    body = urlencode(data).encode() if data else None
    request = urllib.request.Request(LOCALSTRIPE_URL + path, data=body, method=method)  # noqa: S310 (http://127.0.0.1)
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        assert response.status == 200


@pytest.fixture(scope="session")
def localstripe_server(tmp_path_factory):
    """localstripe in a subprocess for the whole session."""
    port = int(LOCALSTRIPE_URL.rsplit(":", 1)[1])
    log = tmp_path_factory.mktemp("localstripe") / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-c", _SERVER, str(port)], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"localstripe did not start:\n{log.read_text()}")
            time.sleep(0.1)
    yield LOCALSTRIPE_URL
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(autouse=True)
def localstripe(localstripe_server) -> str:
    """localstripe, emptied of everything earlier tests made."""
    localstripe_config("DELETE", "/_config/data")
    return localstripe_server


@pytest.fixture
def stripe_webhooks(live_server):
    """localstripe delivers its webhooks to this test's live server, signed with our secret.
    Afterwards they go to a closed port, so no later test receives this one's events. (Events
    are sent a second after they happen: the wait lets earlier tests' events go there too.)"""
    time.sleep(1.5)
    _register_webhook(f"{live_server}/stripe/webhook")
    yield live_server
    _register_webhook("http://127.0.0.1:9/")


def _register_webhook(url: str) -> None:
    """Where localstripe sends every event from now on (one endpoint, replaced each time)."""
    localstripe_config("POST", "/_config/webhooks/farmstore", {"url": url, "secret": WEBHOOK_SECRET})


@pytest.fixture
def stripe_api() -> stripe.StripeClient:
    """The tests' own Stripe client on localstripe (the browser's or the Dashboard's view)."""
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": LOCALSTRIPE_URL}, max_network_retries=0)


@pytest.fixture
def now() -> datetime:
    """The real time: localstripe signs its webhooks with it, and `flask farm tick` uses it."""
    return utcnow()


def open_sale(producer: Producer, *, now: datetime, price: int = 12_000, quantity: int = 10) -> Sale:
    """A sale of one product by `producer`, taking orders since an hour before `now`."""
    product = make_product(producer, now=now)
    point = create_pickup_point(
        producer=producer, by=producer.user, name="망원시장 동문", address="서울 마포구 망원동 411", area="Mapo-gu",
        now=now,
    )  # fmt: skip
    return create_sale(
        producer=producer, by=producer.user, title="토요일 한우", pickup_point_id=point.id,
        opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=1),
        pickup_starts_at=now + timedelta(days=2), pickup_ends_at=now + timedelta(days=2, hours=2),
        items=[ItemSpec(product_id=product.id, price=price, quantity=quantity, per_buyer_limit=3)], now=now,
    )  # fmt: skip


def card_order(sale: Sale, buyer, *, now: datetime, quantity: int = 2) -> Order:
    """`buyer` orders `quantity` of the sale's first item, to pay by card."""
    return place_order(
        sale=sale, buyer=buyer, quantities={sale.items[0].id: quantity}, payment_method="stripe",
        checkout_key=f"card-{next(_checkouts)}", now=now,
    )  # fmt: skip


def payment_for(order_id: int) -> Payment:
    """The payment of order `order_id`, as the database has it now."""
    db.session.expire_all()
    return db.session.scalar(select(Payment).where(Payment.order_id == order_id))


def pay_in_browser(stripe_api: stripe.StripeClient, intent_id: str, payment_method: str = "pm_card_visa"):
    """What Stripe.js does when the buyer submits the Payment Element: attach the card to the
    intent and confirm it. Returns the intent; a declined card raises stripe.CardError."""
    stripe_api.v1.payment_intents.update(intent_id, {"payment_method": payment_method})
    return stripe_api.v1.payment_intents.confirm(intent_id)


def ledger(payment: Payment) -> list[tuple[str, int]]:
    """The payment's ledger rows as (kind, amount), in the order they were written."""
    rows = db.session.scalars(select(LedgerEntry).where(LedgerEntry.payment_id == payment.id).order_by(LedgerEntry.id))
    return [(row.kind, row.amount) for row in rows]


def outbox_to(address: str) -> list[OutboxMessage]:
    """Emails queued for `address`, oldest first."""
    query = select(OutboxMessage).where(OutboxMessage.to_address == address).order_by(OutboxMessage.id)
    return list(db.session.scalars(query))


def fee(amount: int) -> int:
    """The platform fee on `amount`, computed here independently of the service."""
    return amount * FEE_BPS // 10_000


def as_dict(stripe_object) -> dict:
    """A Stripe object as the JSON a webhook would carry."""
    return json.loads(str(stripe_object))


def event(event_type: str, data_object: dict, *, event_id: str | None = None) -> dict:
    """A Stripe event around `data_object`, shaped like the ones Stripe sends."""
    return {
        "id": event_id or f"evt_test_{next(_events)}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": data_object},
    }


def signed(payload: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """The headers Stripe would send with `payload`, signed with `secret` at `timestamp`."""
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


def deliver(test_client, stripe_event: dict, **signing):
    """POST an event to our webhook as Stripe would, signed (see `signed`)."""
    payload = json.dumps(stripe_event)
    return test_client.post("/stripe/webhook", data=payload, headers=signed(payload, **signing))


def wait_for(condition: Callable[[], bool], *, timeout: float = 10) -> None:
    """Poll `condition` (with a fresh view of the database) until it holds: localstripe sends
    its webhooks about a second after the event, to another thread of this process."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()
        if condition():
            return
        assert time.monotonic() < deadline, "timed out waiting for localstripe's webhook"
        time.sleep(0.1)
