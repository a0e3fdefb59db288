"""No over-pledging, ever: many buyers at once, each in its own thread with its own app context,
session and database connection, all released together by a barrier, racing for the last units of
a group-buy. Meant for PostgreSQL (TEST_DATABASE_URL), where the UPDATEs really overlap; on SQLite
the database serialises the writers and the same invariants must hold."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from flask_babel import force_locale
from sqlalchemy import event, func, select, text

from farmstore.accounts.models import User
from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.groupbuys.models import HOLDING_PLEDGE_STATUSES, GroupBuy, Pledge
from farmstore.groupbuys.services import pledge, withdraw
from tests.factories import make_user
from tests.groupbuys.conftest import NOW, make_group_buy, pledged

THREADS = 60
LAST_UNITS = 40

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
    """Run every job in its own thread, app context and connection, released at once by a barrier.
    Each outcome is ("ok", result), ("refused", message) or ("crashed", description)."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list[tuple[str, object]] = [("not run", None)] * len(jobs)

    def run(index: int, job: Callable[[], object]) -> None:
        """One thread: take a connection, wait for the others, run the job and note what happened."""
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


def pledging(group_buy_id: int, buyer_id: int, units: int) -> Callable[[], int]:
    """A job: this buyer pledges `units`; returns the units pledged."""

    def job() -> int:
        """Load the group-buy and buyer in this thread's session and pledge."""
        group_buy = db.session.get(GroupBuy, group_buy_id)
        return pledge(group_buy=group_buy, buyer=db.session.get(User, buyer_id), units=units, now=NOW).units

    return job


def test_sixty_buyers_racing_for_the_last_forty_units_never_over_pledge(app, world):
    group_buy = make_group_buy(world.producer, total=100, minimum=50, per_buyer_max=60)
    pledge(group_buy=group_buy, buyer=world.buyer, units=100 - LAST_UNITS, now=NOW)
    racers = [make_user(f"racer{n}@example.com").id for n in range(THREADS)]
    wants = [1 + n % 2 for n in range(THREADS)]  # 90 units wanted for 40
    outcomes = race(app, [pledging(group_buy.id, b, u) for b, u in zip(racers, wants, strict=True)])

    kinds = Counter(kind for kind, _ in outcomes)
    assert kinds["crashed"] == 0, [o for o in outcomes if o[0] == "crashed"]
    assert kinds["ok"] + kinds["refused"] == THREADS
    won = sum(result for kind, result in outcomes if kind == "ok")
    assert won == LAST_UNITS  # 90 wanted: the units run out exactly, none left over, none oversold
    assert all(message.startswith("Only ") for kind, message in outcomes if kind == "refused")
    assert pledged(group_buy.id) == (100, 100)
    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 1 + kinds["ok"]


def test_one_buyer_pledging_from_many_tabs_at_once_gets_one_pledge(app, world):
    group_buy = make_group_buy(world.producer, total=100, minimum=50, per_buyer_max=5)
    outcomes = race(app, [pledging(group_buy.id, world.buyer.id, 1 + n % 5) for n in range(12)])
    assert not [o for o in outcomes if o[0] == "crashed"]
    stored, held = pledged(group_buy.id)
    assert stored == held
    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 1
    assert 1 <= stored <= 5


def withdrawing(pledge_id: int) -> Callable[[], int]:
    """A job: the pledge's buyer withdraws it; returns 0 (no units held any more)."""

    def job() -> int:
        """Load the pledge in this thread's session and withdraw it."""
        record = db.session.get(Pledge, pledge_id)
        withdraw(record, by=record.buyer, now=NOW)
        return 0

    return job


def test_changes_and_withdrawals_of_one_pledge_at_once_keep_the_count_exact(app, world):
    group_buy = make_group_buy(world.producer, total=100, minimum=50, per_buyer_max=5)
    first = pledge(group_buy=group_buy, buyer=world.buyer, units=3, now=NOW)
    jobs = [
        withdrawing(first.id) if n % 3 == 0 else pledging(group_buy.id, world.buyer.id, 1 + n % 5) for n in range(15)
    ]
    outcomes = race(app, jobs)
    assert not [o for o in outcomes if o[0] == "crashed"]
    stored, held = pledged(group_buy.id)
    assert stored == held
    holding = db.session.scalar(
        select(func.count()).select_from(Pledge).where(Pledge.status.in_(HOLDING_PLEDGE_STATUSES))
    )
    assert holding <= 1
