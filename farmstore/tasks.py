"""Background work on Celery with Redis as the broker (the Flask docs' `celery_init_app` pattern).

Every job of `farmstore.tick.JOBS` is a Celery task, and one beat schedule, built from JOBS here,
runs each of them every minute. Deadlines stay in the database: each task asks for the work that is
due now and claims it with conditional UPDATEs, so a task is safe to run twice or on two workers at
once. `flask farm tick` runs the same jobs in-process for development and small installs.

Work a request causes and that need not block the response (mail in the outbox) is enqueued after
the transaction commits (`enqueue_after_commit`), only when a broker is configured; otherwise the
tick picks it up as before. Processes (see README, "Production"):

    celery -A farmstore.worker worker --loglevel INFO
    celery -A farmstore.worker beat --loglevel INFO
"""

from __future__ import annotations

import dataclasses
import logging

from celery import Celery, Task, shared_task
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from farmstore.tick import JOBS
from farmstore.timeutil import utcnow

log = logging.getLogger(__name__)

TASK_PREFIX = "farmstore.job."
SCHEDULE_SECONDS = 60.0
# Retries for one outbox message handed to a worker, spaced by the outbox's exponential backoff
# (1, 2, 4 ... minutes); a database outage is retried after 30 s, 60 s, 120 s ... at most an hour.
DELIVERY_RETRIES = 6
RETRY_BACKOFF_MAX = 3600
# Publishing to the broker after a commit: a few quick tries, then the tick's mail job is the net.
PUBLISH_RETRY_POLICY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2}


def job_task_name(job_name: str) -> str:
    """The Celery name of the task that runs tick job `job_name`."""
    return TASK_PREFIX + job_name


def beat_schedule() -> dict[str, dict]:
    """The one schedule: every tick job once a minute. A run that has waited a whole minute in
    the queue is dropped (`expires`): the next one does the same due work."""
    return {
        name: {"task": job_task_name(name), "schedule": SCHEDULE_SECONDS, "options": {"expires": SCHEDULE_SECONDS}}
        for name, _job in JOBS
    }


def celery_init_app(app: Flask) -> Celery:
    """Bind a Celery app to `app`: every task runs inside an application context."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    config = app.config
    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.conf.update(
        broker_url=config["CELERY_BROKER_URL"] or "memory://",
        result_backend=config["CELERY_RESULT_BACKEND"],
        task_ignore_result=not config["CELERY_RESULT_BACKEND"],
        beat_schedule=beat_schedule(),
        timezone="UTC",
        enable_utc=True,
        task_acks_late=True,  # a worker killed mid-task leaves it to another: every task is idempotent
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        accept_content=["json"],
        **config.get("CELERY_EXTRA", {}),
    )
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def celery_enabled() -> bool:
    """True when a broker is configured: work is then enqueued rather than left to the tick."""
    return bool(current_app.config.get("CELERY_BROKER_URL"))


def _report(value: object) -> object:
    """A job's report as JSON for the result backend."""
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return value


def _job_task(job_name: str, job):
    """Register the Celery task that runs one tick job now."""

    def run() -> object:
        return _report(job(now=utcnow()))

    run.__name__ = run.__qualname__ = f"run_{job_name}"
    run.__doc__ = f"Tick job {job_name!r} (farmstore.tick.JOBS), due work as of now."
    return shared_task(name=job_task_name(job_name), autoretry_for=(OperationalError,), max_retries=3)(run)


JOB_TASKS = {name: _job_task(name, job) for name, job in JOBS}


@shared_task(bind=True, name="farmstore.deliver_message", max_retries=DELIVERY_RETRIES)
def deliver_message(self, message_id: int) -> str:
    """Send one outbox message now. It is claimed (pending → sending) before SMTP is touched, so a
    message enqueued twice or also picked up by the mail job is sent once. A transient failure
    leaves it pending with the outbox's backoff, and this task retries with exponential backoff."""
    from farmstore.notifications.services import deliver_message as deliver

    try:
        outcome = deliver(message_id, now=utcnow())
    except OperationalError as exc:  # the database was away: try again shortly
        raise self.retry(exc=exc, countdown=_countdown(self.request.retries)) from exc
    if outcome == "retry":  # try again when the outbox's backoff says the message is due
        raise self.retry(countdown=_due_in(message_id))
    return outcome


def _countdown(retries: int) -> int:
    """30 s, doubling with every retry, at most RETRY_BACKOFF_MAX."""
    return min(30 * 2**retries, RETRY_BACKOFF_MAX)


def _due_in(message_id: int) -> int:
    """Seconds until the outbox message is due again (its backoff), at least one."""
    from farmstore.extensions import db
    from farmstore.notifications.models import OutboxMessage

    due = db.session.get(OutboxMessage, message_id).next_attempt_at
    return max(1, min(int((due - utcnow()).total_seconds()) + 1, RETRY_BACKOFF_MAX))


@shared_task(
    name="farmstore.notify_followers", autoretry_for=(OperationalError,), retry_backoff=30, retry_backoff_max=600,
    max_retries=5,
)  # fmt: skip
def notify_followers(post_id: int) -> int:
    """Email the followers of a new story's producer (batched, once each even on two workers)."""
    from farmstore.regulars.services import notify_followers_of_post

    return notify_followers_of_post(post_id, now=utcnow())


# Enqueue after commit ------------------------------------------------------------------------

_PENDING = "farmstore_after_commit"


def enqueue_after_commit(session: Session, task, *args) -> None:
    """Send `task(*args)` to the broker once `session`'s transaction commits; nothing if it rolls
    back. Without a broker (development) this does nothing: the tick does the work."""
    if not celery_enabled():
        return
    session.info.setdefault(_PENDING, []).append((task, args))


def _publish(session: Session) -> None:
    """After a commit: hand every waiting task to the broker. A broker that is away is logged and
    forgotten: the periodic job finds the work in the database a minute later."""
    waiting = session.info.pop(_PENDING, [])
    for task, args in waiting:
        try:
            task.apply_async(args=args, retry=True, retry_policy=PUBLISH_RETRY_POLICY)
        except Exception:  # never fail a committed request because the broker is away
            log.warning("could not enqueue %s%s; the periodic job will do it", task.name, args, exc_info=True)


def _forget(session: Session, *_args) -> None:
    """After a rollback: the work the transaction would have caused does not exist."""
    session.info.pop(_PENDING, None)


def _new_outbox_messages(session: Session, _flush_context) -> None:
    """After a flush: every outbox message just inserted is delivered by a worker after commit."""
    from farmstore.notifications.models import OutboxMessage

    for obj in session.new:
        if isinstance(obj, OutboxMessage) and obj.id is not None:
            enqueue_after_commit(session, deliver_message, obj.id)


def _register_session_events() -> None:
    """Listen on every ORM session (the app's scoped sessions included)."""
    if not event.contains(Session, "after_commit", _publish):
        event.listen(Session, "after_flush", _new_outbox_messages)
        event.listen(Session, "after_commit", _publish)
        event.listen(Session, "after_rollback", _forget)


_register_session_events()
