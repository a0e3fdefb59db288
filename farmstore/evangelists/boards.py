"""The evangelist's village dashboard and impact: a handful of grouped queries whatever the number
of producers (no query per producer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from farmstore.evangelists.models import Adoption, Helper
from farmstore.evangelists.moderation import visible
from farmstore.extensions import db
from farmstore.groupbuys.models import GroupBuy
from farmstore.inquiries.services import answer_stats, unanswered_over
from farmstore.producers.models import Producer
from farmstore.regulars.models import Follow
from farmstore.sales.models import Order, Sale
from farmstore.stories.models import StoryPost, Subject
from farmstore.timeutil import local_to_utc, local_today
from farmstore.villages.models import Village

QUIET_AFTER = timedelta(days=30)
UNANSWERED_AFTER_HOURS = 24
PAID_ORDER_STATUSES = ("confirmed", "picked_up")


@dataclass
class ProducerRow:
    """One producer's line on the dashboard."""

    producer: Producer
    last_story_at: datetime | None = None
    open_sales: int = 0
    open_group_buys: int = 0
    unanswered: int = 0
    median_answer_seconds: float | None = None
    orders_this_month: int = 0
    revenue_this_month: int = 0
    followers_this_month: int = 0
    attention: list = field(default_factory=list)

    @property
    def median_answer_hours(self) -> int | None:
        """The median answer time in whole hours, rounded up (at least 1)."""
        if self.median_answer_seconds is None:
            return None
        return max(1, -int(-self.median_answer_seconds // 3600))


@dataclass
class VillageBoard:
    """Every producer's row, the producers who need attention with the reasons, and the questions
    still waiting for an answer (oldest first; `late_questions` are those over 24 hours)."""

    rows: list[ProducerRow]
    open_questions: list
    late_questions: list

    @property
    def needs_attention(self) -> list[ProducerRow]:
        return [row for row in self.rows if row.attention]


def month_start(now: datetime) -> datetime:
    """The first moment of this calendar month where the producers are, in UTC."""
    zone = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    first = local_today(now, zone).replace(day=1)
    return local_to_utc(datetime.combine(first, time.min), zone)


def _grouped(query) -> dict[int, tuple]:
    """{producer_id: rest of the row} for a query whose first column is the producer id."""
    return {row[0]: tuple(row[1:]) for row in db.session.execute(query)}


def village_board(village: Village, *, now: datetime) -> VillageBoard:
    """Per producer of the village: last story, open sales and group-buys, unanswered questions and
    median answer time, this month's paid orders and revenue, followers gained this month; and who
    needs attention (no story in 30 days, a question unanswered for over 24 hours)."""
    producers = list(
        db.session.scalars(
            select(Producer)
            .where(Producer.village_id == village.id)
            .options(selectinload(Producer.user))
            .order_by(Producer.farm_name, Producer.id)
        )
    )
    ids = [p.id for p in producers]
    if not ids:
        return VillageBoard(rows=[], open_questions=[], late_questions=[])
    since = month_start(now)
    last_story = _grouped(
        select(Subject.producer_id, func.max(StoryPost.created_at))
        .join(StoryPost, StoryPost.subject_id == Subject.id)
        .where(Subject.producer_id.in_(ids), visible(StoryPost))
        .group_by(Subject.producer_id)
    )
    sales = _grouped(
        select(Sale.producer_id, func.count())
        .where(Sale.producer_id.in_(ids), Sale.open_filter(now))
        .group_by(Sale.producer_id)
    )
    group_buys = _grouped(
        select(GroupBuy.producer_id, func.count())
        .where(GroupBuy.producer_id.in_(ids), GroupBuy.status == "open", GroupBuy.deadline > now)
        .group_by(GroupBuy.producer_id)
    )
    orders = _grouped(
        select(Sale.producer_id, func.count(Order.id), func.coalesce(func.sum(Order.total), 0))
        .join(Order, Order.sale_id == Sale.id)
        .where(Sale.producer_id.in_(ids), Order.status.in_(PAID_ORDER_STATUSES), Order.created_at >= since)
        .group_by(Sale.producer_id)
    )
    follows = _grouped(
        select(Follow.producer_id, func.count())
        .where(Follow.producer_id.in_(ids), Follow.created_at >= since)
        .group_by(Follow.producer_id)
    )
    questions = answer_stats(ids, now)
    waiting = unanswered_over(ids, 0, now)
    late = [q for q in waiting if q.asked_at <= now - timedelta(hours=UNANSWERED_AFTER_HOURS)]
    late_by_producer = {q.producer_id for q in late}
    rows = []
    for producer in producers:
        unanswered, _oldest, median = questions.get(producer.id, (0, None, None))
        row = ProducerRow(
            producer=producer,
            last_story_at=last_story.get(producer.id, (None,))[0],
            open_sales=sales.get(producer.id, (0,))[0],
            open_group_buys=group_buys.get(producer.id, (0,))[0],
            unanswered=unanswered,
            median_answer_seconds=median,
            orders_this_month=orders.get(producer.id, (0, 0))[0],
            revenue_this_month=int(orders.get(producer.id, (0, 0))[1]),
            followers_this_month=follows.get(producer.id, (0,))[0],
        )
        if row.last_story_at is None or row.last_story_at < now - QUIET_AFTER:
            row.attention.append(_l("No story in 30 days"))
        if producer.id in late_by_producer:
            row.attention.append(_l("A question unanswered for over 24 hours"))
        rows.append(row)
    return VillageBoard(rows=rows, open_questions=waiting, late_questions=late)


@dataclass
class Impact:
    """What an evangelist's work added up to while they looked after their village."""

    producers_onboarded: int
    stories_together: int
    sales: int
    orders: int
    revenue: int


def impact(user) -> Impact:
    """Producers they onboarded by invitation; published story posts written together with them
    ("written with", set when a draft of theirs is published); and the sales, paid orders and
    revenue of their village's producers since their adoption started."""
    onboarded = db.session.scalar(
        select(func.count()).select_from(Helper).where(Helper.user_id == user.id, Helper.invitation_id.is_not(None))
    )
    together = db.session.scalar(
        select(func.count()).select_from(StoryPost).where(StoryPost.written_with_id == user.id, visible(StoryPost))
    )
    adoption = db.session.scalar(select(Adoption).where(Adoption.user_id == user.id, Adoption.status == "active"))
    sales = orders = revenue = 0
    if adoption is not None:
        village_sales = (
            select(Sale.id)
            .join(Producer, Producer.id == Sale.producer_id)
            .where(Producer.village_id == adoption.village_id, Sale.created_at >= adoption.started_at)
        )
        sales = db.session.scalar(select(func.count()).select_from(village_sales.subquery()))
        orders, revenue = db.session.execute(
            select(func.count(Order.id), func.coalesce(func.sum(Order.total), 0)).where(
                Order.sale_id.in_(village_sales), Order.status.in_(PAID_ORDER_STATUSES)
            )
        ).one()
    return Impact(
        producers_onboarded=onboarded, stories_together=together, sales=sales, orders=orders, revenue=int(revenue)
    )
