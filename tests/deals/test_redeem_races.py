"""Exactly once, under real concurrency (PostgreSQL via TEST_DATABASE_URL; SQLite serialises the
writers and the same invariants must hold): 20 stall phones redeeming one coupon at the same
moment, and two deals planned for the same market and day at the same moment."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import time

import pytest
from flask_babel import force_locale
from sqlalchemy import event, func, select, text

from farmstore.deals import services
from farmstore.deals.models import Coupon, Deal
from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.groupbuys.services import settle_due_group_buys
from farmstore.payments.models import LedgerEntry
from farmstore.producers.models import Producer
from tests.deals.conftest import NOW, TOMORROW, at, drop, make_deal

THREADS = 20

pytestmark = pytest.mark.app_config(
    SQLALCHEMY_ENGINE_OPTIONS={"pool_size": THREADS + 5, "max_overflow": 0, "pool_timeout": 120}
)


@pytest.fixture(autouse=True)
def patient_sqlite(app):
    """On SQLite, writers queue for the one write lock: let each wait up to a minute."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "checkout", lambda conn, _record, _proxy: conn.execute("PRAGMA busy_timeout=60000"))


def race(app, jobs: list[Callable[[], object]]) -> list[tuple[str, object]]:
    """Every job in its own thread, app context and connection, released at once by a barrier."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list[tuple[str, object]] = [("not run", None)] * len(jobs)

    def run(index: int, job: Callable[[], object]) -> None:
        with app.app_context(), force_locale("en"):
            db.session.execute(text("SELECT 1"))
            barrier.wait(timeout=120)
            try:
                outcomes[index] = ("ok", job())
            except DomainError as error:
                outcomes[index] = ("refused", str(error.message))
            except Exception as error:  # a deadlock or a broken constraint: the test fails
                outcomes[index] = ("crashed", f"{type(error).__name__}: {error}")
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)
    db.session.expire_all()
    return outcomes


def test_twenty_phones_redeeming_one_coupon_at_once_one_wins(app, world):
    deal = make_deal(world.fish, minimum=1)
    drop(deal)
    services.buy_coupons(deal=deal, buyer=world.buyer, coupons=1, now=at(TOMORROW, 11))
    settle_due_group_buys(now=at(TOMORROW, 14, 1))
    services.issue_coupons(now=at(TOMORROW, 14, 1))
    code = db.session.scalar(select(Coupon.code))
    fish_id = world.fish.id

    def redeeming() -> int:
        producer = db.session.get(Producer, fish_id)
        return services.redeem(producer=producer, code=code, by=producer.user, now=at(TOMORROW, 15)).collect

    outcomes = race(app, [redeeming] * THREADS)
    kinds = Counter(kind for kind, _ in outcomes)
    assert kinds == {"ok": 1, "refused": THREADS - 1}, outcomes
    assert [result for kind, result in outcomes if kind == "ok"] == [5_000]  # collected once, at the stall
    assert all("already used" in message for kind, message in outcomes if kind == "refused")
    assert db.session.scalar(select(func.count()).select_from(Coupon).where(Coupon.redeemed_at.is_not(None))) == 1
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "payment")) == 1


def test_two_deals_for_one_market_day_at_once_one_is_saved(app, world):
    ids = (world.fish.id, world.fruit.id)

    def planning(producer_id: int) -> Callable[[], int]:
        def job() -> int:
            producer = db.session.get(Producer, producer_id)
            return services.create_deal(
                producer=producer, by=producer.user, title="딜", day=TOMORROW, drop_time=time(10),
                deadline_time=time(14), price=1_000, face_value=2_000, item="", min_coupons=1, cap=5, per_buyer=1,
                redeem_days=0, now=NOW,
            ).id  # fmt: skip

        return job

    outcomes = race(app, [planning(ids[n % 2]) for n in range(8)])
    kinds = Counter(kind for kind, _ in outcomes)
    assert kinds == {"ok": 1, "refused": 7}, outcomes
    assert all("already has a deal" in message for kind, message in outcomes if kind == "refused")
    assert db.session.scalar(select(func.count()).select_from(Deal)) == 1
