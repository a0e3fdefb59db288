"""Group-buy pages: who may draft, open and cancel; pledging from the page; the progress everyone
sees; and the listings on the home, producer and village pages. Deadlines are placed around the
real clock, because the views ask it for the time."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from farmstore.accounts.models import User
from farmstore.extensions import db
from farmstore.groupbuys.models import GroupBuy, Pledge
from farmstore.groupbuys.services import pledge, settle_due_group_buys
from farmstore.timeutil import utcnow
from tests.factories import make_user
from tests.groupbuys.conftest import DAY, build_world, make_group_buy, pledged

HOUR = timedelta(hours=1)
ALL_OR_NOTHING = (
    "All or nothing: if 80 units are pledged by the deadline, everyone who pledged pays and the harvest is shared. "
    "If not, nobody pays anything."
)


@pytest.fixture
def world(app):
    """The world of `build_world`, with one open group-buy (120 units, minimum 80, up to 10 each,
    closing in 30 days), as ids and slugs."""
    with app.app_context():
        made = build_world()
        group_buy = make_group_buy(made.producer, now=utcnow())
        return {
            "group_buy_id": group_buy.id,
            "slug": made.producer.slug,
            "village_slug": made.producer.village.slug,
            "subject_id": made.field.id,
            "point_id": made.point.id,
            "other_slug": made.other.slug,
        }


def user(email: str) -> User:
    """The user with this email."""
    return db.session.scalar(select(User).where(User.email == email))


def text_of(response) -> str:
    """The page's HTML with tags removed and whitespace collapsed (apostrophes unescaped)."""
    html = response.get_data(as_text=True).replace("&#39;", "'")
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# (5) Who may do what


def test_another_producer_cannot_draft_open_or_cancel(client, auth, world, app):
    auth.login("other@example.com")
    assert client.get(f"/producers/{world['slug']}/group-buys/new").status_code == 403
    assert client.post(f"/producers/{world['slug']}/group-buys/new", data={"title": "x"}).status_code == 403
    with app.app_context():
        draft = make_group_buy(db.session.get(GroupBuy, world["group_buy_id"]).producer, now=utcnow(), opened=False)
        draft_id = draft.id
    assert client.post(f"/group-buys/{draft_id}/open").status_code == 403
    assert client.post(f"/group-buys/{world['group_buy_id']}/cancel", data={"reason": "mine now"}).status_code == 403
    with app.app_context():
        assert db.session.get(GroupBuy, draft_id).status == "draft"
        assert db.session.get(GroupBuy, world["group_buy_id"]).status == "open"


def test_only_the_producer_sees_the_allocation_sheet(client, auth, world):
    auth.login("other@example.com")
    assert client.get(f"/group-buys/{world['group_buy_id']}/allocation").status_code == 403
    assert client.get(f"/group-buys/{world['group_buy_id']}/allocation.csv").status_code == 403
    assert client.post(f"/group-buys/{world['group_buy_id']}/allocation", data={"code": "ABCDEF"}).status_code == 403
    auth.logout()
    auth.login("owner@example.com")
    assert client.get(f"/group-buys/{world['group_buy_id']}/allocation").status_code == 200
    assert client.get(f"/group-buys/{world['group_buy_id']}/allocation.csv").mimetype == "text/csv"


def test_a_buyer_cannot_draft_either(client, auth, world):
    auth.login("buyer@example.com")
    assert client.get(f"/producers/{world['slug']}/group-buys/new").status_code == 403


def test_anonymous_pledging_is_sent_to_sign_in(client, world, app):
    response = client.post(f"/group-buys/{world['group_buy_id']}/pledge", data={"units": 2})
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    page = text_of(client.get(f"/group-buys/{world['group_buy_id']}"))
    assert "Sign in to pledge" in page
    with app.app_context():
        assert pledged(world["group_buy_id"]) == (0, 0)


def test_the_producer_drafts_opens_and_cancels(client, auth, world, app):
    auth.login("owner@example.com")
    assert client.get(f"/producers/{world['slug']}/group-buys/new").status_code == 200
    deadline = (utcnow() + 10 * DAY).strftime("%Y-%m-%dT%H:%M")
    form = {
        "subject_id": world["subject_id"], "title": "Hanwoo in 16 shares", "unit_label": "one share",
        "unit_price": 450000, "total_units": 16, "min_units": 16, "per_buyer_max": 2, "deadline": deadline,
        "pickup_point_id": 0, "delivery_note": "Chilled, by courier",
    }  # fmt: skip
    response = client.post(f"/producers/{world['slug']}/group-buys/new", data=form)
    assert response.status_code == 302
    with app.app_context():
        made = db.session.scalar(select(GroupBuy).where(GroupBuy.title == "Hanwoo in 16 shares"))
        assert (made.status, made.total_units, made.min_units, made.per_buyer_max) == ("draft", 16, 16, 2)
        made_id = made.id
    assert response.headers["Location"].endswith(f"/group-buys/{made_id}")
    client.post(f"/group-buys/{made_id}/open")
    client.post(f"/group-buys/{made_id}/cancel", data={"reason": "The calf is not ready"})
    with app.app_context():
        made = db.session.get(GroupBuy, made_id)
        assert (made.status, made.cancel_reason) == ("cancelled", "The calf is not ready")


def test_a_draft_with_a_past_deadline_is_refused_on_the_form(client, auth, world, app):
    auth.login("owner@example.com")
    form = {
        "subject_id": world["subject_id"], "title": "Too late", "unit_label": "box", "unit_price": 1000,
        "total_units": 10, "min_units": 5, "per_buyer_max": 2,
        "deadline": (utcnow() - DAY).strftime("%Y-%m-%dT%H:%M"), "pickup_point_id": 0, "delivery_note": "courier",
    }  # fmt: skip
    response = client.post(f"/producers/{world['slug']}/group-buys/new", data=form)
    assert response.status_code == 200
    assert "The deadline must be in the future." in text_of(response)
    with app.app_context():
        assert db.session.scalar(select(GroupBuy).where(GroupBuy.title == "Too late")) is None


# Pledging from the page


def test_a_buyer_pledges_changes_and_withdraws_from_the_page(client, auth, world, app):
    auth.login("buyer@example.com")
    url = f"/group-buys/{world['group_buy_id']}"
    response = client.post(f"{url}/pledge", data={"units": 3, "show_name": "y"}, follow_redirects=True)
    page = text_of(response)
    assert "Your pledge is saved. Nobody pays unless the minimum is reached by the deadline." in page
    assert "Nothing is charged now." in page
    assert "3 of 120 units pledged by 1 household" in page
    client.post(f"{url}/pledge", data={"units": 5})
    with app.app_context():
        assert pledged(world["group_buy_id"]) == (5, 5)
        pledge_id = db.session.scalar(select(Pledge.id))
    client.post(f"/pledges/{pledge_id}/withdraw")
    with app.app_context():
        assert pledged(world["group_buy_id"]) == (0, 0)


@pytest.mark.parametrize(("units", "message"), [(0, "Pledge at least one unit."), (-2, "Pledge at least one unit.")])
def test_zero_or_negative_units_from_the_page_are_refused(client, auth, world, app, units, message):
    auth.login("buyer@example.com")
    response = client.post(f"/group-buys/{world['group_buy_id']}/pledge", data={"units": units}, follow_redirects=True)
    assert message in text_of(response)
    with app.app_context():
        assert pledged(world["group_buy_id"]) == (0, 0)


def test_over_the_household_limit_from_the_page_is_refused(client, auth, world, app):
    auth.login("buyer@example.com")
    response = client.post(f"/group-buys/{world['group_buy_id']}/pledge", data={"units": 11}, follow_redirects=True)
    assert "One household can take at most 10." in text_of(response)
    with app.app_context():
        assert pledged(world["group_buy_id"]) == (0, 0)


def test_nobody_withdraws_another_buyers_pledge_from_the_page(client, auth, world, app):
    with app.app_context():
        record = pledge(
            group_buy=db.session.get(GroupBuy, world["group_buy_id"]), buyer=user("second@example.com"), units=2,
            now=utcnow(),
        )  # fmt: skip
        pledge_id = record.id
    auth.login("buyer@example.com")
    assert client.post(f"/pledges/{pledge_id}/withdraw").status_code == 404
    with app.app_context():
        assert pledged(world["group_buy_id"]) == (2, 2)


# Progress everyone sees


def test_the_page_shows_progress_and_the_all_or_nothing_sentence(client, world, app):
    with app.app_context():
        group_buy = db.session.get(GroupBuy, world["group_buy_id"])
        for n, units in enumerate((10, 10, 10, 10, 4)):
            pledge(group_buy=group_buy, buyer=make_user(f"p{n}@example.com"), units=units, now=utcnow())
    page = text_of(client.get(f"/group-buys/{world['group_buy_id']}"))
    assert "44 of 120 units pledged by 5 households" in page
    assert "55% of the minimum (80 units) · 36% of all units" in page
    assert ALL_OR_NOTHING in page
    assert "Minimum reached" not in page


def test_the_page_says_it_is_on_once_the_minimum_is_reached(client, world, app):
    with app.app_context():
        group_buy = db.session.get(GroupBuy, world["group_buy_id"])
        for n in range(8):
            pledge(group_buy=group_buy, buyer=make_user(f"p{n}@example.com"), units=10, now=utcnow())
    page = text_of(client.get(f"/group-buys/{world['group_buy_id']}"))
    assert "Minimum reached: it's on!" in page
    assert "80 of 120 units pledged by 8 households" in page
    assert "100% of the minimum (80 units) · 66% of all units" in page


def test_names_are_shown_only_with_consent(client, world, app):
    with app.app_context():
        group_buy = db.session.get(GroupBuy, world["group_buy_id"])
        pledge(group_buy=group_buy, buyer=make_user(display_name="Hana Lee"), units=1, show_name=True, now=utcnow())
        pledge(group_buy=group_buy, buyer=make_user(display_name="Duri Park"), units=1, now=utcnow())
    page = text_of(client.get(f"/group-buys/{world['group_buy_id']}"))
    assert "With: Hana" in page
    assert "Duri" not in page
    assert "Lee" not in page


# (6) Listings


def test_open_group_buys_are_listed_closest_deadline_first(client, world, app):
    with app.app_context():
        producer = db.session.get(GroupBuy, world["group_buy_id"]).producer
        make_group_buy(producer, now=utcnow(), deadline=utcnow() + 2 * DAY, title="Soonest cabbages")
        make_group_buy(producer, now=utcnow(), deadline=utcnow() + 60 * DAY, title="Latest cabbages")
        make_group_buy(producer, now=utcnow(), opened=False, title="Draft cabbages")
        cancelled = make_group_buy(producer, now=utcnow(), title="Cancelled cabbages")
        cancelled.status = "cancelled"
        db.session.commit()
    expected = ["Soonest cabbages", "북쪽 밭 배추", "Latest cabbages"]
    for url in ("/", f"/producers/{world['slug']}", f"/villages/{world['village_slug']}"):
        page = client.get(url).get_data(as_text=True)
        titles = re.findall(r"<h3>([^<]+)</h3>", page)
        assert [t for t in titles if t in expected] == expected, url
        assert "Draft cabbages" not in page
        assert "Cancelled cabbages" not in page


def test_a_group_buy_past_its_deadline_is_not_listed(client, world, app):
    with app.app_context():
        group_buy = db.session.get(GroupBuy, world["group_buy_id"])
        group_buy.deadline = utcnow() - HOUR  # the tick has not decided it yet
        db.session.commit()
    assert "북쪽 밭 배추" not in client.get("/").get_data(as_text=True)
    assert "북쪽 밭 배추" not in client.get(f"/producers/{world['slug']}").get_data(as_text=True)


def test_another_producers_page_does_not_list_it(client, world):
    page = client.get(f"/producers/{world['other_slug']}").get_data(as_text=True)
    assert "옆집 농장" in page
    assert "북쪽 밭 배추" not in page


def test_a_failed_group_buy_counts_the_households_that_had_pledged(client, world, app):
    with app.app_context():
        group_buy = db.session.get(GroupBuy, world["group_buy_id"])
        pledge(group_buy=group_buy, buyer=make_user("p0@example.com"), units=4, now=utcnow())
        pledge(group_buy=group_buy, buyer=make_user("p1@example.com"), units=3, now=utcnow())
        deadline = db.session.get(GroupBuy, world["group_buy_id"]).deadline
        settle_due_group_buys(now=deadline + timedelta(days=1))
        assert db.session.get(GroupBuy, world["group_buy_id"]).status == "failed"
    page = text_of(client.get(f"/group-buys/{world['group_buy_id']}"))
    assert "7 of 120 units pledged by 2 households" in page  # not "by 0 households"
    korean = text_of(client.get(f"/group-buys/{world['group_buy_id']}", headers={"Accept-Language": "ko"}))
    assert "2가구가 120개 중 7개를 약속했어요" in korean


def test_the_progress_json_has_the_live_numbers_and_sentences(client, world, app):
    with app.app_context():
        group_buy = db.session.get(GroupBuy, world["group_buy_id"])
        pledge(group_buy=group_buy, buyer=make_user("p0@example.com"), units=4, now=utcnow())
    data = client.get(f"/group-buys/{world['group_buy_id']}/progress.json").get_json()
    assert (data["units_pledged"], data["total_units"], data["households"]) == (4, 120, 1)
    assert data["lines"]["pledged"] == "4 of 120 units pledged by 1 household"
    assert client.get("/group-buys/999999/progress.json").status_code == 404
