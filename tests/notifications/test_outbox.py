"""The email outbox: written with the event, delivered by tick through real SMTP, retried with
backoff, and never sent twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from farmstore.accounts.models import User
from farmstore.extensions import db
from farmstore.notifications.models import OutboxMessage
from farmstore.notifications.services import STALE_SENDING_AFTER, backoff, deliver_due_messages, queue_email
from farmstore.timeutil import utcnow
from tests.notifications.conftest import queue_reset_email


def outbox_count() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def test_an_email_only_exists_if_the_event_that_caused_it_commits(ctx):
    buyer = User(email="buyer@example.com", display_name="김하늘", password_hash="x")
    db.session.add(buyer)
    queue_email(
        to=buyer.email, template="password_reset", locale="en", now=utcnow(), user=buyer, link="http://x/r", minutes=60
    )

    db.session.rollback()

    assert outbox_count() == 0
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_a_queued_email_waits_in_the_outbox_in_the_recipients_language(ctx):
    now = utcnow()
    english = db.session.get(OutboxMessage, queue_reset_email("en@example.com", locale="en", now=now))
    korean = db.session.get(OutboxMessage, queue_reset_email("ko@example.com", locale="ko", now=now))

    assert (english.status, english.attempts, english.next_attempt_at) == (OutboxMessage.PENDING, 0, now)
    assert english.subject == "Reset your farmstore password"
    assert english.body_text.startswith("Hello 김하늘,")
    assert "http://farmstore.test/reset/abc123" in english.body_text
    assert korean.subject == "팜스토어 비밀번호 재설정"


def test_a_due_email_is_delivered_through_smtp(ctx, mailbox):
    message_id = queue_reset_email("buyer@example.com")
    now = utcnow()

    report = deliver_due_messages(now=now)

    assert report.sent == 1
    [email] = mailbox.messages
    assert email["To"] == "buyer@example.com"
    assert email["Subject"] == "Reset your farmstore password"
    assert email["Message-ID"] == f"<outbox-{message_id}@farmstore>"
    assert "no-reply@" in email["From"]
    assert "http://farmstore.test/reset/abc123" in email.get_content()
    message = db.session.get(OutboxMessage, message_id)
    assert message.status == OutboxMessage.SENT
    assert message.attempts == 1
    assert message.sent_at == now


def test_delivering_again_does_not_send_again(ctx, mailbox):
    queue_reset_email()
    now = utcnow()

    deliver_due_messages(now=now)
    second = deliver_due_messages(now=now + timedelta(hours=1))

    assert second.sent == 0
    assert len(mailbox.messages) == 1


def test_an_email_the_server_accepted_is_sent_even_if_the_goodbye_fails(ctx, rude_smtp):
    message_id = queue_reset_email()
    now = utcnow()

    report = deliver_due_messages(now=now)
    deliver_due_messages(now=now + timedelta(hours=1))

    assert report.sent == 1
    assert len(rude_smtp.messages) == 1
    assert db.session.get(OutboxMessage, message_id).status == OutboxMessage.SENT


def test_an_address_the_server_refuses_for_good_is_not_retried(ctx, refusing_smtp):
    message_id = queue_reset_email("nobody@example.com")

    report = deliver_due_messages(now=utcnow())

    message = db.session.get(OutboxMessage, message_id)
    assert (report.failed, report.retried) == (1, 0)
    assert message.status == OutboxMessage.FAILED
    assert message.attempts == 1
    assert "550" in message.last_error


def test_an_email_queued_for_later_waits_until_it_is_due(ctx, mailbox):
    message_id = queue_reset_email()
    message = db.session.get(OutboxMessage, message_id)
    now = utcnow()
    message.next_attempt_at = now + timedelta(minutes=10)
    db.session.commit()

    assert deliver_due_messages(now=now).sent == 0
    assert deliver_due_messages(now=now + timedelta(minutes=10)).sent == 1
    assert len(mailbox.messages) == 1


def test_while_smtp_is_down_the_email_is_retried_later_with_the_error_kept(ctx, mailbox, smtp_down):
    message_id = queue_reset_email()
    now = utcnow()

    report = deliver_due_messages(now=now)

    assert report.retried == 1
    message = db.session.get(OutboxMessage, message_id)
    assert message.status == OutboxMessage.PENDING
    assert message.attempts == 1
    assert message.next_attempt_at == now + backoff(1)
    assert "ConnectionRefusedError" in message.last_error
    assert mailbox.messages == []


def test_once_smtp_is_back_the_email_goes_out_at_its_next_attempt(ctx, mailbox, smtp_down):
    message_id = queue_reset_email()
    now = utcnow()
    deliver_due_messages(now=now)
    smtp_down.restore()

    too_early = deliver_due_messages(now=now + backoff(1) - timedelta(seconds=1))
    on_time = deliver_due_messages(now=now + backoff(1))

    assert too_early.sent == 0
    assert on_time.sent == 1
    assert len(mailbox.messages) == 1
    message = db.session.get(OutboxMessage, message_id)
    assert message.status == OutboxMessage.SENT
    assert message.attempts == 2


def test_backoff_doubles_from_a_minute_up_to_six_hours():
    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert backoff(30) == timedelta(hours=6)


@pytest.mark.app_config(MAIL_MAX_ATTEMPTS=3)
def test_after_the_last_attempt_the_email_is_marked_failed_and_left_alone(ctx, mailbox, smtp_down):
    message_id = queue_reset_email()
    now = utcnow()
    reports = []
    for _ in range(3):
        reports.append(deliver_due_messages(now=now))
        now = db.session.get(OutboxMessage, message_id).next_attempt_at

    message = db.session.get(OutboxMessage, message_id)
    assert [(r.retried, r.failed) for r in reports] == [(1, 0), (1, 0), (0, 1)]
    assert message.status == OutboxMessage.FAILED
    assert message.attempts == 3
    assert "ConnectionRefusedError" in message.last_error
    smtp_down.restore()
    assert deliver_due_messages(now=now + timedelta(days=1)).sent == 0
    assert mailbox.messages == []


def test_an_email_left_sending_by_a_crashed_tick_becomes_unknown_and_is_not_resent(ctx, mailbox):
    stale_id, recent_id = queue_reset_email("stale@example.com"), queue_reset_email("recent@example.com")
    now = utcnow()
    for message_id, claimed in (
        (stale_id, STALE_SENDING_AFTER + timedelta(seconds=1)),
        (recent_id, timedelta(minutes=5)),
    ):
        message = db.session.get(OutboxMessage, message_id)
        message.status, message.claimed_at, message.attempts = OutboxMessage.SENDING, now - claimed, 1
    db.session.commit()

    report = deliver_due_messages(now=now)

    assert report.abandoned == 1
    assert db.session.get(OutboxMessage, stale_id).status == OutboxMessage.UNKNOWN
    assert db.session.get(OutboxMessage, recent_id).status == OutboxMessage.SENDING  # maybe still going
    assert deliver_due_messages(now=now + timedelta(days=1)).sent == 0
    assert mailbox.messages == []


def test_concurrent_ticks_deliver_each_email_exactly_once(app, mailbox):
    with app.app_context():
        message_ids = [queue_reset_email(f"buyer{n}@example.com") for n in range(20)]
    now = utcnow()
    start = threading.Barrier(4)
    reports, errors = [], []

    def tick() -> None:
        with app.app_context():
            start.wait()
            try:
                reports.append(deliver_due_messages(now=now))
            except Exception as exc:  # surfaced by the assertion below
                errors.append(exc)

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(r.sent for r in reports) == 20
    assert sorted(m["Message-ID"] for m in mailbox.messages) == sorted(f"<outbox-{i}@farmstore>" for i in message_ids)
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage)).all()
        assert {(m.status, m.attempts) for m in rows} == {(OutboxMessage.SENT, 1)}


def test_flask_farm_tick_sends_the_due_mail(app, runner, mailbox):
    with app.app_context():
        message_id = queue_reset_email("buyer@example.com")

    result = runner.invoke(args=["farm", "tick"])

    assert result.exit_code == 0, result.output
    assert "sent=1" in result.output
    assert [m["To"] for m in mailbox.messages] == ["buyer@example.com"]
    with app.app_context():
        assert db.session.get(OutboxMessage, message_id).status == OutboxMessage.SENT
