"""The demo looks like a real place whenever it is seeded: pickups fall in daytime in Seoul."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from farmstore import demo
from farmstore.extensions import db
from farmstore.groupbuys.models import GroupBuy
from farmstore.sales.models import Sale

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.mark.parametrize("hour_utc", [15, 3])  # midnight and noon in Seoul
def test_demo_pickups_are_in_daylight_in_seoul(app, hour_utc):
    with app.app_context():
        demo.seed(now=datetime(2026, 12, 4, hour_utc, 17, tzinfo=UTC))
        windows = [(s.pickup_starts_at, s.pickup_ends_at) for s in db.session.scalars(select(Sale))]
        windows += [
            (g.pickup_starts_at, g.pickup_ends_at) for g in db.session.scalars(select(GroupBuy)) if g.pickup_starts_at
        ]
    assert len(windows) >= 5
    for start, end in windows:
        start, end = start.astimezone(SEOUL), end.astimezone(SEOUL)
        assert start.hour >= 10 and end.hour <= 14 and start < end and start.date() == end.date()
