"""Writing emails to the outbox and delivering them."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import select, update

from farmstore.extensions import db
from farmstore.notifications.mail import build_email, send_email
from farmstore.notifications.models import OutboxMessage

STALE_SENDING_AFTER = timedelta(minutes=15)
MAX_BACKOFF = timedelta(hours=6)


def queue_email(*, to: str, template: str, locale: str | None, now: datetime, **context) -> OutboxMessage:
    """Render `templates/emails/<template>.txt` in the recipient's language (its first line is
    the subject) and add it to the outbox. The caller's transaction commits it, so the email
    exists exactly when the event that caused it does."""
    with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        rendered = render_template(f"emails/{template}.txt", **context)
    subject, _, body = rendered.strip().partition("\n")
    message = OutboxMessage(
        to_address=to,
        subject=subject.strip()[:200],
        body_text=body.strip() + "\n",
        created_at=now,
        next_attempt_at=now,
    )
    db.session.add(message)
    return message


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt: one minute, doubling, at most six hours."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


@dataclass
class DeliveryReport:
    """What one delivery run did: sent, will retry, gave up, found interrupted."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    abandoned: int = 0


def is_permanent(error: Exception) -> bool:
    """SMTP said no for good (a 5xx reply, e.g. no such mailbox): retrying cannot help."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _reply in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and 500 <= error.smtp_code < 600


def _claim(message_id: int, now: datetime) -> bool:
    """Atomically move one due message from pending to sending; False if another tick won."""
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxMessage.PENDING)
        .values(status=OutboxMessage.SENDING, claimed_at=now, attempts=OutboxMessage.attempts + 1)
    )
    db.session.commit()
    return result.rowcount == 1


def deliver_due_messages(*, now: datetime, limit: int = 200) -> DeliveryReport:
    """Send due outbox messages. Each is claimed and committed before SMTP is touched and
    marked sent right after, so a message is never handed to SMTP twice; failures are retried
    with backoff up to MAIL_MAX_ATTEMPTS."""
    report = DeliveryReport()
    stale = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxMessage.SENDING,
            OutboxMessage.claimed_at < now - STALE_SENDING_AFTER,
        )
        .values(status=OutboxMessage.UNKNOWN, last_error="interrupted while sending; not retried")
    )
    report.abandoned = stale.rowcount
    db.session.commit()

    due_ids = db.session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == OutboxMessage.PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    ).all()
    for message_id in due_ids:
        outcome = _deliver(message_id, now=now)
        if outcome == "sent":
            report.sent += 1
        elif outcome == "retry":
            report.retried += 1
        elif outcome == "failed":
            report.failed += 1
    return report


def deliver_message(message_id: int, *, now: datetime) -> str:
    """Send one outbox message if it is due (a worker's task, enqueued after the commit that wrote
    it). Returns "sent", "retry" (left pending with backoff), "failed" or "skipped" (not due, or
    already claimed by another worker or the mail job)."""
    due = db.session.scalar(
        select(OutboxMessage.id).where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == OutboxMessage.PENDING,
            OutboxMessage.next_attempt_at <= now,
        )
    )
    return "skipped" if due is None else _deliver(message_id, now=now)


def _deliver(message_id: int, *, now: datetime) -> str:
    """Claim one message and hand it to the transport; the outcome is committed right after."""
    config = current_app.config
    if not _claim(message_id, now):
        return "skipped"
    message = db.session.get(OutboxMessage, message_id)
    try:
        send_email(build_email(message, config["MAIL_FROM"]), config)
    except Exception as exc:  # any transport failure is retried or given up on, never lost
        message.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if is_permanent(exc) or message.attempts >= config["MAIL_MAX_ATTEMPTS"]:
            message.status = OutboxMessage.FAILED
            outcome = "failed"
        else:
            message.status = OutboxMessage.PENDING
            message.next_attempt_at = now + backoff(message.attempts)
            outcome = "retry"
    else:
        message.status = OutboxMessage.SENT
        message.sent_at = now
        outcome = "sent"
    db.session.commit()
    return outcome
