"""Due work run by `flask farm tick`: each area adds its job here (mail delivery first).

Every job takes `now` and must be safe to run again after a crash or alongside another tick.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from farmstore.notifications.services import deliver_due_messages

JOBS: list[tuple[str, Callable[..., object]]] = [
    ("mail", deliver_due_messages),
]


def run_tick(*, now: datetime) -> dict[str, object]:
    """Run every job once and return what each reported."""
    return {name: job(now=now) for name, job in JOBS}
