"""No oversell, ever: many buyers at once, each in its own thread with its own app context, session
and database connection, all released together by a barrier, racing for the last units of a sale.

Written for PostgreSQL (TEST_DATABASE_URL), where the racing UPDATEs really overlap; on SQLite the
same races run with the same thread counts and the database serialises the writers. Each race prints
its timings.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import event, func, select, text, update

from farmstore.accounts.models import User
from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.notifications.models import OutboxMessage
from farmstore.sales.models import Order, OrderLine, Sale, SaleItem
from farmstore.sales.services import cancel_order, expire_reservations, place_order
from tests.factories import make_user
from tests.sales.conftest import NOW, buy, make_sale, stock, units_held

THREADS = 60
LAST_UNITS = 40
SOLD_OUT = "Sorry, 배추김치 just sold out."
ONE_LEFT = "Sorry, only 1 of 배추김치 is left."
ALREADY = "You already have an order in this sale. Cancel it first to change it."

# Every thread holds its own connection from the start, so the pool must have one for each.
pytestmark = pytest.mark.app_config(
    SQLALCHEMY_ENGINE_OPTIONS={"pool_size": THREADS + 5, "max_overflow": 0, "pool_timeout": 120}
)


@pytest.fixture(autouse=True)
def patient_sqlite(app):
    """On SQLite, writers queue for the one write lock: let each wait up to a minute."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "checkout", lambda conn, _record, _proxy: conn.execute("PRAGMA busy_timeout=60000"))


@dataclass
class Outcome:
    """What one thread got: the job's result, the message of a refusal, or anything unexpected."""

    result: object = None
    refused: str | None = None
    crashed: str | None = None
    seconds: float = 0.0


def race(app, jobs: list[Callable[[], object]], *, capsys, label: str) -> list[Outcome]:
    """Run every job in its own thread, app context and session, released at once; print the timings.
    Each thread takes its database connection before the barrier, so the race is on the data alone."""
    barrier = threading.Barrier(len(jobs))
    outcomes = [Outcome() for _ in jobs]
    released = []

    def run(job, outcome):
        """One thread: take a connection, wait for the others, run the job and note what happened."""
        with app.app_context(), force_locale("en"):
            db.session.execute(text("SELECT 1"))
            barrier.wait(timeout=120)
            released.append(time.perf_counter())
            started = time.perf_counter()
            try:
                outcome.result = job()
            except DomainError as error:
                outcome.refused = str(error.message)
            except Exception as error:  # a lock timeout, a deadlock, a broken constraint: the test fails
                outcome.crashed = f"{type(error).__name__}: {error}"
                db.session.rollback()
            outcome.seconds = time.perf_counter() - started

    threads = [threading.Thread(target=run, args=pair) for pair in zip(jobs, outcomes, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    finished = time.perf_counter()
    assert not any(thread.is_alive() for thread in threads)
    latencies = sorted(o.seconds for o in outcomes)
    with capsys.disabled():
        print(
            f"\n  [{db.engine.dialect.name}] {label}: {len(jobs)} threads, all done {finished - min(released):.3f} s "
            f"after release; per call p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"max {latencies[-1] * 1000:.0f} ms"
        )
    db.session.expire_all()
    return outcomes


def ordering(sale_id: int, buyer_id: int, quantity: int, key: str) -> Callable[[], int]:
    """A job: this buyer orders `quantity` of the sale's first item; returns the order id."""

    def job() -> int:
        """Load the sale and buyer in this thread's session and place the order."""
        sale = db.session.get(Sale, sale_id)
        buyer = db.session.get(User, buyer_id)
        order = place_order(sale=sale, buyer=buyer, quantities={sale.items[0].id: quantity}, checkout_key=key, now=NOW)
        return order.id

    return job


def new_buyers(count: int) -> list[int]:
    """Ids of `count` fresh buyers."""
    return [make_user(f"racer{n}@example.com", display_name=f"racer {n}").id for n in range(count)]


def active_orders(sale_id: int) -> list[Order]:
    """The sale's orders that hold stock."""
    query = select(Order).where(Order.sale_id == sale_id, Order.status.in_(("reserved", "confirmed")))
    return list(db.session.scalars(query))


def test_sixty_buyers_race_for_the_last_forty_units_and_exactly_forty_win(app, shop, capsys):
    sale = make_sale(shop.producer, [(shop.kimchi, 12_000, LAST_UNITS + 5, 1)], point=shop.point)
    item_id = sale.items[0].id
    for _ in range(5):
        buy(sale, make_user())
    racers = new_buyers(THREADS)
    db.session.commit()

    outcomes = race(
        app,
        [ordering(sale.id, buyer, 1, f"race-{buyer}") for buyer in racers],
        capsys=capsys,
        label=f"last {LAST_UNITS} units, limit 1",
    )

    assert [o.crashed for o in outcomes if o.crashed] == []
    winners = [o.result for o in outcomes if o.result is not None]
    assert len(winners) == LAST_UNITS
    assert Counter(o.refused for o in outcomes if o.refused) == {SOLD_OUT: THREADS - LAST_UNITS}
    assert stock(item_id) == (LAST_UNITS + 5, LAST_UNITS + 5) == (LAST_UNITS + 5, units_held(item_id))
    orders = active_orders(sale.id)
    assert len(orders) == LAST_UNITS + 5
    assert len({order.pickup_code for order in orders}) == len(orders)
    assert {(line.quantity, line.unit_price) for order in orders for line in order.lines} == {(1, 12_000)}


def test_with_a_limit_of_two_nobody_gets_more_and_the_units_add_up(app, shop, capsys):
    """Fifty buyers ask for one or two; ten of them check out twice at once with different keys."""
    sale = make_sale(shop.producer, [(shop.kimchi, 12_000, LAST_UNITS, 2)], point=shop.point)
    item_id = sale.items[0].id
    racers = new_buyers(THREADS - 10)
    db.session.commit()
    jobs = [ordering(sale.id, buyer, 1 + n % 2, f"first-{buyer}") for n, buyer in enumerate(racers)]
    jobs += [ordering(sale.id, buyer, 2, f"second-{buyer}") for buyer in racers[:10]]

    outcomes = race(app, jobs, capsys=capsys, label=f"{LAST_UNITS} units, limit 2, 1–2 each, 10 double checkouts")

    assert [o.crashed for o in outcomes if o.crashed] == []
    assert set(o.refused for o in outcomes if o.refused) <= {SOLD_OUT, ONE_LEFT, ALREADY}
    orders = active_orders(sale.id)
    assert len(orders) == len([o for o in outcomes if o.result is not None])
    per_buyer = Counter()
    for order in orders:
        per_buyer[order.buyer_id] += sum(line.quantity for line in order.lines)
    assert max(per_buyer.values()) <= 2
    assert len(per_buyer) == len(orders)  # one order per buyer
    sold = sum(per_buyer.values())
    assert LAST_UNITS - 1 <= sold <= LAST_UNITS  # demand (80) is double the stock: at most one unit left
    assert stock(item_id) == (LAST_UNITS, sold) == (LAST_UNITS, units_held(item_id))


def reserved_card_orders(sale: Sale, count: int) -> list[int]:
    """`count` unpaid card orders of one unit each whose reservation ran out a minute ago; the
    units they hold are counted as taken."""
    item = sale.items[0]
    ids = []
    for buyer_id in new_buyers(count):
        order = Order(
            sale=sale, buyer_id=buyer_id, status="reserved", total=item.price, payment_method="stripe",
            pickup_code=f"RSV{buyer_id:03d}"[-6:], checkout_key=f"card-{buyer_id}", created_at=NOW - timedelta(hours=1),
            reserved_until=NOW - timedelta(minutes=1),
            lines=[OrderLine(sale_item_id=item.id, quantity=1, unit_price=item.price)],
        )  # fmt: skip
        db.session.add(order)
        db.session.flush()
        ids.append(order.id)
    db.session.execute(
        update(SaleItem).where(SaleItem.id == item.id).values(quantity_taken=SaleItem.quantity_taken + count)
    )
    db.session.commit()
    return ids


def test_expiring_reservations_race_new_buyers_and_the_units_are_reused_once(app, shop, capsys):
    """Half the stock is held by card reservations that ran out. Five ticks expire them while 55 new
    buyers try to order; whoever was told "sold out" tries again once the ticks are done."""
    sale = make_sale(shop.producer, [(shop.kimchi, 12_000, LAST_UNITS, 1)], point=shop.point)
    item_id = sale.items[0].id
    for _ in range(LAST_UNITS // 2):
        buy(sale, make_user())
    reserved = reserved_card_orders(sale, LAST_UNITS // 2)
    assert stock(item_id) == (LAST_UNITS, LAST_UNITS)
    buyers = [make_user(f"late{n}@example.com").id for n in range(THREADS - 5)]
    ticks_done = threading.Barrier(5, timeout=120)
    all_ticks_done = threading.Event()

    def tick() -> int:
        """One tick expiring reservations; the last tick to finish tells the waiting buyers."""
        expired = expire_reservations(now=NOW)
        if ticks_done.wait() == 0:
            all_ticks_done.set()
        return expired

    def persistent(buyer_id: int) -> Callable[[], int]:
        """A buyer who, told it sold out, tries once more when the ticks are done."""
        first, second = ordering(sale.id, buyer_id, 1, f"a-{buyer_id}"), ordering(sale.id, buyer_id, 1, f"b-{buyer_id}")

        def job() -> int:
            """Order now; if refused, wait for the ticks and order again with a new key."""
            try:
                return first()
            except DomainError:
                all_ticks_done.wait(timeout=120)
                return second()

        return job

    outcomes = race(
        app,
        [tick] * 5 + [persistent(b) for b in buyers],
        capsys=capsys,
        label=f"{LAST_UNITS // 2} expiring reservations, 5 ticks, {len(buyers)} buyers",
    )

    assert [o.crashed for o in outcomes if o.crashed] == []
    assert sum(o.result for o in outcomes[:5]) == LAST_UNITS // 2  # each reservation expired exactly once
    assert {db.session.get(Order, order_id).status for order_id in reserved} == {"expired"}
    new_orders = [o.result for o in outcomes[5:] if o.result is not None]
    assert len(new_orders) == LAST_UNITS // 2  # the expired units were sold again, each once
    assert Counter(o.refused for o in outcomes[5:] if o.refused) == {SOLD_OUT: len(buyers) - LAST_UNITS // 2}
    assert stock(item_id) == (LAST_UNITS, LAST_UNITS) == (LAST_UNITS, units_held(item_id))
    expiry_emails = db.session.scalar(
        select(func.count(OutboxMessage.id)).where(OutboxMessage.to_address.like("racer%"))
    )
    assert expiry_emails == LAST_UNITS // 2


def test_one_buyer_double_submitting_from_five_threads_gets_one_order(app, shop, capsys):
    sale = make_sale(shop.producer, [(shop.kimchi, 12_000, LAST_UNITS, 2)], point=shop.point)
    item_id = sale.items[0].id
    db.session.commit()

    outcomes = race(
        app, [ordering(sale.id, shop.buyer.id, 2, "one-click")] * 5, capsys=capsys, label="5 × one checkout"
    )

    assert [o.crashed for o in outcomes if o.crashed] == []
    assert [o.refused for o in outcomes if o.refused] == []
    assert len({o.result for o in outcomes}) == 1
    assert stock(item_id) == (LAST_UNITS, 2)
    assert db.session.scalar(select(func.count(Order.id))) == 1


def test_five_tabs_cancelling_one_order_give_its_units_back_once(app, shop, capsys):
    sale = make_sale(shop.producer, [(shop.kimchi, 12_000, LAST_UNITS, 2)], point=shop.point)
    item_id = sale.items[0].id
    others = [buy(sale, make_user(), 2) for _ in range(5)]
    order_id, buyer_id = buy(sale, shop.buyer, 2).id, shop.buyer.id
    db.session.commit()

    def cancel() -> None:
        """One tab's click on "Cancel my order"."""
        cancel_order(db.session.get(Order, order_id), by=db.session.get(User, buyer_id), now=NOW)

    outcomes = race(app, [cancel] * 5, capsys=capsys, label="5 × cancel one order")

    assert [o.crashed for o in outcomes if o.crashed] == []
    assert Counter(o.refused for o in outcomes) == {None: 1, "This order can no longer be cancelled.": 4}
    assert stock(item_id) == (LAST_UNITS, 2 * len(others)) == (LAST_UNITS, units_held(item_id))
