"""The village dashboard: each producer's last story, open sales and group-buys, unanswered
questions and median answer time, this month's orders, revenue and new followers; who needs
attention; the evangelist's impact; and a page whose query count does not grow with producers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event

from farmstore.evangelists import boards
from farmstore.evangelists.services import accept_invitation
from farmstore.extensions import db
from farmstore.inquiries.services import answer_question, ask_question
from farmstore.regulars.services import follow
from farmstore.stories.services import write_post
from farmstore.timeutil import utcnow
from tests.catalog.conftest import make_product, make_subject
from tests.conftest import _empty_tables
from tests.evangelists.conftest import build_world, invite
from tests.factories import make_producer, make_user
from tests.groupbuys.conftest import make_group_buy
from tests.sales.conftest import buy, make_sale

NOW = datetime(2025, 9, 15, 3, 0, tzinfo=UTC)  # noon in Seoul, mid-month
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def story(producer, *, at: datetime, title: str = "소식"):
    subject = make_subject(producer, f"밭 {title}", kind="field")
    return write_post(subject, by=producer.user, happened_on=date(2025, 8, 1), title=title, body="…", now=at)


def busy_village(world):
    """느릅골 (quiet for 40 days, a question waiting 30 hours) and 햇살 (busy: today's story, an open
    sale with two paid orders this month and one last month, a group-buy, two new followers, one
    question answered in 2 hours)."""
    story(world.producer, at=NOW - 40 * DAY)
    ask_question(producer=world.producer, asker=world.buyer, body="배송 되나요?", topic="delivery", now=NOW - 30 * HOUR)
    busy = make_producer(make_user("busy@example.com"), world.village, farm_name="햇살 농장")
    story(busy, at=NOW - 2 * HOUR)
    product = make_product(busy, "배추", category="vegetables")
    last_month = make_sale(busy, [(product, 10_000, 50, 5)], now=NOW - 20 * DAY, title="지난달")
    buy(last_month, make_user(), 1, now=NOW - 20 * DAY)
    sale = make_sale(busy, [(product, 10_000, 50, 5)], now=NOW, closes_in=5 * DAY, pickup_in=6 * DAY)
    buy(sale, make_user(), 2, now=NOW - HOUR)
    buy(sale, world.buyer, 1, now=NOW - HOUR)
    make_group_buy(busy, now=NOW)
    follow(user=world.buyer, producer=busy, now=NOW - DAY)
    follow(user=make_user(), producer=busy, now=NOW - 3 * DAY)
    follow(user=make_user(), producer=busy, now=NOW - 30 * DAY)
    question = ask_question(producer=busy, asker=world.buyer, body="언제 수확?", topic="quality", now=NOW - 5 * HOUR)
    answer_question(question, by=busy.user, body="다음 주요", now=NOW - 3 * HOUR)
    return busy


def test_each_producer_has_its_line(world):
    busy = busy_village(world)
    board = boards.village_board(world.village, now=NOW)
    rows = {row.producer.farm_name: row for row in board.rows}
    assert list(rows) == ["느릅골", "햇살 농장"]
    quiet, lively = rows["느릅골"], rows["햇살 농장"]
    assert quiet.last_story_at == NOW - 40 * DAY and lively.last_story_at == NOW - 2 * HOUR
    assert (lively.open_sales, lively.open_group_buys) == (1, 1)
    assert (lively.orders_this_month, lively.revenue_this_month) == (2, 30_000)
    assert lively.followers_this_month == 2
    assert (quiet.unanswered, lively.unanswered) == (1, 0)
    assert lively.median_answer_seconds == 2 * 3600 and lively.median_answer_hours == 2
    assert (quiet.open_sales, quiet.orders_this_month, quiet.revenue_this_month, quiet.followers_this_month) == (
        0, 0, 0, 0,
    )  # fmt: skip
    assert busy.id in {row.producer.id for row in board.rows}


def test_quiet_producers_and_late_questions_need_attention(world):
    busy_village(world)
    board = boards.village_board(world.village, now=NOW)
    assert [(row.producer.farm_name, [str(a) for a in row.attention]) for row in board.needs_attention] == [
        ("느릅골", ["No story in 30 days", "A question unanswered for over 24 hours"])
    ]
    assert [q.body for q in board.late_questions] == ["배송 되나요?"]


def test_a_question_under_a_day_old_is_not_yet_late(world):
    story(world.producer, at=NOW - DAY)
    ask_question(producer=world.producer, asker=world.buyer, body="?", topic="quality", now=NOW - 23 * HOUR)
    board = boards.village_board(world.village, now=NOW)
    assert board.needs_attention == [] and board.late_questions == []


def test_the_other_villages_producers_are_not_on_the_board(world):
    story(world.other_producer, at=NOW)
    assert [row.producer.farm_name for row in boards.village_board(world.village, now=NOW).rows] == ["느릅골"]


def test_impact_counts_onboarded_producers_stories_together_and_their_sales(world):
    accept_invitation(code=invite(world).code, user=make_user(), farm_name="새 농장", about="", contact="", now=NOW)
    busy = busy_village(world)
    post = story(busy, at=NOW, title="함께 쓴 이야기")
    post.written_with_id = world.sora.id
    db.session.commit()
    impact = boards.impact(world.sora)
    assert (impact.producers_onboarded, impact.stories_together) == (1, 1)
    # Sora adopted the village at NOW: last month's sale and its order came before her.
    assert (impact.sales, impact.orders, impact.revenue) == (1, 2, 30_000)
    assert boards.impact(world.minho).producers_onboarded == 0


@pytest.fixture
def counted(app):
    """The SQL statements the test's app runs (cleared by the test before the request it measures)."""
    statements = []
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


def dashboard_statements(app, client, auth, counted, producers: int) -> int:
    with app.app_context():
        world = build_world()
        now = utcnow()
        for n in range(producers):
            producer = make_producer(make_user(f"p{producers}-{n}@example.com"), world.village)
            story(producer, at=now - 40 * DAY)
            ask_question(producer=producer, asker=world.buyer, body="?", topic="quality", now=now - 30 * HOUR)
            follow(user=world.buyer, producer=producer, now=now)
    auth.login("sora@example.com")
    counted.clear()
    response = client.get("/evangelist")
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("No story in 30 days") == producers + 1
    return len(counted)


def test_the_dashboard_runs_the_same_queries_for_two_or_twelve_producers(app, client, auth, counted):
    few = dashboard_statements(app, client, auth, counted, 2)
    auth.logout()
    with app.app_context():
        _empty_tables()
    many = dashboard_statements(app, client, auth, counted, 12)
    assert many == few
    assert many <= 25


def test_each_evangelist_sees_only_their_village_and_others_see_their_applications(app, client, auth):
    with app.app_context():
        world = build_world()
        ask_question(producer=world.producer, asker=world.buyer, body="배송 되나요?", topic="delivery",
                     now=utcnow() - 30 * HOUR)  # fmt: skip
    auth.login("sora@example.com")
    page = client.get("/evangelist").get_data(as_text=True)
    assert "Evangelist of 들꽃마을" in page and "배송 되나요?" in page and "느릅골" in page
    auth.logout()
    auth.login("minho@example.com")
    page = client.get("/evangelist").get_data(as_text=True)
    assert "Evangelist of 바닷마을" in page and "배송 되나요?" not in page and "느릅골" not in page
    auth.logout()
    auth.login("buyer@example.com")
    page = client.get("/evangelist").get_data(as_text=True)
    assert "You have not applied to adopt a village yet." in page and "배송 되나요?" not in page
    auth.logout()
    assert client.get("/evangelist").status_code == 302


def test_every_waiting_question_is_listed_and_the_late_ones_apart(world):
    story(world.producer, at=NOW)
    fresh = ask_question(producer=world.producer, asker=world.buyer, body="새 질문", topic="quality", now=NOW - HOUR)
    old = ask_question(producer=world.producer, asker=world.buyer, body="오랜 질문", topic="quality", now=NOW - 2 * DAY)
    board = boards.village_board(world.village, now=NOW)
    assert [q.id for q in board.open_questions] == [old.id, fresh.id]
    assert [q.id for q in board.late_questions] == [old.id]
