"""Time helpers: every stored time is UTC; code that depends on "now" takes it as an argument."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite has no time zones and PostgreSQL's `timestamptz` hands back the session's zone;
    this type makes both return aware UTC datetimes and refuses naive ones on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC time is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def local_today(now: datetime, time_zone: str) -> date:
    """The calendar date at `now` where the users are (Asia/Seoul by default)."""
    return now.astimezone(ZoneInfo(time_zone)).date()


def local_to_utc(value: datetime, time_zone: str) -> datetime:
    """A wall-clock time typed by a user in `time_zone` (naive) as an aware UTC datetime."""
    return value.replace(tzinfo=ZoneInfo(time_zone)).astimezone(UTC)


def utc_to_local(value: datetime, time_zone: str) -> datetime:
    """An aware UTC datetime as naive wall-clock time in `time_zone` (to fill a form)."""
    return value.astimezone(ZoneInfo(time_zone)).replace(tzinfo=None)
