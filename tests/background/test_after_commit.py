"""Mail written by a request is handed to a Celery worker right after the transaction commits,
only when a broker is configured; a transaction that rolls back enqueues nothing; a broker that is
away never fails the request (the mail job sends the message a minute later)."""

from __future__ import annotations

import json
import logging

import pytest
import redis

from farmstore.extensions import db
from farmstore.notifications.models import OutboxMessage
from farmstore.notifications.services import queue_email
from farmstore.tasks import JOB_TASKS
from farmstore.timeutil import utcnow
from tests.background.workers import TEST_REDIS_URL, empty_redis
from tests.factories import make_user

needs_redis = pytest.mark.skipif(not TEST_REDIS_URL, reason="set TEST_REDIS_URL: the broker is Redis")


@pytest.fixture
def queue():
    """The Redis list Celery's default queue lives in, emptied before and after the test."""
    empty_redis(TEST_REDIS_URL)
    connection = redis.Redis.from_url(TEST_REDIS_URL)

    def enqueued() -> list[tuple[str, list]]:
        """(task name, args) of every message waiting in the queue, oldest first."""
        messages = [json.loads(raw) for raw in reversed(connection.lrange("celery", 0, -1))]
        return [(m["headers"]["task"], json.loads(_body(m))[0]) for m in messages]

    yield enqueued
    connection.close()
    empty_redis(TEST_REDIS_URL)


def _body(message: dict) -> str:
    import base64

    return base64.b64decode(message["body"]).decode()


def write_email(to: str = "buyer@example.com") -> OutboxMessage:
    """A password-reset email in the session (not yet committed)."""
    user = make_user(to.replace("@", "+u@"), display_name="김하늘")
    return queue_email(
        to=to, template="password_reset", locale="en", now=utcnow(), user=user, link="http://x/r", minutes=60
    )


@needs_redis
@pytest.mark.app_config(CELERY_BROKER_URL=TEST_REDIS_URL)
def test_a_committed_email_is_enqueued_for_a_worker_after_the_commit(ctx, queue):
    message = write_email()
    db.session.flush()
    assert queue() == []  # flushed is not committed: nothing leaves before the commit

    db.session.commit()

    assert queue() == [("farmstore.deliver_message", [message.id])]


@needs_redis
@pytest.mark.app_config(CELERY_BROKER_URL=TEST_REDIS_URL)
def test_a_rolled_back_transaction_enqueues_nothing(ctx, queue):
    write_email()
    db.session.flush()  # the row had an id and was noted for enqueueing

    db.session.rollback()
    db.session.commit()  # a later commit must not publish what the rollback undid

    assert queue() == []
    assert db.session.query(OutboxMessage).count() == 0


@needs_redis
@pytest.mark.app_config(CELERY_BROKER_URL=TEST_REDIS_URL)
def test_each_commit_enqueues_only_its_own_messages(ctx, queue):
    first = write_email("one@example.com")
    db.session.commit()
    second = write_email("two@example.com")
    db.session.commit()

    assert queue() == [("farmstore.deliver_message", [first.id]), ("farmstore.deliver_message", [second.id])]


def test_without_a_broker_nothing_is_enqueued_and_the_tick_sends_it(ctx, mailbox):
    write_email()
    db.session.commit()

    assert not db.session.info.get("farmstore_after_commit")
    assert JOB_TASKS["mail"].apply().get()["sent"] == 1
    assert len(mailbox.messages) == 1


@pytest.mark.app_config(CELERY_BROKER_URL="redis://127.0.0.1:9/0")  # nothing listens on port 9
def test_a_broker_that_is_away_never_fails_the_commit(ctx, mailbox, caplog):
    message = write_email()
    with caplog.at_level(logging.WARNING, logger="farmstore.tasks"):
        db.session.commit()

    assert "could not enqueue farmstore.deliver_message" in caplog.text
    assert db.session.get(OutboxMessage, message.id).status == OutboxMessage.PENDING
    assert JOB_TASKS["mail"].apply().get()["sent"] == 1  # the periodic mail job is the safety net
