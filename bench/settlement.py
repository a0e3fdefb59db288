"""Settlement benchmark: a group-buy of 10,000 pledges reaches its deadline and is settled.

One producer's field is shared out in 10,000 units; 10,000 buyers pledge one unit each (users and
pledges are bulk-inserted, `units_pledged` set to their sum). Half pay at pickup; the others pay
by a card each saved at localstripe (`save_card`, concurrently), started here on a free loopback
port with its disk persistence turned off. Then `settle_due_group_buys(now=after the deadline)`
is timed: pickup pledges become due, card pledges are charged off-session one by one.

    python -m bench.settlement [--pledges 10000] [--card-pledges 5000] [--batch 200] [--workers 8]

Prints pledges settled per second (overall, and per way of paying from the time spent in each
pledge's charge) and peak memory: tracemalloc's peak during settlement (tracing slows Python, so
the rates are measured with it on) and the process's maximum resident set size. Then checks that
every pledge was settled exactly once with one payment each; a mismatch exits with 1.
"""

from __future__ import annotations

import argparse
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, update

from bench.common import bench_app, fresh_database
from farmstore.accounts.models import User
from farmstore.accounts.passwords import hash_password
from farmstore.extensions import db
from farmstore.groupbuys import services as groupbuys
from farmstore.groupbuys.models import GroupBuy, Pledge
from farmstore.payments import stripe_flow
from farmstore.payments.models import Payment
from farmstore.producers.models import Producer
from farmstore.sales.services import PICKUP_CODE_ALPHABET, PICKUP_CODE_LENGTH, create_pickup_point
from farmstore.stories.services import create_subject
from farmstore.timeutil import utcnow
from farmstore.villages.models import Village

UNIT_PRICE = 18_000
SECRET_KEY = "sk_test_farmstore_bench"  # noqa: S105 (localstripe accepts any key)

# localstripe from Python, not its CLI: the CLI listens on every interface and pickles its whole
# store to disk on every write (see tests/payments/conftest.py).
_SERVER = """
import sys
from aiohttp import web
from localstripe import resources
resources.Store.dump_to_disk = lambda self: None
resources.Store.try_load_from_disk = lambda self: None
from localstripe.server import app
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Localstripe:
    """localstripe in a subprocess on a free loopback port, for the duration of a `with` block."""

    def __enter__(self) -> str:
        port = free_port()
        self.log = tempfile.NamedTemporaryFile("w+", prefix="localstripe-", suffix=".log", delete=False)
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and script)
            [sys.executable, "-c", _SERVER, str(port)], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return f"http://127.0.0.1:{port}"
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise SystemExit(f"localstripe did not start:\n{Path(self.log.name).read_text()}") from None
                time.sleep(0.1)

    def __exit__(self, *_exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def seed(*, pledges: int, now) -> tuple[int, list[int]]:
    """A producer, a field and an open group-buy of `pledges` units with a buyer account per unit.
    Returns the group-buy's id and the buyers' ids. Call in an app context."""
    password_hash = hash_password(secrets.token_urlsafe(12))  # slow on purpose, so once for everyone
    farmer = User(email="farmer@bench.example", display_name="김농부", password_hash=password_hash, locale="ko")
    village = Village(name="햇살마을", slug="bench-village", region="gangwon")
    producer = Producer(
        user=farmer, village=village, farm_name="햇살 배추밭", slug="bench-farm", about="배추를 키웁니다."
    )
    db.session.add(producer)
    db.session.commit()
    subject = create_subject(
        producer=producer, by=farmer, kind="field", name="북쪽 배추밭", started_on=date(2024, 8, 20),
        breed="김장 배추", location="강원 평창", description="8월 말에 심은 김장 배추.", now=now,
    )  # fmt: skip
    point = create_pickup_point(
        producer=producer, by=farmer, name="망원시장 동문", address="서울 마포구 포은로 8길 14", area="마포구",
        now=now,
    )  # fmt: skip
    deadline = now + timedelta(hours=1)
    group_buy = groupbuys.create_group_buy(
        producer=producer, by=farmer, subject_id=subject.id, title="북쪽 밭 김장 배추 함께 사기",
        story="11월 중순에 수확합니다.", unit_label="3 포기 한 망", unit_price=UNIT_PRICE, total_units=pledges,
        min_units=pledges * 8 // 10, per_buyer_max=2, deadline=deadline, pickup_point_id=point.id,
        pickup_starts_at=deadline + timedelta(days=14), pickup_ends_at=deadline + timedelta(days=14, hours=3),
        now=now,
    )  # fmt: skip
    groupbuys.open_group_buy(group_buy, by=farmer, now=now)
    db.session.execute(
        insert(User),
        [
            {"email": f"buyer{n}@bench.example", "display_name": f"구매자 {n}", "password_hash": password_hash,
             "locale": "ko", "created_at": now, "password_changed_at": now}
            for n in range(pledges)
        ],
    )  # fmt: skip
    db.session.commit()
    buyer_ids = list(db.session.scalars(select(User.id).where(User.id != farmer.id).order_by(User.id)))
    return group_buy.id, buyer_ids


def save_cards(app, buyer_ids: list[int], *, workers: int) -> dict[int, str]:
    """A card saved at localstripe for each buyer (their own Customer), `workers` at a time."""

    def save(buyer_id: int) -> tuple[int, str]:
        with app.app_context():
            return buyer_id, stripe_flow.save_card(db.session.get(User, buyer_id), "pm_card_visa")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(save, buyer_ids))


def insert_pledges(group_buy_id: int, buyer_ids: list[int], cards: dict[int, str], *, now) -> None:
    """One unit pledged by every buyer, by card if they have one saved, and `units_pledged` set
    to the sum, as the `pledge` service would leave them. Call in an app context."""
    codes: set[str] = set()
    while len(codes) < len(buyer_ids):
        codes.add("".join(secrets.choice(PICKUP_CODE_ALPHABET) for _ in range(PICKUP_CODE_LENGTH)))
    db.session.execute(
        insert(Pledge),
        [
            {"group_buy_id": group_buy_id, "buyer_id": buyer_id, "units": 1, "status": "active",
             "payment_method": "stripe" if buyer_id in cards else "pickup",
             "card_payment_method_id": cards.get(buyer_id), "show_name": False, "pickup_code": code,
             "created_at": now, "updated_at": now}
            for buyer_id, code in zip(buyer_ids, codes, strict=True)
        ],
    )  # fmt: skip
    pledged = select(func.sum(Pledge.units)).where(Pledge.group_buy_id == group_buy_id).scalar_subquery()
    db.session.execute(update(GroupBuy).where(GroupBuy.id == group_buy_id).values(units_pledged=pledged))
    db.session.commit()


def timed_charges() -> tuple[dict[str, float], dict[str, int], Callable[[], None]]:
    """Wrap the service's per-pledge `_charge` to add up the time spent per way of paying.
    Returns the totals, the counts, and a function that puts the original back."""
    seconds: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    original = groupbuys._charge

    def charge(group_buy, record, *, now):
        method = record.payment_method
        began = time.perf_counter()
        try:
            return original(group_buy, record, now=now)
        finally:
            seconds[method] += time.perf_counter() - began
            counts[method] += 1

    groupbuys._charge = charge

    def restore() -> None:
        groupbuys._charge = original

    return seconds, counts, restore


def problems_after(group_buy_id: int, *, pledges: int, card_pledges: int, settled: int) -> list[str]:
    """Everything that does not add up once the group-buy is settled."""
    problems = []
    if settled != pledges:
        problems.append(f"settlement reported {settled} pledges settled, not {pledges}")
    group_buy = db.session.get(GroupBuy, group_buy_id)
    if group_buy.status != "succeeded" or group_buy.settled_at is None:
        problems.append(f"group-buy is {group_buy.status}, settled_at {group_buy.settled_at}")
    by_status = dict(
        db.session.execute(
            select(Pledge.status, func.count()).where(Pledge.group_buy_id == group_buy_id).group_by(Pledge.status)
        ).all()
    )
    expected = {"due": pledges - card_pledges, "paid": card_pledges}
    if by_status != {status: n for status, n in expected.items() if n}:
        problems.append(f"pledges by status {by_status}, expected {expected}")
    unsettled = db.session.scalar(
        select(func.count()).where(Pledge.group_buy_id == group_buy_id, Pledge.settled_at.is_(None))
    )
    if unsettled:
        problems.append(f"{unsettled} pledges have no settled_at")
    payment_count, paid_pledges = db.session.execute(
        select(func.count(Payment.id), func.count(func.distinct(Payment.pledge_id)))
        .join(Pledge, Payment.pledge_id == Pledge.id)
        .where(Pledge.group_buy_id == group_buy_id)
    ).one()
    if not payment_count == paid_pledges == pledges:
        problems.append(f"{payment_count} payments for {paid_pledges} pledges; expected one for each of {pledges}")
    wrong = db.session.scalar(
        select(func.count())
        .select_from(Payment)
        .join(Pledge, Payment.pledge_id == Pledge.id)
        .where(
            Pledge.group_buy_id == group_buy_id,
            (Payment.amount != Pledge.units * UNIT_PRICE)
            | (Payment.provider != Pledge.payment_method)
            | ((Payment.provider == "stripe") & (Payment.status != "succeeded"))
            | ((Payment.provider == "pickup") & (Payment.status != "pending")),
        )
    )
    if wrong:
        problems.append(f"{wrong} payments differ from their pledge (amount, provider or status)")
    again = groupbuys.settle_due_group_buys(now=group_buy.deadline + timedelta(minutes=1))
    if again:
        problems.append(f"a second settlement run settled {again} more pledges")
    return problems


def main() -> int:
    """Seed, save the cards, settle once under measurement, print the figures, check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pledges", type=int, default=10_000)
    parser.add_argument("--card-pledges", type=int, default=None, help="pledges paid by card (default: half)")
    parser.add_argument("--batch", type=int, default=groupbuys.SETTLEMENT_BATCH, help="pledges per settlement batch")
    parser.add_argument("--no-tracemalloc", action="store_true", help="settle without tracing allocations")
    parser.add_argument("--workers", type=int, default=8, help="threads saving cards at localstripe")
    args = parser.parse_args()
    card_pledges = args.pledges // 2 if args.card_pledges is None else min(args.card_pledges, args.pledges)

    with fresh_database() as url, Localstripe() as stripe_url:
        app = bench_app(
            url, STRIPE_SECRET_KEY=SECRET_KEY, STRIPE_PUBLISHABLE_KEY="pk_test_farmstore_bench",
            STRIPE_API_BASE=stripe_url, STRIPE_SETUP_FUTURE_USAGE=None, PAYMENT_PROVIDERS=["pickup", "stripe"],
            SQLALCHEMY_ENGINE_OPTIONS={"pool_size": args.workers + 2, "max_overflow": 0},
        )  # fmt: skip
        began = time.perf_counter()
        with app.app_context():
            group_buy_id, buyer_ids = seed(pledges=args.pledges, now=utcnow())
        card_buyers = (buyer_ids[1::2] + buyer_ids[::2])[:card_pledges]  # every other pledge, interleaved
        print(f"seeded {args.pledges} buyers in {time.perf_counter() - began:.1f} s", flush=True)
        began = time.perf_counter()
        cards = save_cards(app, card_buyers, workers=args.workers)
        print(f"saved {len(cards)} cards at localstripe in {time.perf_counter() - began:.1f} s", flush=True)

        with app.app_context():
            insert_pledges(group_buy_id, buyer_ids, cards, now=utcnow())
            group_buy = db.session.get(GroupBuy, group_buy_id)
            after_deadline = group_buy.deadline + timedelta(minutes=1)
            db.session.commit()
            seconds, counts, restore = timed_charges()
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            if not args.no_tracemalloc:
                tracemalloc.start()
            try:
                began = time.perf_counter()
                settled = groupbuys.settle_due_group_buys(now=after_deadline, batch=args.batch)
                elapsed = time.perf_counter() - began
                traced_peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
                restore()
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            problems = problems_after(group_buy_id, pledges=args.pledges, card_pledges=len(cards), settled=settled)
            db.engine.dispose()

    print(
        f"\nsettlement of one group-buy: {args.pledges} pledges ({args.pledges - len(cards)} pay at pickup, "
        f"{len(cards)} by saved card at localstripe), batches of {args.batch}, PostgreSQL"
    )
    print(f"  overall: {settled} pledges in {elapsed:.2f} s = {settled / elapsed:.0f} pledges/s")
    for method, label in (("pickup", "pay at pickup"), ("stripe", "card (off-session charge)")):
        if counts[method]:
            rate = counts[method] / seconds[method]
            per = seconds[method] / counts[method] * 1000
            print(f"  {label}: {counts[method]} pledges, {rate:.0f} pledges/s ({per:.1f} ms each)")
    if not args.no_tracemalloc:
        print(f"  peak memory: tracemalloc {traced_peak / 2**20:.1f} MiB during settlement (rates measured with it on)")
    print(f"  max RSS of the process: {rss_before / 1024:.0f} MiB before settlement, {rss_after / 1024:.0f} MiB after")
    if problems:
        print("  settlement: INCONSISTENT\n    " + "\n    ".join(problems))
        return 1
    print("  settlement: consistent (every pledge settled once, one payment each, a second run settles none)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
