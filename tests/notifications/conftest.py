"""Outbox helpers: queueing a real email, an SMTP port that refuses connections, and a server that
fails the goodbye after accepting the message."""

from __future__ import annotations

import socket
from datetime import datetime

import pytest
from aiosmtpd.controller import Controller

from farmstore.extensions import db
from farmstore.notifications.services import queue_email
from farmstore.timeutil import utcnow
from tests.conftest import Mailbox, free_port
from tests.factories import make_user


def queue_reset_email(to: str = "buyer@example.com", *, locale: str = "en", now: datetime | None = None) -> int:
    """Queue and commit a password-reset email (a template every install has); its outbox id."""
    message = queue_email(
        to=to,
        template="password_reset",
        locale=locale,
        now=now or utcnow(),
        user=make_user(display_name="김하늘"),
        link="http://farmstore.test/reset/abc123",
        minutes=60,
    )
    db.session.commit()
    return message.id


@pytest.fixture
def smtp_down(app, mailbox):
    """Point the app at a port that refuses connections; `smtp_down.restore()` brings mail back.

    The port is bound but never listened on, so nothing else can take it during the test."""

    class SmtpDown:
        def restore(self) -> None:
            app.config["SMTP_PORT"] = mailbox.port

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        app.config["SMTP_PORT"] = sock.getsockname()[1]
        yield SmtpDown()


class RudeMailbox(Mailbox):
    """Accepts every message, then answers QUIT with an error instead of 221."""

    async def handle_QUIT(self, server, session, envelope):
        return "421 Going away now"


class RefusingMailbox(Mailbox):
    """Refuses every recipient for good, as a server does for a mailbox that does not exist."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 No such mailbox"


@pytest.fixture
def refusing_smtp(app):
    """An SMTP server that refuses every recipient with a permanent 5xx; the app sends through it."""
    mailbox = RefusingMailbox(port=free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    app.config["SMTP_PORT"] = mailbox.port
    yield mailbox
    controller.stop()


@pytest.fixture
def rude_smtp(app):
    """An SMTP server that takes the message but fails the goodbye; the app sends through it."""
    mailbox = RudeMailbox(port=free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    app.config["SMTP_PORT"] = mailbox.port
    yield mailbox
    controller.stop()
