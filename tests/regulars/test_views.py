"""Following through the producer page, the producer's list of regulars, the buyer's feed and
the followed section of the home page."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from farmstore.accounts.models import User
from farmstore.extensions import db
from farmstore.producers.models import Producer
from farmstore.regulars.models import Follow
from farmstore.regulars.services import follow
from farmstore.stories.models import Subject
from tests.catalog.conftest import NOW, make_post, make_subject, story_titles
from tests.factories import make_producer, make_user

FARM = "느릅골 한우농장"
FOLLOWED_SECTION = "From producers you follow"


@pytest.fixture
def farms(app):
    """느릅골 한우농장 (owner@example.com) with 누렁이, 옆집 농장 (neighbour@example.com, 박선생)
    with 흰둥이, and a buyer (buyer@example.com, 김할머니) who follows nobody yet. Returns ids
    and slugs."""
    with app.app_context():
        producer = make_producer(make_user("owner@example.com"), farm_name=FARM)
        neighbour = make_producer(make_user("neighbour@example.com", display_name="박선생"), farm_name="옆집 농장")
        buyer = make_user("buyer@example.com", display_name="김할머니")
        return SimpleNamespace(
            slug=producer.slug,
            id=producer.id,
            neighbour_id=neighbour.id,
            buyer_id=buyer.id,
            nureongi=make_subject(producer, "누렁이").id,
            heendungi=make_subject(neighbour, "흰둥이").id,
        )


def follows() -> list[tuple[int, int]]:
    """Every (user_id, producer_id) pair."""
    return list(db.session.execute(select(Follow.user_id, Follow.producer_id)).tuples())


def follow_as(email: str, producer_id: int, *, minutes: int = 0) -> None:
    """The account `email` follows a producer, `minutes` after NOW (inside an app context)."""
    user = db.session.scalar(select(User).where(User.email == email))
    follow(user=user, producer=db.session.get(Producer, producer_id), now=NOW + timedelta(minutes=minutes))


def test_a_buyer_follows_a_producer_once_and_unfollows(app, client, auth, farms):
    auth.login("buyer@example.com")

    first = client.post(f"/producers/{farms.slug}/follow")
    client.post(f"/producers/{farms.slug}/follow")
    page = client.get(first.headers["Location"]).get_data(as_text=True)

    assert first.status_code == 302
    assert f"You follow {FARM}. Their new stories will appear in your feed." in page
    assert "Following ✓" in page
    with app.app_context():
        assert follows() == [(farms.buyer_id, farms.id)]

    client.post(f"/producers/{farms.slug}/unfollow")
    again = client.post(f"/producers/{farms.slug}/unfollow")
    page = client.get(again.headers["Location"]).get_data(as_text=True)

    assert again.status_code == 302
    assert f"You no longer follow {FARM}." in page
    assert ">Follow</button>" in page
    with app.app_context():
        assert follows() == []


def test_a_producer_cannot_follow_their_own_farm(app, client, auth, farms):
    auth.login("owner@example.com")

    response = client.post(f"/producers/{farms.slug}/follow", follow_redirects=True)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "You cannot follow your own farm." in page
    assert "You follow" not in page
    with app.app_context():
        assert follows() == []


def test_the_producer_page_counts_the_regulars(app, client, farms):
    assert "0 regulars" in client.get(f"/producers/{farms.slug}").get_data(as_text=True)
    with app.app_context():
        follow_as("buyer@example.com", farms.id)
        follow_as("neighbour@example.com", farms.id)
        follow_as("owner@example.com", farms.neighbour_id)

    assert "2 regulars" in client.get(f"/producers/{farms.slug}").get_data(as_text=True)


def test_following_needs_an_account_and_a_real_producer(app, client, auth, farms):
    responses = [client.post(f"/producers/{farms.slug}/follow"), client.post(f"/producers/{farms.slug}/unfollow")]

    assert [r.status_code for r in responses] == [302, 302]
    assert all(r.headers["Location"].startswith("/login?next=") for r in responses)
    auth.login("buyer@example.com")
    assert client.post("/producers/없는-농장/follow").status_code == 404
    assert client.post("/producers/없는-농장/unfollow").status_code == 404
    assert client.get(f"/producers/{farms.slug}/follow").status_code == 405
    with app.app_context():
        assert follows() == []


def test_the_producer_sees_the_names_of_their_regulars(app, client, auth, farms):
    with app.app_context():
        follow_as("buyer@example.com", farms.id)
        follow_as("neighbour@example.com", farms.id, minutes=5)
    auth.login("owner@example.com")

    page = client.get(f"/producers/{farms.slug}/followers").get_data(as_text=True)

    assert f"2 people follow {FARM}." in page
    assert re.findall(r"<li>(.*?) <span", page) == ["박선생", "김할머니"]  # newest first
    assert "See your regulars" in client.get(f"/producers/{farms.slug}").get_data(as_text=True)


def test_a_producer_without_regulars_is_told_how_to_find_some(client, auth, farms):
    auth.login("owner@example.com")

    page = client.get(f"/producers/{farms.slug}/followers").get_data(as_text=True)

    assert "No regulars yet." in page


@pytest.mark.parametrize("stranger", ["buyer@example.com", "neighbour@example.com"])
def test_nobody_else_sees_a_producers_regulars(app, client, auth, farms, stranger):
    with app.app_context():
        follow_as("buyer@example.com", farms.id)
    auth.login(stranger)

    response = client.get(f"/producers/{farms.slug}/followers")

    assert response.status_code == 403
    assert "김할머니" not in response.get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_sign_in_for_the_regulars_list_and_the_feed(client, farms):
    for url in (f"/producers/{farms.slug}/followers", "/feed"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_the_feed_shows_stories_of_followed_producers_only_newest_first(app, client, auth, farms):
    with app.app_context():
        nureongi, heendungi = db.session.get(Subject, farms.nureongi), db.session.get(Subject, farms.heendungi)
        make_post(nureongi, "누렁이 첫 풀", days_ago=10)
        make_post(nureongi, "누렁이 산책", days_ago=1)
        make_post(heendungi, "흰둥이 소식", days_ago=0)
        third = make_producer(farm_name="셋째 농장")
        make_post(make_subject(third, "꿀벌통", kind="hive"), "꿀 뜨기", days_ago=3)
        follow_as("buyer@example.com", farms.id)
        follow_as("buyer@example.com", third.id)
    auth.login("buyer@example.com")

    page = client.get("/feed").get_data(as_text=True)

    assert story_titles(page) == ["누렁이 산책", "꿀 뜨기", "누렁이 첫 풀"]


def test_the_feed_says_so_when_following_nobody(client, auth, farms):
    auth.login("buyer@example.com")

    page = client.get("/feed").get_data(as_text=True)

    assert "You do not follow any producer yet." in page
    assert story_titles(page) == []


def test_the_feed_says_so_when_the_followed_producers_have_not_posted(app, client, auth, farms):
    with app.app_context():
        make_post(db.session.get(Subject, farms.heendungi), "흰둥이 소식")
        follow_as("buyer@example.com", farms.id)
    auth.login("buyer@example.com")

    page = client.get("/feed").get_data(as_text=True)

    assert "The producers you follow have not posted yet." in page
    assert story_titles(page) == []


@pytest.fixture
def stories(app, farms):
    """One story from each farm; the buyer follows 느릅골 한우농장."""
    with app.app_context():
        make_post(db.session.get(Subject, farms.nureongi), "누렁이 산책", days_ago=1)
        make_post(db.session.get(Subject, farms.heendungi), "흰둥이 소식", days_ago=0)
        follow_as("buyer@example.com", farms.id)


def followed_section(page: str) -> str:
    """The home page's "From producers you follow" section."""
    start = page.index(FOLLOWED_SECTION)
    return page[start : page.index("</section>", start)]


def test_the_home_page_shows_followed_producers_stories_to_a_signed_in_buyer(client, auth, stories):
    auth.login("buyer@example.com")

    page = client.get("/").get_data(as_text=True)

    assert story_titles(followed_section(page)) == ["누렁이 산책"]
    assert story_titles(page) == ["누렁이 산책", "흰둥이 소식", "누렁이 산책"]


def test_the_home_page_has_no_followed_section_for_visitors_or_accounts_following_nobody(client, auth, stories):
    anonymous = client.get("/").get_data(as_text=True)
    auth.login("neighbour@example.com")
    following_nobody = client.get("/").get_data(as_text=True)

    assert FOLLOWED_SECTION not in anonymous
    assert FOLLOWED_SECTION not in following_nobody
    assert story_titles(following_nobody) == ["흰둥이 소식", "누렁이 산책"]
