"""Question rules: a buyer asks a producer; the producer or their village's evangelist answers
once; answers are public unless asked privately; unanswered questions are reminded after 12 hours
and escalated to the evangelist after 24, each exactly once."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import selectinload

from farmstore.catalog.models import Product
from farmstore.errors import DomainError, NotAllowed, NotFound
from farmstore.evangelists.moderation import hide_content, register_hideable, visible
from farmstore.evangelists.services import helps, village_evangelist
from farmstore.extensions import db
from farmstore.groupbuys.models import GroupBuy
from farmstore.inquiries.models import ABOUT_KINDS, BODY_MAX_LENGTH, KINDS, TOPICS, Question
from farmstore.notifications.services import queue_email
from farmstore.producers.models import Producer
from farmstore.sales.models import Sale
from farmstore.stories.models import Subject
from farmstore.urls import external_url
from farmstore.villages.models import Village

REMIND_AFTER = timedelta(hours=12)
ESCALATE_AFTER = timedelta(hours=24)
STATS_WINDOW = timedelta(days=90)
BADGE_MEDIAN = timedelta(hours=24)
BADGE_MIN_ANSWERS = 3
WEEK = timedelta(days=7)
ABOUT_MODELS = {"product": Product, "subject": Subject, "sale": Sale, "group_buy": GroupBuy}

register_hideable("question", Question, _l("Question"), lambda question: question.producer)


# ---------------------------------------------------------------- asking and answering


def ask_question(
    *, producer: Producer, asker, body: str, topic: str, kind: str = "question", private: bool = False,
    about_kind: str = "producer", about_id: int | None = None, now: datetime,
) -> Question:  # fmt: skip
    """A signed-in buyer asks a producer a question (or makes a complaint) from one of the
    producer's pages. The producer is told by email. Nobody asks their own farm."""
    if asker is None or not asker.is_authenticated:
        raise NotAllowed(_l("Sign in to ask a question."))
    if producer.is_owned_by(asker):
        raise DomainError(_l("This is your own farm: buyers ask you here."))
    body = body.strip()
    if not body:
        raise DomainError(_l("Write your question."), field="body")
    if len(body) > BODY_MAX_LENGTH:
        raise DomainError(_l("Use at most %(n)d characters.", n=BODY_MAX_LENGTH), field="body")
    if topic not in TOPICS:
        raise DomainError(_l("Choose what it is about."), field="topic")
    if kind not in KINDS:
        raise DomainError(_l("Choose question or complaint."), field="kind")
    _check_about(producer, about_kind, about_id)
    question = Question(
        producer=producer, asker=asker, body=body, topic=topic, kind=kind, is_private=private,
        about_kind=about_kind, about_id=about_id if about_kind != "producer" else None, asked_at=now,
    )  # fmt: skip
    db.session.add(question)
    db.session.flush()
    owner = producer.user
    queue_email(
        to=owner.email, template="question_new", locale=owner.locale, now=now, question=question,
        link=external_url("inquiries.inbox", slug=producer.slug),
    )  # fmt: skip
    db.session.commit()
    return question


def _check_about(producer: Producer, about_kind: str, about_id: int | None) -> None:
    """The page a question is asked from must be one of this producer's."""
    if about_kind not in ABOUT_KINDS:
        raise DomainError(_l("Ask from a product, subject, sale or group-buy page."))
    if about_kind == "producer":
        return
    row = db.session.get(ABOUT_MODELS[about_kind], about_id) if about_id else None
    if row is None or row.producer_id != producer.id:
        raise NotFound(_l("No such page."))


def may_answer(user, producer: Producer) -> bool:
    """The producer themselves, or the active evangelist of their village."""
    return producer.is_owned_by(user) or helps(user, producer)


def answer_question(question: Question, *, by, body: str, now: datetime) -> Question:
    """The producer or their village's active evangelist answers an open question, once; the
    evangelist's answer is shown as theirs. Anyone else is refused. The asker is told by email."""
    producer = question.producer
    if not may_answer(by, producer):
        raise NotAllowed(_l("Only the producer or their village's evangelist can answer."))
    if question.is_hidden:
        raise NotFound(_l("No such question."))
    body = body.strip()
    if not body:
        raise DomainError(_l("Write your answer."), field="body")
    if len(body) > BODY_MAX_LENGTH:
        raise DomainError(_l("Use at most %(n)d characters.", n=BODY_MAX_LENGTH), field="body")
    # Conditional UPDATE: of two people answering at once, exactly one wins.
    won = db.session.execute(
        update(Question)
        .where(Question.id == question.id, Question.answered_at.is_(None))
        .values(answer=body, answered_at=now, answered_by_id=by.id, answered_as_evangelist=not producer.is_owned_by(by))
    ).rowcount
    if not won:
        db.session.rollback()
        raise DomainError(_l("This question has already been answered."))
    db.session.expire(question)
    asker = question.asker
    queue_email(
        to=asker.email, template="question_answered", locale=asker.locale, now=now, question=question,
        link=external_url("inquiries.show", question_id=question.id),
    )  # fmt: skip
    db.session.commit()
    return question


def hide_question(question: Question, *, by, reason: str, now: datetime) -> Question:
    """An operator hides an abusive question (and its answer) with a reason; it leaves every
    public list and stops being reminded. The audit trail records it."""
    return hide_content(operator=by, kind="question", item_id=question.id, reason=reason, now=now)


# ---------------------------------------------------------------- reading


def can_see(question: Question, user) -> bool:
    """Hidden: operators only. Answered and public: everyone. Otherwise the asker, the producer
    and the village's evangelist (and operators)."""
    if user is not None and getattr(user, "is_operator", False):
        return True
    if question.is_hidden:
        return False
    if question.is_answered and not question.is_private:
        return True
    if user is None or not user.is_authenticated:
        return False
    return user.id == question.asker_id or may_answer(user, question.producer)


def get_question(question_id: int, viewer) -> Question:
    """The question, if `viewer` may see it; otherwise it does not exist for them."""
    question = load_question(question_id)
    if not can_see(question, viewer):
        raise NotFound(_l("No such question."))
    return question


def load_question(question_id: int) -> Question:
    """The question whoever asks (for actions that check their own permission)."""
    question = db.session.scalar(
        select(Question)
        .where(Question.id == question_id)
        .options(
            selectinload(Question.producer).selectinload(Producer.village),
            selectinload(Question.asker),
            selectinload(Question.answered_by),
        )
    )
    if question is None:
        raise NotFound(_l("No such question."))
    return question


def _with_people(query):
    return query.options(
        selectinload(Question.asker),
        selectinload(Question.answered_by),
        selectinload(Question.producer).selectinload(Producer.village),
    )


def questions_on_page(producer: Producer, *, about_kind: str, about_id: int | None, viewer, limit: int = 10):
    """What a page shows under "Questions": its answered questions that are public (or that the
    viewer may see), and the viewer's own open ones, newest first. Two queries whatever the data."""
    query = _with_people(select(Question)).where(Question.producer_id == producer.id, visible(Question))
    if about_kind != "producer":
        query = query.where(Question.about_kind == about_kind, Question.about_id == about_id)
    if viewer is not None and viewer.is_authenticated and may_answer(viewer, producer):
        shown = Question.answered_at.is_not(None)
    else:
        shown = Question.answered_at.is_not(None) & Question.is_private.is_(False)
        if viewer is not None and viewer.is_authenticated:
            shown = or_(shown, Question.asker_id == viewer.id)
    query = query.where(shown).order_by(Question.asked_at.desc(), Question.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def inbox(producer: Producer, *, by) -> list[Question]:
    """The producer's (or their evangelist's) list: unanswered first, oldest waiting on top;
    then answered, newest first. Hidden ones are left out."""
    if not may_answer(by, producer):
        raise NotAllowed(_l("Only the producer or their village's evangelist can see these questions."))
    query = (
        _with_people(select(Question))
        .where(Question.producer_id == producer.id, visible(Question))
        .order_by(
            Question.answered_at.is_not(None),
            case((Question.answered_at.is_(None), Question.asked_at)),
            Question.answered_at.desc(),
            Question.id,
        )
    )
    return list(db.session.scalars(query))


def questions_asked_by(user) -> list[Question]:
    """A buyer's own questions, newest first."""
    return list(
        db.session.scalars(
            _with_people(select(Question)).where(Question.asker_id == user.id).order_by(Question.asked_at.desc())
        )
    )


# ---------------------------------------------------------------- answer times


def answer_stats(producer_ids, now: datetime) -> dict[int, tuple[int, datetime | None, float | None]]:
    """For each producer: (unanswered questions, when the oldest was asked, median answer time in
    seconds over the answers of the last 90 days). Two queries whatever the number of producers."""
    ids = list(producer_ids)
    stats: dict[int, tuple[int, datetime | None, float | None]] = {pid: (0, None, None) for pid in ids}
    if not ids:
        return stats
    open_rows = db.session.execute(
        select(Question.producer_id, func.count(), func.min(Question.asked_at))
        .where(Question.producer_id.in_(ids), Question.answered_at.is_(None), visible(Question))
        .group_by(Question.producer_id)
    )
    for producer_id, count, oldest in open_rows:
        stats[producer_id] = (count, oldest, None)
    waits: dict[int, list[float]] = defaultdict(list)
    answered = db.session.execute(
        select(Question.producer_id, Question.asked_at, Question.answered_at).where(
            Question.producer_id.in_(ids), Question.answered_at >= now - STATS_WINDOW
        )
    )
    for producer_id, asked_at, answered_at in answered:
        waits[producer_id].append((answered_at - asked_at).total_seconds())
    for producer_id, seconds in waits.items():
        count, oldest, _median = stats[producer_id]
        stats[producer_id] = (count, oldest, statistics.median(seconds))
    return stats


@dataclass
class Responsiveness:
    """What a producer page shows about answering: the median answer time and the badge."""

    median_seconds: float | None
    answers: int

    @property
    def answers_within_a_day(self) -> bool:
        """The "usually answers within a day" badge: median at most 24 hours over 3 or more answers."""
        return (
            self.median_seconds is not None
            and self.answers >= BADGE_MIN_ANSWERS
            and self.median_seconds <= BADGE_MEDIAN.total_seconds()
        )

    @property
    def median_hours(self) -> int | None:
        """The median rounded up to whole hours (at least 1), for display."""
        if self.median_seconds is None:
            return None
        return max(1, -int(-self.median_seconds // 3600))


def responsiveness(producer: Producer, *, now: datetime) -> Responsiveness:
    """The producer's median answer time over the last 90 days and how many answers it counts."""
    rows = db.session.execute(
        select(Question.asked_at, Question.answered_at).where(
            Question.producer_id == producer.id, Question.answered_at >= now - STATS_WINDOW
        )
    ).all()
    waits = [(answered_at - asked_at).total_seconds() for asked_at, answered_at in rows]
    return Responsiveness(median_seconds=statistics.median(waits) if waits else None, answers=len(waits))


def unanswered_over(producer_ids, hours: float, now: datetime) -> list[Question]:
    """Visible questions to these producers still unanswered `hours` after they were asked,
    oldest first (for the evangelist's "needs attention" list)."""
    ids = list(producer_ids)
    if not ids:
        return []
    return list(
        db.session.scalars(
            _with_people(select(Question))
            .where(
                Question.producer_id.in_(ids),
                Question.answered_at.is_(None),
                visible(Question),
                Question.asked_at <= now - timedelta(hours=hours),
            )
            .order_by(Question.asked_at, Question.id)
        )
    )


# ---------------------------------------------------------------- tick: reminders and escalation


def _waiting(stamp_column, older_than: timedelta, now: datetime) -> list[int]:
    return list(
        db.session.scalars(
            select(Question.id)
            .where(
                Question.answered_at.is_(None),
                visible(Question),
                stamp_column.is_(None),
                Question.asked_at <= now - older_than,
            )
            .order_by(Question.id)
        )
    )


def _stamp_once(question_id: int, column_name: str, now: datetime) -> bool:
    """Set `column_name` to now if nobody has (and the question is still open); True if we did.
    The conditional UPDATE makes a reminder exactly-once even with two ticks running."""
    column = getattr(Question, column_name)
    return bool(
        db.session.execute(
            update(Question)
            .where(Question.id == question_id, column.is_(None), Question.answered_at.is_(None))
            .values({column_name: now})
        ).rowcount
    )


def remind_unanswered(*, now: datetime) -> int:
    """Tell the producer once about each question unanswered for 12 hours. Returns how many."""
    sent = 0
    for question_id in _waiting(Question.reminded_at, REMIND_AFTER, now):
        if _stamp_once(question_id, "reminded_at", now):
            question = db.session.get(Question, question_id)
            owner = question.producer.user
            queue_email(
                to=owner.email, template="question_reminder", locale=owner.locale, now=now, question=question,
                link=external_url("inquiries.inbox", slug=question.producer.slug),
            )  # fmt: skip
            sent += 1
        db.session.commit()
    return sent


def escalate_unanswered(*, now: datetime) -> int:
    """Tell the village's evangelist once about each question unanswered for 24 hours. A village
    without an evangelist is skipped (and escalated later, when one adopts it). Returns how many."""
    sent = 0
    for question_id in _waiting(Question.escalated_at, ESCALATE_AFTER, now):
        question = db.session.get(Question, question_id)
        evangelist = village_evangelist(question.producer.village_id)
        if evangelist is not None and _stamp_once(question_id, "escalated_at", now):
            queue_email(
                to=evangelist.email, template="question_escalated", locale=evangelist.locale, now=now,
                question=question, evangelist=evangelist,
                link=external_url("inquiries.inbox", slug=question.producer.slug),
            )  # fmt: skip
            sent += 1
        db.session.commit()
    return sent


# ---------------------------------------------------------------- operators: what is rising


@dataclass
class TopicTrend:
    """One topic's questions and complaints this week against last week."""

    topic: str
    this_week: int = 0
    last_week: int = 0
    complaints: int = 0
    villages: list[tuple[str, int]] = field(default_factory=list)
    # This week's latest questions of the topic (ids), for the operator to open.
    question_ids: list[int] = field(default_factory=list)

    @property
    def change(self) -> int:
        return self.this_week - self.last_week

    @property
    def label(self) -> str:
        return str(TOPICS.get(self.topic, self.topic))


def rising_topics(*, now: datetime, villages_per_topic: int = 3, questions_per_topic: int = 5) -> list[TopicTrend]:
    """Questions and complaints across all villages in the last 7 days against the 7 days before,
    by topic, biggest rise first; each with this week's complaints and the villages asking most.
    Hidden ones are left out. Three queries whatever the data (the third: this week's latest
    questions of each topic, linked from the table)."""
    week_start, last_week_start = now - WEEK, now - 2 * WEEK
    this_week = Question.asked_at > week_start
    rows = db.session.execute(
        select(
            Question.topic,
            func.count().filter(this_week),
            func.count().filter(~this_week),
            func.count().filter(this_week & (Question.kind == "complaint")),
        )
        .where(Question.asked_at > last_week_start, Question.asked_at <= now, visible(Question))
        .group_by(Question.topic)
    )
    trends = {topic: TopicTrend(topic=topic) for topic in TOPICS}
    for topic, current, previous, complaints in rows:
        trends[topic].this_week, trends[topic].last_week, trends[topic].complaints = current, previous, complaints
    by_village = db.session.execute(
        select(Question.topic, Village.name, func.count())
        .join(Producer, Producer.id == Question.producer_id)
        .join(Village, Village.id == Producer.village_id)
        .where(Question.asked_at > week_start, Question.asked_at <= now, visible(Question))
        .group_by(Question.topic, Village.name)
        .order_by(func.count().desc(), Village.name)
    )
    for topic, village_name, count in by_village:
        if len(trends[topic].villages) < villages_per_topic:
            trends[topic].villages.append((village_name, count))
    latest = db.session.execute(
        select(Question.id, Question.topic)
        .where(Question.asked_at > week_start, Question.asked_at <= now, visible(Question))
        .order_by(Question.asked_at.desc(), Question.id.desc())
        .limit(questions_per_topic * len(TOPICS) * 20)
    )
    for question_id, topic in latest:
        if len(trends[topic].question_ids) < questions_per_topic:
            trends[topic].question_ids.append(question_id)
    return sorted(trends.values(), key=lambda t: (-t.change, -t.this_week, t.topic))
