"""Two real Celery worker processes, four threads each, run the same due work at once: group-buy
settlement (one group-buy that made its minimum, one that did not) with many pledges in small
batches, a new story fanned out to the producer's regulars in small batches, the mail job, and the
per-message delivery tasks enqueued after each commit. Every pledge is settled once and gets one
payment at most, every regular is told once, and every email reaches SMTP exactly once.
Meant for PostgreSQL (TEST_DATABASE_URL), where the workers' transactions really overlap; needs a
Redis database for the broker (TEST_REDIS_URL)."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from farmstore.extensions import db
from farmstore.groupbuys.models import GroupBuy, Pledge
from farmstore.groupbuys.services import pledge
from farmstore.notifications.models import OutboxMessage
from farmstore.payments.models import Payment
from farmstore.regulars.services import follow
from farmstore.stories.services import write_post
from farmstore.tasks import JOB_TASKS, notify_followers
from tests.background.workers import TEST_REDIS_URL, Workers, empty_redis
from tests.factories import make_user
from tests.groupbuys.conftest import DAY, NOW, build_world, make_group_buy

BUYERS = 40
RUNS = 6  # of each job, all enqueued at once

pytestmark = [
    pytest.mark.skipif(not TEST_REDIS_URL, reason="set TEST_REDIS_URL: the workers need a Redis broker"),
    pytest.mark.app_config(CELERY_BROKER_URL=TEST_REDIS_URL, CELERY_RESULT_BACKEND=TEST_REDIS_URL),
]


@pytest.fixture
def workers(app, database_url, mailbox, tmp_path):
    empty_redis(TEST_REDIS_URL)
    workers = Workers(
        database_url=database_url, redis_url=TEST_REDIS_URL, smtp_port=mailbox.port, log_dir=tmp_path,
        GROUP_BUY_SETTLEMENT_BATCH="7", FOLLOWER_FANOUT_BATCH="3",
    )  # fmt: skip
    yield workers
    workers.stop()
    empty_redis(TEST_REDIS_URL)


def wait_for(condition, *, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
        db.session.expire_all()


def test_two_workers_settle_every_pledge_once_and_send_every_email_once(app, ctx, workers, mailbox):
    world = build_world()
    on = make_group_buy(world.producer, total=100, minimum=BUYERS, per_buyer_max=2, title="배추", deadline=NOW + DAY)
    off = make_group_buy(world.producer, total=500, minimum=400, per_buyer_max=2, title="무", deadline=NOW + DAY)
    for n in range(BUYERS):
        buyer = make_user(f"buyer{n}@example.com", locale="en")
        pledge(group_buy=on, buyer=buyer, units=1, now=NOW)
        pledge(group_buy=off, buyer=buyer, units=1 + n % 2, now=NOW)
        follow(user=buyer, producer=world.producer, now=NOW)
    post = write_post(world.field, by=world.producer.user, happened_on=None, title="첫 서리", body="…", now=NOW)
    # The deadline passed: the workers' clock is the real one, long after NOW + DAY.
    celery_app = app.extensions["celery"]
    workers.start(2)
    workers.wait_ready(celery_app)

    jobs = [JOB_TASKS[name] for name in ("group_buy_settlement", "story_followers", "mail")]
    results = [task.delay() for _ in range(RUNS) for task in jobs]
    results += [notify_followers.delay(post.id) for _ in range(RUNS)]  # as if enqueued after many commits
    reports = [result.get(timeout=180) for result in results]  # a task that crashed raises here

    settled = sum(r for r in reports[0 : 3 * RUNS : 3])
    assert settled == 2 * BUYERS  # every pledge settled by exactly one of the runs
    told = sum(r for r in reports[1 : 3 * RUNS : 3]) + sum(reports[3 * RUNS :])
    assert told <= BUYERS  # (the fan-out enqueued when the post was committed may have told some)
    db.session.expire_all()
    statuses = Counter(db.session.scalars(select(Pledge.status)))
    assert statuses == {"due": BUYERS, "released": BUYERS}
    payments = Counter(db.session.scalars(select(Payment.pledge_id)))
    assert len(payments) == BUYERS and set(payments.values()) == {1}  # one payment per pledge that is on
    for group_buy in (on, off):
        db.session.refresh(group_buy)
        assert group_buy.settled_at is not None
    assert {gb.status for gb in db.session.scalars(select(GroupBuy))} == {"succeeded", "failed"}

    # Mail: written by settlement, delivered by the tasks enqueued after each commit and the mail job.
    total = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    assert total >= 3 * BUYERS  # at least "it's on", "released" and "new story" for every buyer
    story_emails = Counter(
        db.session.scalars(select(OutboxMessage.to_address).where(OutboxMessage.subject.like("New story%")))
    )
    assert len(story_emails) == BUYERS and set(story_emails.values()) == {1}
    wait_for(lambda: db.session.scalar(select(func.count()).where(OutboxMessage.status == "sent")) == total)
    time.sleep(1)  # anything sent twice would arrive now
    ids = Counter(message["Message-ID"] for message in mailbox.messages)
    assert len(ids) == total
    assert set(ids.values()) == {1}, [i for i, c in ids.items() if c > 1]
    assert workers.succeeded(0) > 0 and workers.succeeded(1) > 0  # both workers took part
