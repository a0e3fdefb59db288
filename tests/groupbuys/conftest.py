"""Helpers for the group-buy tests: a farm with a field, a pickup point and buyers; group-buys made
and opened through the real services; and counts of what settlement wrote.

Service tests run at the fixed NOW; view tests place their deadlines around the real clock, because
the views ask it for the time. Assertions are on the English source text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from farmstore.extensions import db
from farmstore.groupbuys.models import HOLDING_PLEDGE_STATUSES, GroupBuy, Pledge
from farmstore.groupbuys.services import create_group_buy, open_group_buy
from farmstore.notifications.models import OutboxMessage
from farmstore.payments.models import Payment
from farmstore.producers.models import Producer
from farmstore.stories.models import Subject
from tests.english import client, ctx  # noqa: F401 (fixtures, found by pytest by name)
from tests.factories import make_producer, make_user, make_village
from tests.sales.conftest import make_point
from tests.stories.conftest import make_subject

NOW = datetime(2025, 9, 1, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def make_group_buy(
    producer: Producer, *, now: datetime = NOW, deadline: datetime | None = None, total: int = 120,
    minimum: int = 80, per_buyer_max: int = 10, title: str = "북쪽 밭 배추", opened: bool = True,
) -> GroupBuy:  # fmt: skip
    """A delivered group-buy of `producer`'s first field (made if missing), open at `now` unless
    `opened` is False; the deadline is 30 days after `now` unless given."""
    subject = db.session.scalar(select(Subject).where(Subject.producer_id == producer.id).order_by(Subject.id))
    if subject is None:
        subject = make_subject(producer, f"북쪽 밭 {producer.id}", kind="field")
    group_buy = create_group_buy(
        producer=producer, by=producer.user, subject_id=subject.id, title=title, unit_label="배추 3포기 한 상자",
        unit_price=18_000, total_units=total, min_units=minimum, per_buyer_max=per_buyer_max,
        deadline=deadline or now + 30 * DAY, delivery_note="11월 중순 택배", now=now,
    )  # fmt: skip
    if opened:
        open_group_buy(group_buy, by=producer.user, now=now)
    return group_buy


def build_world() -> SimpleNamespace:
    """느릅골 농장 (owner@example.com, village 들꽃마을) with a field and a pickup point; another farm
    (other@example.com) elsewhere; buyers buyer@ (이하나) and second@ (박두리)."""
    owner = make_user("owner@example.com", display_name="농부 김씨")
    producer = make_producer(owner, make_village("들꽃마을"), farm_name="느릅골 농장")
    return SimpleNamespace(
        producer=producer,
        field=make_subject(producer, "북쪽 밭", kind="field"),
        point=make_point(producer, now=NOW),
        other=make_producer(make_user("other@example.com"), farm_name="옆집 농장"),
        buyer=make_user("buyer@example.com", display_name="이하나", locale="en"),
        second=make_user("second@example.com", display_name="박두리"),
    )


@pytest.fixture
def world(ctx) -> SimpleNamespace:  # noqa: F811 (the English ctx imported above)
    """The world of `build_world`, as objects, inside an English app context."""
    return build_world()


def pledged(group_buy_id: int) -> tuple[int, int]:
    """(units_pledged as stored, sum of the units of holding pledges), read fresh."""
    db.session.expire_all()
    stored = db.session.get(GroupBuy, group_buy_id).units_pledged
    held = db.session.scalar(
        select(func.coalesce(func.sum(Pledge.units), 0)).where(
            Pledge.group_buy_id == group_buy_id, Pledge.status.in_(HOLDING_PLEDGE_STATUSES)
        )
    )
    return stored, held


def statuses(group_buy_id: int) -> list[str]:
    """Status of every pledge of the group-buy, by id."""
    db.session.expire_all()
    return list(
        db.session.scalars(select(Pledge.status).where(Pledge.group_buy_id == group_buy_id).order_by(Pledge.id))
    )


def payments_per_pledge(group_buy_id: int) -> dict[int, int]:
    """How many Payment rows each pledge of the group-buy has (pledges without one are left out)."""
    rows = db.session.execute(
        select(Payment.pledge_id, func.count())
        .join(Pledge, Pledge.id == Payment.pledge_id)
        .where(Pledge.group_buy_id == group_buy_id)
        .group_by(Payment.pledge_id)
    )
    return dict(rows.all())


def emails_to() -> dict[str, int]:
    """How many outbox messages each address has."""
    rows = db.session.execute(select(OutboxMessage.to_address, func.count()).group_by(OutboxMessage.to_address))
    return dict(rows.all())
