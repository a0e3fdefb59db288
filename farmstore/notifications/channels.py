"""Telling people about something through the channels they can be reached on. Email is the one
channel today; a second one (a push or a messenger) is a class with `send`, added to CHANNELS."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from farmstore.notifications.services import queue_email


class Channel(Protocol):
    """One way of reaching a member: it writes the message into the caller's transaction."""

    name: str

    def send(self, user, *, template: str, now: datetime, **context) -> None:
        """Queue the message rendered from `template` for `user` (the caller commits)."""


class EmailChannel:
    """Email through the outbox: `templates/emails/<template>.txt` in the member's language."""

    name = "email"

    def send(self, user, *, template: str, now: datetime, **context) -> None:
        queue_email(to=user.email, template=template, locale=user.locale, now=now, **context)


CHANNELS: dict[str, Channel] = {"email": EmailChannel()}


def notify(users: Iterable, *, template: str, now: datetime, **context) -> int:
    """Send `template` to each member on every channel (caller commits). Returns messages queued."""
    sent = 0
    for user in users:
        for channel in CHANNELS.values():
            channel.send(user, template=template, now=now, **context)
            sent += 1
    return sent
