"""Checkout benchmark: 100 buyers order from one sale at the same moment.

Each buyer is a thread with its own app context (so its own session), doing what the order view
does: load the sale and the buyer, then `place_order` (stock taken by a conditional UPDATE, the
order, its pickup payment and its confirmation email written in one transaction). Threads wait on
a barrier and start together; the timer runs from the release to the last commit. Stock is exactly
enough for everyone, so at the end every buyer has an order and every unit is taken, never more.

    python -m bench.checkout [--buyers 100] [--rounds 3] [--connections 20]

Figures are printed, never asserted: machines are noisy. A broken stock count exits with 1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from dataclasses import dataclass

from sqlalchemy import func, select

from bench.common import bench_app, fresh_database, new_sale, percentile, seed_sale
from farmstore.accounts.models import User
from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.payments.models import Payment
from farmstore.producers.models import Producer
from farmstore.sales.models import Order, OrderLine, SaleItem
from farmstore.sales.services import get_sale, place_order
from farmstore.timeutil import utcnow

QUANTITY = 2  # units of each product per order; also the per-buyer limit


@dataclass
class Round:
    """One round: every buyer's latency in seconds, the wall time, and what went wrong."""

    latencies: list[float]
    seconds: float
    failures: list[str]

    @property
    def orders_per_second(self) -> float:
        return len(self.latencies) / self.seconds


def run_round(app, *, sale_id: int, buyer_ids: list[int], tag: str) -> Round:
    """All buyers check out from `sale_id` at once; returns their latencies."""
    start = threading.Barrier(len(buyer_ids) + 1)
    latencies: list[float] = []
    failures: list[str] = []

    def buy(n: int, buyer_id: int) -> None:
        with app.app_context():
            start.wait()
            began = time.perf_counter()
            try:
                sale = get_sale(sale_id)
                place_order(
                    sale=sale, buyer=db.session.get(User, buyer_id),
                    quantities={item.id: QUANTITY for item in sale.items}, checkout_key=f"{tag}-{n}", now=utcnow(),
                )  # fmt: skip
            except DomainError as error:
                failures.append(str(error.message))
            else:
                latencies.append(time.perf_counter() - began)

    threads = [threading.Thread(target=buy, args=(n, buyer_id)) for n, buyer_id in enumerate(buyer_ids)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return Round(latencies=latencies, seconds=time.perf_counter() - began, failures=failures)


def stock_problems(sale_id: int, buyers: int) -> list[str]:
    """Everything that does not add up after a round in which every buyer should have bought."""
    problems = []
    orders = db.session.scalar(select(func.count(Order.id)).where(Order.sale_id == sale_id))
    if orders != buyers:
        problems.append(f"{orders} orders for {buyers} buyers")
    for item in db.session.scalars(select(SaleItem).where(SaleItem.sale_id == sale_id)):
        sold = db.session.scalar(
            select(func.coalesce(func.sum(OrderLine.quantity), 0))
            .join(Order)
            .where(OrderLine.sale_item_id == item.id, Order.status == "confirmed")
        )
        if not sold == item.quantity_taken == item.quantity:
            problems.append(f"item {item.id}: {sold} sold, {item.quantity_taken} taken, {item.quantity} offered")
    unpaid_totals = db.session.scalar(
        select(func.count(Order.id))
        .join(Payment, Payment.order_id == Order.id)
        .where(Order.sale_id == sale_id, Payment.amount != Order.total)
    )
    if unpaid_totals:
        problems.append(f"{unpaid_totals} payments differ from their order's total")
    return problems


def main() -> int:
    """Seed, warm up, run the rounds, print the figures and check the stock."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds, each on a new sale")
    parser.add_argument("--items", type=int, default=2, help="products per sale (each buyer orders all)")
    parser.add_argument("--connections", type=int, default=20, help="database connection pool size")
    args = parser.parse_args()

    with fresh_database() as url:
        options = {"pool_size": args.connections, "max_overflow": 0, "pool_timeout": 120}
        app = bench_app(url, SQLALCHEMY_ENGINE_OPTIONS=options)
        stock = dict(items=args.items, quantity=QUANTITY * args.buyers, per_buyer_limit=QUANTITY)
        with app.app_context():
            warm_up, buyer_ids = seed_sale(now=utcnow(), buyers=args.buyers, **stock)
            producer = db.session.scalar(select(Producer))
            sale_ids = [new_sale(producer, now=utcnow(), **stock) for _ in range(args.rounds)]
        run_round(app, sale_id=warm_up, buyer_ids=buyer_ids[:10], tag="warm-up")

        rounds, problems = [], []
        for n, sale_id in enumerate(sale_ids, start=1):
            result = run_round(app, sale_id=sale_id, buyer_ids=buyer_ids, tag=f"round-{n}")
            with app.app_context():
                problems += [f"round {n}: {p}" for p in stock_problems(sale_id, args.buyers)]
            problems += [f"round {n}: a buyer was refused: {f}" for f in result.failures]
            rounds.append(result)
            print(
                f"round {n}: {len(result.latencies)} orders in {result.seconds:.2f} s = "
                f"{result.orders_per_second:.0f} orders/s"
            )
        with app.app_context():
            db.engine.dispose()

    latencies = [s for r in rounds for s in r.latencies]
    print(
        f"\ncheckout, {args.buyers} concurrent buyers, {args.items} products per order, "
        f"{args.connections} database connections, PostgreSQL"
    )
    print(f"  throughput: {statistics.median(r.orders_per_second for r in rounds):.0f} orders/s (median of rounds)")
    p50, p99 = (percentile(latencies, p) * 1000 for p in (0.50, 0.99))
    print(f"  latency:    p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    if problems:
        print("  stock: INCONSISTENT\n    " + "\n    ".join(problems))
        return 1
    print("  stock: consistent (every buyer got one order; every unit taken once, none oversold)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
