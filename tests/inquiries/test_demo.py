"""The demo shows questions in every state: answered (one privately), a complaint waiting over a
day, a fresh open question, and a producer with the "within a day" badge; a story written with the
village's evangelist and a draft awaiting approval."""

from __future__ import annotations

from sqlalchemy import select

from farmstore.evangelists.drafts import Draft
from farmstore.extensions import db
from farmstore.inquiries.models import Question
from farmstore.inquiries.services import responsiveness
from farmstore.producers.models import Producer
from farmstore.stories.models import StoryPost


def test_the_demo_has_answered_open_private_and_complaint_questions(app, runner, client):
    result = runner.invoke(args=["farm", "seed-demo"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        questions = list(db.session.scalars(select(Question)))
        hanwoo = db.session.scalar(select(Producer).where(Producer.farm_name == "느릅골 한우농장"))
        badge = responsiveness(hanwoo, now=max(q.asked_at for q in questions)).answers_within_a_day
        slug = hanwoo.slug
        drafts = {(d.kind, d.status) for d in db.session.scalars(select(Draft))}
        written_with = db.session.scalar(select(StoryPost).where(StoryPost.written_with_id.is_not(None)))
    assert sum(q.is_answered for q in questions) >= 4
    assert sum(not q.is_answered for q in questions) >= 2
    assert any(q.is_private and q.is_answered for q in questions)
    assert any(q.kind == "complaint" and not q.is_answered for q in questions)
    assert badge
    assert "아이스박스 택배도 됩니다." in client.get(f"/producers/{slug}").get_data(as_text=True)
    assert drafts == {("story", "published"), ("story", "pending")}
    assert written_with is not None
