"""Question rules, called directly: asking, answering (producer or evangelist, nobody else),
visibility, answer times and the badge, reminders and escalation exactly once, hiding, and what
is rising this week."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from farmstore.errors import DomainError, NotAllowed, NotFound
from farmstore.evangelists.models import Adoption, AuditEntry
from farmstore.extensions import db
from farmstore.inquiries import services
from farmstore.inquiries.models import Question
from tests.catalog.conftest import make_product
from tests.inquiries.conftest import HOUR, NOW, adopt, ask, emails_to
from tests.stories.conftest import make_subject


def test_a_buyer_asks_and_the_producer_is_told(world):
    question = ask(world, body="  배추는 언제 보내나요?  ", topic="delivery", kind="question")

    assert (question.body, question.topic, question.is_private, question.is_answered) == (
        "배추는 언제 보내나요?", "delivery", False, False
    )  # fmt: skip
    [email] = emails_to("owner@example.com")
    assert "A buyer asked 느릅골 농장 a question" in email.subject
    assert "배추는 언제 보내나요?" in email.body_text
    assert "http://farmstore.test/producers/" in email.body_text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"body": "   "}, "Write your question."),
        ({"body": "x" * 2001}, "Use at most 2000 characters."),
        ({"topic": "gossip"}, "Choose what it is about."),
        ({"kind": "praise"}, "Choose question or complaint."),
    ],
)
def test_bad_questions_are_refused_with_a_clear_message(world, fields, message):
    with pytest.raises(DomainError, match=message):
        ask(world, **fields)
    assert db.session.scalar(select(Question.id)) is None


def test_the_producer_cannot_ask_their_own_farm(world):
    with pytest.raises(DomainError, match="your own farm"):
        ask(world, asker=world.owner)


def test_a_question_is_asked_from_one_of_the_producers_own_pages(world):
    product = make_product(world.producer)
    other_subject = make_subject(world.far_producer, "남의 소")

    assert ask(world, about_kind="product", about_id=product.id).about_id == product.id
    with pytest.raises(NotFound):
        ask(world, about_kind="subject", about_id=other_subject.id)
    with pytest.raises(NotFound):
        ask(world, about_kind="sale", about_id=999)
    with pytest.raises(DomainError):
        ask(world, about_kind="users", about_id=1)


def test_the_producer_answers_and_the_buyer_is_told(world):
    question = ask(world)
    services.answer_question(question, by=world.owner, body="다음 주 월요일에 보내요.", now=NOW + HOUR)

    assert question.answer == "다음 주 월요일에 보내요."
    assert (question.answered_by_id, question.answered_as_evangelist) == (world.owner.id, False)
    [email] = emails_to("buyer@example.com")
    assert "느릅골 농장 answered your question" in email.subject
    assert "answered by 느릅골 농장" in email.body_text
    assert f"http://farmstore.test/questions/{question.id}" in email.body_text


def test_the_villages_evangelist_answers_as_themselves(world):
    question = ask(world)
    services.answer_question(question, by=world.evangelist, body="제가 대신 답해요.", now=NOW + HOUR)

    assert (question.answered_by_id, question.answered_as_evangelist) == (world.evangelist.id, True)
    [email] = emails_to("buyer@example.com")
    assert "answered by 정다운, evangelist of 들꽃마을" in email.body_text


@pytest.mark.parametrize("who", ["buyer", "stranger", "far", "operator"])
def test_nobody_else_answers_as_the_producer(world, who):
    question = ask(world)
    with pytest.raises(NotAllowed):
        services.answer_question(question, by=getattr(world, who), body="제가 농부예요.", now=NOW + HOUR)
    db.session.refresh(question)
    assert question.answered_at is None


def test_an_evangelist_whose_adoption_ended_no_longer_answers(world):
    adoption = db.session.scalar(select(Adoption).where(Adoption.user_id == world.evangelist.id))
    adoption.status = "ended"
    db.session.commit()
    with pytest.raises(NotAllowed):
        services.answer_question(ask(world), by=world.evangelist, body="답", now=NOW)


def test_a_question_is_answered_once(world):
    question = ask(world)
    services.answer_question(question, by=world.owner, body="첫 답", now=NOW + HOUR)
    with pytest.raises(DomainError, match="already been answered"):
        services.answer_question(question, by=world.evangelist, body="둘째 답", now=NOW + 2 * HOUR)
    db.session.refresh(question)
    assert (question.answer, question.answered_by_id) == ("첫 답", world.owner.id)
    assert len(emails_to("buyer@example.com")) == 1


def test_an_empty_answer_is_refused(world):
    with pytest.raises(DomainError, match="Write your answer"):
        services.answer_question(ask(world), by=world.owner, body="  ", now=NOW)


def test_who_sees_what(world):
    public_open = ask(world, body="공개 미답")
    public_answered = ask(world, body="공개 답함")
    private_answered = ask(world, body="비공개 답함", private=True)
    for question in (public_answered, private_answered):
        services.answer_question(question, by=world.owner, body="답", now=NOW + HOUR)

    def seen_by(user):
        return {q.body for q in (public_open, public_answered, private_answered) if services.can_see(q, user)}

    assert seen_by(None) == {"공개 답함"}
    assert seen_by(world.stranger) == {"공개 답함"}
    assert seen_by(world.far) == {"공개 답함"}
    everything = {"공개 미답", "공개 답함", "비공개 답함"}
    assert seen_by(world.buyer) == seen_by(world.owner) == seen_by(world.evangelist) == everything
    with pytest.raises(NotFound):
        services.get_question(private_answered.id, world.stranger)


def test_a_page_lists_its_answered_public_questions_and_the_viewers_own(world):
    product = make_product(world.producer)
    on_product = ask(world, body="상품 질문", about_kind="product", about_id=product.id)
    mine_open = ask(world, body="내 미답 질문", about_kind="product", about_id=product.id)
    secret = ask(world, body="비밀 질문", about_kind="product", about_id=product.id, private=True)
    elsewhere = ask(world, body="농장 질문")
    for question in (on_product, secret, elsewhere):
        services.answer_question(question, by=world.owner, body="답", now=NOW + HOUR)

    def listed(viewer, about_kind="product", about_id=product.id):
        return [
            q.body
            for q in services.questions_on_page(world.producer, about_kind=about_kind, about_id=about_id, viewer=viewer)
        ]

    assert listed(world.stranger) == ["상품 질문"]
    assert listed(world.buyer) == ["비밀 질문", "내 미답 질문", "상품 질문"]
    assert listed(world.evangelist) == ["비밀 질문", "상품 질문"]
    assert listed(world.stranger, "producer", None) == ["농장 질문", "상품 질문"]
    assert mine_open.id


def test_the_inbox_lists_unanswered_first_oldest_on_top(world):
    answered = ask(world, body="답한 것", now=NOW - 5 * HOUR)
    services.answer_question(answered, by=world.owner, body="답", now=NOW - 4 * HOUR)
    newer = ask(world, body="새 질문", now=NOW - HOUR)
    older = ask(world, body="오래된 질문", now=NOW - 3 * HOUR)

    assert [q.id for q in services.inbox(world.producer, by=world.owner)] == [older.id, newer.id, answered.id]
    assert services.inbox(world.producer, by=world.evangelist)[0].id == older.id
    for outsider in (world.buyer, world.far):
        with pytest.raises(NotAllowed):
            services.inbox(world.producer, by=outsider)


def _answered_after(world, hours: float, *, asked: timedelta):
    question = ask(world, now=NOW - asked)
    services.answer_question(question, by=world.owner, body="답", now=NOW - asked + timedelta(hours=hours))
    return question


def test_the_median_answer_time_counts_the_last_90_days(world):
    for hours in (2, 10, 30):
        _answered_after(world, hours, asked=timedelta(days=5))
    _answered_after(world, 500, asked=timedelta(days=120))  # answered over 90 days ago: not counted

    record = services.responsiveness(world.producer, now=NOW)
    assert (record.median_seconds, record.answers, record.median_hours) == (10 * 3600, 3, 10)
    assert record.answers_within_a_day


def test_the_badge_needs_three_answers_and_a_median_of_a_day(world):
    _answered_after(world, 1, asked=timedelta(days=3))
    _answered_after(world, 2, asked=timedelta(days=3))
    assert not services.responsiveness(world.producer, now=NOW).answers_within_a_day  # two answers only

    _answered_after(world, 25, asked=timedelta(days=3))
    assert services.responsiveness(world.producer, now=NOW).answers_within_a_day  # median 2 h

    _answered_after(world, 30, asked=timedelta(days=3))
    _answered_after(world, 40, asked=timedelta(days=3))
    record = services.responsiveness(world.producer, now=NOW)
    assert record.median_seconds == 25 * 3600
    assert not record.answers_within_a_day


def test_answer_stats_for_many_producers_in_two_queries(world, app):
    _answered_after(world, 4, asked=timedelta(days=2))
    _answered_after(world, 8, asked=timedelta(days=2))
    oldest = ask(world, now=NOW - 30 * HOUR)
    ask(world, now=NOW - 2 * HOUR)
    hidden = ask(world, now=NOW - 50 * HOUR)
    services.hide_question(hidden, by=world.operator, reason="욕설", now=NOW)

    ids, asked_at = [world.producer.id, world.far_producer.id], oldest.asked_at
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        stats = services.answer_stats(ids, NOW)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)

    assert len(statements) == 2
    assert stats == {ids[0]: (2, asked_at, 6 * 3600), ids[1]: (0, None, None)}
    assert services.answer_stats([], NOW) == {}


def test_unanswered_over_lists_the_long_waiting_ones(world):
    old = ask(world, now=NOW - 25 * HOUR)
    ask(world, now=NOW - 23 * HOUR)
    answered = ask(world, now=NOW - 40 * HOUR)
    services.answer_question(answered, by=world.owner, body="답", now=NOW - HOUR)

    assert [q.id for q in services.unanswered_over([world.producer.id], 24, NOW)] == [old.id]
    assert services.unanswered_over([world.far_producer.id], 24, NOW) == []


def test_a_question_is_reminded_after_12_hours_once(world):
    question = ask(world)
    assert services.remind_unanswered(now=NOW + 11 * HOUR) == 0
    assert services.remind_unanswered(now=NOW + 12 * HOUR) == 1
    assert services.remind_unanswered(now=NOW + 13 * HOUR) == 0

    db.session.refresh(question)
    assert question.reminded_at == NOW + 12 * HOUR
    reminders = [m for m in emails_to("owner@example.com") if "waiting for your answer" in m.subject]
    assert len(reminders) == 1


def test_an_answered_question_is_not_reminded_or_escalated(world):
    question = ask(world)
    services.answer_question(question, by=world.owner, body="답", now=NOW + HOUR)
    assert services.remind_unanswered(now=NOW + 30 * HOUR) == 0
    assert services.escalate_unanswered(now=NOW + 30 * HOUR) == 0


def test_a_question_is_escalated_to_the_evangelist_after_24_hours_once(world):
    question = ask(world)
    assert services.escalate_unanswered(now=NOW + 23 * HOUR) == 0
    assert services.escalate_unanswered(now=NOW + 24 * HOUR) == 1
    assert services.escalate_unanswered(now=NOW + 48 * HOUR) == 0

    db.session.refresh(question)
    assert question.escalated_at == NOW + 24 * HOUR
    [email] = emails_to("evangelist@example.com")
    assert "has waited a day" in email.subject
    assert "As the evangelist of 들꽃마을" in email.body_text


def test_a_village_without_an_evangelist_is_escalated_when_one_adopts_it(world):
    lonely = ask(world, asker=world.buyer)
    lonely.producer = world.far_producer
    db.session.commit()
    far_adoption = db.session.scalar(select(Adoption).where(Adoption.user_id == world.far.id))
    far_adoption.status = "ended"
    db.session.commit()

    assert services.escalate_unanswered(now=NOW + 30 * HOUR) == 0
    adopt(world.stranger, world.far_producer.village)
    assert services.escalate_unanswered(now=NOW + 31 * HOUR) == 1
    assert len(emails_to("stranger@example.com")) == 1


def test_a_stamp_already_set_by_another_tick_is_not_sent_again(world):
    question = ask(world)
    assert services._stamp_once(question.id, "reminded_at", NOW + 12 * HOUR)  # another tick won the race
    db.session.commit()
    assert services.remind_unanswered(now=NOW + 13 * HOUR) == 0
    assert not [m for m in emails_to("owner@example.com") if "waiting" in m.subject]


def test_an_operator_hides_a_question_with_a_reason(world):
    question = ask(world, body="욕설")
    services.answer_question(question, by=world.owner, body="답", now=NOW + HOUR)
    services.hide_question(question, by=world.operator, reason="욕설이 있어 가렸습니다.", now=NOW + 2 * HOUR)

    assert (question.hidden_at, question.hidden_reason) == (NOW + 2 * HOUR, "욕설이 있어 가렸습니다.")
    assert not services.can_see(question, None)
    assert not services.can_see(question, world.buyer)
    assert services.can_see(question, world.operator)
    assert services.questions_on_page(world.producer, about_kind="producer", about_id=None, viewer=None) == []
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "hid"))
    assert (entry.actor_id, entry.target) == (world.operator.id, f"question {question.id}")


def test_only_operators_hide_questions(world):
    question = ask(world)
    with pytest.raises(NotAllowed):
        services.hide_question(question, by=world.owner, reason="싫어요", now=NOW)
    with pytest.raises(DomainError, match="Say why"):
        services.hide_question(question, by=world.operator, reason=" ", now=NOW)


def test_rising_topics_compares_this_week_with_last_week(world):
    for days_ago in (1, 2, 3, 4):
        ask(world, topic="delivery", kind="complaint", now=NOW - timedelta(days=days_ago))
    ask(world, topic="delivery", now=NOW - timedelta(days=9))
    for days_ago in (8, 9, 10):
        ask(world, topic="price", now=NOW - timedelta(days=days_ago))
    ask(world, topic="price", now=NOW - timedelta(days=1))
    ask(world, topic="quality", now=NOW - timedelta(days=20))  # too old for either week
    ask(world, topic="pickup", asker=world.buyer, now=NOW - timedelta(days=2)).producer = world.far_producer
    db.session.commit()

    trends = {t.topic: t for t in services.rising_topics(now=NOW)}
    ordered = [t.topic for t in services.rising_topics(now=NOW)]

    assert ordered[:2] == ["delivery", "pickup"]
    assert ordered[-1] == "price"
    assert (trends["delivery"].this_week, trends["delivery"].last_week, trends["delivery"].change) == (4, 1, 3)
    assert trends["delivery"].complaints == 4
    assert trends["delivery"].villages == [("들꽃마을", 4)]
    assert trends["pickup"].villages == [("먼마을", 1)]
    assert (trends["price"].this_week, trends["price"].last_week, trends["price"].change) == (1, 3, -2)
    assert (trends["quality"].this_week, trends["quality"].last_week) == (0, 0)
