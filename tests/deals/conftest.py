"""Helpers for the market deal tests: a market with two stalls, a farm village elsewhere, buyers
and an operator; deals made through the real services. Service tests run at the fixed NOW
(12:00 in Seoul); assertions are on the English source text."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

import pytest

from farmstore.deals import services
from farmstore.extensions import db
from farmstore.groupbuys.models import GroupBuy
from tests.english import client, ctx  # noqa: F401 (fixtures, found by pytest by name)
from tests.factories import make_producer, make_user, make_village

NOW = datetime(2025, 9, 1, 3, 0, tzinfo=UTC)  # 12:00 on 1 September in Seoul
TOMORROW = date(2025, 9, 2)
HOUR = timedelta(hours=1)


def make_stall(producer, *, number: str = "가-12", opens: time = time(9), closes: time = time(18)):
    return services.save_stall(
        producer=producer, by=producer.user, number=number, location="생선 골목", opens_at=opens, closes_at=closes,
        now=NOW,
    )  # fmt: skip


def make_deal(
    producer, *, day: date = TOMORROW, minimum: int = 3, cap: int = 10, per_buyer: int = 3, price: int = 5_000,
    face_value: int | None = 10_000, redeem_days: int = 0, now: datetime = NOW,
):  # fmt: skip
    """A deal of `producer`'s stall on `day`: drops at 10:00, tips at 14:00, valid until closing."""
    return services.create_deal(
        producer=producer, by=producer.user, title="만원 쿠폰을 오천원에", day=day, drop_time=time(10),
        deadline_time=time(14), price=price, face_value=face_value, item="", min_coupons=minimum, cap=cap,
        per_buyer=per_buyer, redeem_days=redeem_days, now=now,
    )  # fmt: skip


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """`hour`:`minute` in Seoul on `day`, in UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=9)


def drop(deal, *, now: datetime | None = None) -> None:
    services.drop_due_deals(now=now or at(deal.deal_date, 10))
    db.session.refresh(deal)


def build_world() -> SimpleNamespace:
    market = make_village("중앙시장", kind="market")
    fish = make_producer(make_user("fish@example.com", display_name="생선가게 박씨"), market, farm_name="박씨네 생선")
    fruit = make_producer(make_user("fruit@example.com"), market, farm_name="과일가게")
    make_stall(fish)
    make_stall(fruit, number="나-3")
    return SimpleNamespace(
        market=market,
        fish=fish,
        fruit=fruit,
        farm=make_producer(make_user("farm@example.com"), make_village("들꽃마을"), farm_name="들꽃 농장"),
        buyer=make_user("buyer@example.com", display_name="이하나", locale="en"),
        second=make_user("second@example.com", display_name="박두리"),
        operator=make_user("op@example.com", is_operator=True),
        stranger=make_user("stranger@example.com"),
    )


@pytest.fixture
def world(ctx) -> SimpleNamespace:  # noqa: F811 (the English ctx imported above)
    return build_world()


def group_buy_of(deal) -> GroupBuy:
    db.session.expire_all()
    return db.session.get(GroupBuy, deal.group_buy_id)
