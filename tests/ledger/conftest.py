"""Helpers for the payment, refund, ledger and payout tests: pay-at-pickup payments and sales
made through the real services, the ledger as rows and sums, and a way to race service calls
from threads, each with its own application context and database session.

Assertions are on the English source text, so these tests use the English-reading `ctx` and
`client` of the accounts tests. The platform fee is pinned at 3 % so expected figures are plain.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from farmstore.extensions import db
from farmstore.payments.models import LedgerEntry, Payment, Refund
from farmstore.payments.services import new_payment, record_success, refund
from farmstore.producers.models import Producer
from farmstore.sales.models import Order, Sale
from farmstore.sales.services import ItemSpec, create_pickup_point, create_sale, place_order
from farmstore.timeutil import local_to_utc
from tests.catalog.conftest import client, ctx, make_product  # noqa: F401 (fixtures, found by pytest by name)
from tests.factories import make_producer

NOW = datetime(2025, 6, 10, 3, 0, tzinfo=UTC)  # noon in Seoul
FEE_BPS = 300
_checkouts = count(1)


@pytest.fixture(autouse=True)
def _platform_fee(app) -> None:
    """Every test here runs with the platform fee at FEE_BPS, whatever the environment says."""
    app.config["PLATFORM_FEE_BPS"] = FEE_BPS


def fee(amount: int) -> int:
    """The platform fee on `amount`, computed here independently of the service."""
    return amount * FEE_BPS // 10_000


def pickup_payment(producer: Producer, amount: int, *, buyer=None) -> Payment:
    """A pending pay-at-pickup payment of `amount` won to `producer`, not tied to an order."""
    payment = new_payment(
        producer_id=producer.id, buyer_id=buyer.id if buyer else None, amount=amount, provider="pickup"
    )
    db.session.commit()
    return payment


def paid_payment(producer: Producer, amount: int, *, now: datetime = NOW, buyer=None) -> Payment:
    """A pay-at-pickup payment of `amount` won that was received at `now`."""
    payment = pickup_payment(producer, amount, buyer=buyer)
    assert record_success(payment, now=now) is True
    return payment


def ledger_rows(**filters) -> list[LedgerEntry]:
    """Ledger rows matching `filters` (column=value), oldest first."""
    query = select(LedgerEntry).filter_by(**filters).order_by(LedgerEntry.occurred_at, LedgerEntry.id)
    return list(db.session.scalars(query))


def ledger_sum(*kinds: str, **filters) -> int:
    """The signed sum of the ledger rows of `kinds` (every kind when none) matching `filters`."""
    query = select(func.coalesce(func.sum(LedgerEntry.amount), 0)).filter_by(**filters)
    if kinds:
        query = query.where(LedgerEntry.kind.in_(kinds))
    return db.session.scalar(query)


def row_counts() -> tuple[int, int]:
    """How many refunds and ledger rows exist: what a refused refund must leave unchanged."""
    return db.session.scalar(select(func.count(Refund.id))), db.session.scalar(select(func.count(LedgerEntry.id)))


def open_sale(producer: Producer, *, price: int = 12_000, quantity: int = 40, per_buyer_limit: int = 2) -> Sale:
    """A sale of one product by `producer`, taking orders at NOW, pickup two days later."""
    product = make_product(producer)
    point = create_pickup_point(
        producer=producer, by=producer.user, name="망원시장 동문", address="서울 마포구 망원동 411", area="Mapo-gu",
        now=NOW,
    )  # fmt: skip
    return create_sale(
        producer=producer, by=producer.user, title="토요일 한우", pickup_point_id=point.id,
        opens_at=NOW - timedelta(hours=1), closes_at=NOW + timedelta(days=1),
        pickup_starts_at=NOW + timedelta(days=2), pickup_ends_at=NOW + timedelta(days=2, hours=2),
        items=[ItemSpec(product_id=product.id, price=price, quantity=quantity, per_buyer_limit=per_buyer_limit)],
        now=NOW,
    )  # fmt: skip


def pickup_order(sale: Sale, buyer, quantity: int = 1) -> Order:
    """`buyer` orders `quantity` of the sale's first item, to pay at pickup."""
    return place_order(
        sale=sale, buyer=buyer, quantities={sale.items[0].id: quantity}, payment_method="pickup",
        checkout_key=f"checkout-{next(_checkouts)}", now=NOW,
    )  # fmt: skip


def race(app, work: Callable[[int], object], threads: int) -> list[object]:
    """Run `work(i)` in `threads` threads released at the same moment, each in its own app
    context (so its own session and connection) with English messages. Returns each call's
    result or the exception it raised, in thread order."""
    start = threading.Barrier(threads)
    outcomes: list[object] = [None] * threads

    def run(i: int) -> None:
        with app.app_context(), force_locale("en"):
            start.wait()
            try:
                outcomes[i] = work(i)
            except Exception as error:  # the caller inspects what each thread got
                outcomes[i] = error

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not any(worker.is_alive() for worker in workers), "a racing thread hung"
    return outcomes


def kst(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A wall-clock time in Seoul as the aware UTC datetime the database stores."""
    return local_to_utc(datetime(year, month, day, hour, minute), "Asia/Seoul")


@dataclass
class MonthOfMoney:
    """Two producers' payments and refunds around June 2025, with June's figures worked out
    by hand from the amounts (fee 3 %, rounded down per payment and per refund)."""

    farm: Producer
    neighbour: Producer
    june_payments: list[Payment]
    outside_june: list[Payment]
    june_gross: int = 53_776  # 10,000 + 25,000 + 9,999 + 7,777 + 1,000
    june_refunds: int = 14_999  # 5,000 + 9,999
    june_fees: int = 1_163  # 300 + 750 + 299 + 233 + 30 − 150 − 299
    june_net: int = 37_614


def month_of_money() -> MonthOfMoney:
    """Payments and refunds on both sides of June's borders in Seoul: 00:00 on 1 June and 23:30
    on 30 June belong to June; 23:59 on 31 May and 00:30 on 1 July do not, nor does a July
    refund of a June payment. A second producer has June money of their own."""
    farm, neighbour = make_producer(farm_name="Elm Valley Farm"), make_producer(farm_name="Pine Hill Tea")
    first = paid_payment(farm, 1_000, now=kst(2025, 6, 1, 0, 0))
    early = paid_payment(farm, 10_000, now=kst(2025, 6, 3))
    partly = paid_payment(farm, 25_000, now=kst(2025, 6, 10))
    refund(partly, amount=5_000, reason="Two cuts missing", by=farm.user, now=kst(2025, 6, 12))
    fully = paid_payment(farm, 9_999, now=kst(2025, 6, 15))
    refund(fully, amount=9_999, reason="Spoiled in the heat", by=farm.user, now=kst(2025, 6, 16))
    last = paid_payment(farm, 7_777, now=kst(2025, 6, 30, 23, 30))
    may = paid_payment(farm, 3_000, now=kst(2025, 5, 31, 23, 59))
    july = paid_payment(farm, 4_000, now=kst(2025, 7, 1, 0, 30))
    refund(early, amount=2_000, reason="Late complaint", by=farm.user, now=kst(2025, 7, 2))
    theirs = paid_payment(neighbour, 50_000, now=kst(2025, 6, 5))
    refund(theirs, amount=1_234, reason="Leaf damage", by=neighbour.user, now=kst(2025, 6, 6))
    return MonthOfMoney(
        farm=farm, neighbour=neighbour, june_payments=[first, early, partly, fully, last], outside_june=[may, july]
    )
