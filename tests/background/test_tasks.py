"""Every tick job is a Celery task with one beat schedule; the tasks do the same due work as
`flask farm tick`, which keeps working without Celery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.exceptions import Retry
from sqlalchemy import select

from farmstore.extensions import db
from farmstore.notifications.models import OutboxMessage
from farmstore.tasks import JOB_TASKS, SCHEDULE_SECONDS, _due_in, deliver_message, job_task_name
from farmstore.tick import JOBS
from farmstore.timeutil import utcnow
from tests.notifications.conftest import queue_reset_email


def test_every_tick_job_is_a_registered_celery_task_scheduled_every_minute(app):
    celery_app = app.extensions["celery"]
    schedule = celery_app.conf.beat_schedule

    assert set(schedule) == {name for name, _job in JOBS}
    for name, _job in JOBS:
        assert job_task_name(name) in celery_app.tasks
        assert schedule[name]["task"] == job_task_name(name)
        assert schedule[name]["schedule"] == SCHEDULE_SECONDS == 60
        assert schedule[name]["options"]["expires"] <= 60  # a stale run is dropped, never piled up
    assert "farmstore.deliver_message" in celery_app.tasks


def test_without_a_broker_nothing_is_configured_to_leave_the_process(app):
    assert app.config["CELERY_BROKER_URL"] is None
    assert app.extensions["celery"].conf.broker_url == "memory://"


def test_the_mail_task_sends_the_due_outbox_in_the_tasks_own_app_context(ctx, mailbox):
    message_id = queue_reset_email("buyer@example.com")
    db.session.remove()

    report = JOB_TASKS["mail"].apply().get()

    assert report == {"sent": 1, "retried": 0, "failed": 0, "abandoned": 0}
    assert [m["Message-ID"] for m in mailbox.messages] == [f"<outbox-{message_id}@farmstore>"]
    assert db.session.get(OutboxMessage, message_id).status == OutboxMessage.SENT


def test_delivering_one_message_twice_sends_it_once(ctx, mailbox):
    message_id = queue_reset_email("buyer@example.com")

    assert deliver_message.apply(args=(message_id,)).get() == "sent"
    assert deliver_message.apply(args=(message_id,)).get() == "skipped"
    assert JOB_TASKS["mail"].apply().get()["sent"] == 0
    assert len(mailbox.messages) == 1


def test_a_message_not_yet_due_is_left_for_later(ctx, mailbox):
    message_id = queue_reset_email("buyer@example.com", now=utcnow() + timedelta(minutes=5))

    assert deliver_message.apply(args=(message_id,)).get() == "skipped"
    assert mailbox.messages == []
    assert db.session.scalar(select(OutboxMessage.status).where(OutboxMessage.id == message_id)) == "pending"


def test_a_transient_smtp_failure_is_retried_by_the_task_after_the_outbox_backoff(ctx, smtp_down):
    message_id = queue_reset_email("buyer@example.com")

    with pytest.raises(Retry):  # called directly, Celery raises the retry it would schedule
        deliver_message(message_id)

    message = db.session.get(OutboxMessage, message_id)
    assert (message.status, message.attempts) == (OutboxMessage.PENDING, 1)
    assert message.next_attempt_at > utcnow()
    assert 55 <= _due_in(message_id) <= 61  # the retry waits for the outbox's first backoff, a minute


def test_flask_farm_tick_still_runs_every_job_in_process(app, runner, mailbox):
    with app.app_context():
        queue_reset_email("buyer@example.com")

    result = runner.invoke(args=["farm", "tick"])

    assert result.exit_code == 0, result.output
    for name, _job in JOBS:
        assert f"'{name}'" in result.output
    assert len(mailbox.messages) == 1
