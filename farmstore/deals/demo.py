"""The market deals' part of `flask farm seed-demo`: 강릉 중앙시장 gets five stalls; yesterday's deal
tipped and its coupons are out (지연 used one of hers and still holds one); today's deal is on
sale, 37 of the 50 coupons it needs; tomorrow's deal is planned. Idempotent."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import select

from farmstore.accounts.services import find_user_by_email, register_user
from farmstore.deals import services
from farmstore.deals.models import Coupon, Deal
from farmstore.demo import DEMO_PASSWORD, paint
from farmstore.extensions import db
from farmstore.groupbuys.services import settle_due_group_buys
from farmstore.producers.services import create_producer
from farmstore.timeutil import utc_to_local
from farmstore.villages.models import Village

MARKET = "강릉 중앙시장"
STALLS = [
    # email, owner, stall name, about, number, location, opens, closes, scene
    ("stall-fish@farmstore.example", "박순자", "순자네 생선", "주문진에서 새벽에 들어온 생선을 손질해 드려요.",
     "가-12", "생선 골목", time(7), time(19), "pasture"),
    ("stall-fruit@farmstore.example", "김영수", "영수네 과일", "강릉 사과와 제철 과일을 직접 골라 와요.",
     "나-3", "동문 쪽 과일 골목", time(8), time(20), "cabbage"),
    ("stall-rice@farmstore.example", "최말순", "말순 떡집", "매일 아침 찌는 쑥떡과 인절미.",
     "다-7", "떡 골목 입구", time(6), time(18), "tea"),
    ("stall-tofu@farmstore.example", "정두부", "초당 두부", "초당 바닷물 간수로 만든 순두부.",
     "라-1", "북문 옆", time(7), time(17), "tea"),
    ("stall-dried@farmstore.example", "이건어", "강릉 건어물", "오징어, 황태, 멸치를 말려 팔아요.",
     "마-20", "지하 건어물 골목", time(9), time(19), "pasture"),
]  # fmt: skip


def _stalls(market: Village, now: datetime) -> list:
    producers = []
    for index, (email, name, stall_name, about, number, where, opens, closes, scene) in enumerate(STALLS):
        user = find_user_by_email(email) or register_user(
            email=email, password=DEMO_PASSWORD, display_name=name, locale="ko", now=now
        )
        if user.producer is None:
            create_producer(
                user=user, farm_name=stall_name, village_id=market.id, about=about, contact="", now=now,
                photo=paint(scene, 40 + index),
            )  # fmt: skip
        producer = user.producer
        if services.stall_of(producer) is None:
            services.save_stall(
                producer=producer, by=user, number=number, location=where, opens_at=opens, closes_at=closes, now=now
            )
        producers.append(producer)
    return producers


def seed_deals(*, now: datetime) -> None:
    """Add whatever part of the market deals' demo is missing."""
    market = db.session.scalar(select(Village).where(Village.name == MARKET))
    if market is None:
        return
    fish, fruit, rice, tofu, _dried = _stalls(market, now)
    if db.session.scalar(select(Deal.id).where(Deal.village_id == market.id)) is not None:
        return
    today = services.market_today(now)
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    planned = now - timedelta(days=3)
    buyers = [find_user_by_email(e) for e in ("jiyeon@farmstore.example", "minho@farmstore.example",
                                              "sora@farmstore.example", "daniel@farmstore.example")]  # fmt: skip

    # Yesterday: 생선 coupons, 10,000원 for 5,000원; it tipped, coupons valid for a week.
    past = services.create_deal(
        producer=fish, by=fish.user, title="만 원어치 생선을 오천 원에", day=yesterday, drop_time=time(10),
        deadline_time=time(14), price=5_000, face_value=10_000, item="", min_coupons=5, cap=30, per_buyer=3,
        redeem_days=7, story="손질까지 해 드려요. 쿠폰 한 장에 만 원어치.", now=planned,
    )  # fmt: skip
    services.drop_due_deals(now=past.drop_at)
    for buyer, coupons in zip([*buyers, fruit.user, rice.user], (2, 3, 1, 2, 1, 1), strict=True):
        services.buy_coupons(deal=past, buyer=buyer, coupons=coupons, now=past.drop_at + timedelta(hours=1))
    decided = past.group_buy.deadline + timedelta(minutes=1)
    settle_due_group_buys(now=decided)
    services.issue_coupons(now=decided)
    first = db.session.scalar(select(Coupon).where(Coupon.buyer_id == buyers[0].id).order_by(Coupon.id))
    services.redeem(producer=fish, code=first.code, by=fish.user, now=decided + timedelta(hours=2))

    # Today: 사과 2 kg for 9,900원, 37 of the 50 it needs, on sale until 23:30.
    current = services.create_deal(
        producer=fruit, by=fruit.user, title="강릉 사과 2 kg 9,900원", day=today, drop_time=_an_hour_ago(now),
        deadline_time=time(23, 30), price=9_900, face_value=None, item="사과 2 kg", min_coupons=50, cap=80,
        per_buyer=10, redeem_days=7, story="아침에 딴 사과를 2 kg씩 담아 드려요.", now=planned,
    )  # fmt: skip
    services.drop_due_deals(now=now)
    db.session.refresh(current)
    if current.state(now) == "live":  # (not in the first minutes after midnight)
        for buyer, coupons in zip([*buyers, fish.user, tofu.user], (10, 10, 8, 5, 2, 2), strict=True):
            services.buy_coupons(deal=current, buyer=buyer, coupons=coupons, now=now)

    # Tomorrow: 떡 coupons, planned ahead.
    services.create_deal(
        producer=rice, by=rice.user, title="인절미 한 팩 쿠폰", day=tomorrow, drop_time=time(9), deadline_time=time(12),
        price=3_000, face_value=None, item="인절미 한 팩 (500 g)", min_coupons=20, cap=40, per_buyer=2, redeem_days=0,
        now=planned,
    )  # fmt: skip


def _an_hour_ago(now: datetime) -> time:
    """An hour before `now` at the market, on five minutes, and never before 00:05 of today."""
    local = utc_to_local(now, current_app.config["BABEL_DEFAULT_TIMEZONE"])
    if local.hour == 0:
        return time(0, 5)
    earlier = (local - timedelta(hours=1)).time()
    return time(earlier.hour, earlier.minute - earlier.minute % 5)
