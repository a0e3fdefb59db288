"""Market deal pages: the deals page, a market's calendar, a deal's shareable page, buying,
my coupons, and the stall's own pages (only for the stall, its evangelist or an operator; others
get 404). Deals are placed around the real clock, because the views ask it for the time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from farmstore.deals import services
from farmstore.deals.models import Coupon, Deal
from farmstore.extensions import db
from farmstore.groupbuys.models import GroupBuy, Pledge
from farmstore.groupbuys.services import settle_due_group_buys
from farmstore.timeutil import utcnow
from tests.deals.conftest import TOMORROW, build_world, make_deal

HOUR = timedelta(hours=1)


def live_deal(producer, *, minimum: int = 3):
    """A deal of `producer`'s stall on sale now (dropped an hour ago, tipping in two hours)."""
    now = utcnow()
    deal = make_deal(producer, minimum=minimum, day=services.market_today(now) + timedelta(days=3), now=now)
    deal.deal_date, deal.drop_at, deal.redeem_until = services.market_today(now), now - HOUR, now + 6 * HOUR
    deal.group_buy.deadline = now + 2 * HOUR
    db.session.commit()
    services.drop_due_deals(now=now)
    return deal


def tip(deal) -> None:
    """Move the deadline into the past and run the settlement and the coupons, as the tick would."""
    now = utcnow()
    db.session.get(GroupBuy, deal.group_buy_id).deadline = now - timedelta(minutes=1)
    db.session.commit()
    settle_due_group_buys(now=now)
    services.issue_coupons(now=now)


@pytest.fixture
def world(app):
    with app.app_context():
        made = build_world()
        deal = live_deal(made.fish)
        later = make_deal(made.fruit, day=services.market_today(utcnow()) + timedelta(days=5), now=utcnow())
        return {"deal": deal.id, "later": later.id, "market": made.market.slug, "fish": made.fish.slug,
                "fruit": made.fruit.slug, "farm": made.farm.slug, "group_buy": deal.group_buy_id}  # fmt: skip


def test_the_deals_page_shows_todays_deal_and_the_next_drops(client, world):
    page = client.get("/deals").get_data(as_text=True)
    assert "Today's market deals" in page
    assert "만원 쿠폰을 오천원에" in page and "0 of 3 to unlock" in page
    assert "Next drops" in page and "Coming up" in page and "data-countdown" in page
    assert f"/deals/{world['later']}" in page


def test_a_markets_deal_calendar_and_stalls(client, world):
    page = client.get(f"/villages/{world['market']}/deals").get_data(as_text=True)
    assert "Deals at 중앙시장" in page and "Tipping deadline in" in page and "Drops in" in page
    assert "박씨네 생선" in page and "가-12" in page and "open 09:00–18:00" in page
    assert "Take coupons" not in page  # not for visitors
    assert client.get("/villages/no-such/deals").status_code == 404


def test_a_farm_village_has_no_deals_page(client, world, app):
    with app.app_context():
        from farmstore.villages.models import Village

        slug = db.session.scalar(select(Village.slug).where(Village.kind == "village"))
    assert client.get(f"/villages/{slug}/deals").status_code == 404


def test_a_deal_page_is_shareable_and_asks_visitors_to_sign_in(client, world):
    page = client.get(f"/deals/{world['deal']}").get_data(as_text=True)
    assert '<meta property="og:title" content="만원 쿠폰을 오천원에 · 중앙시장">' in page
    assert "og:description" in page and "It tips at 3 coupons." in page
    assert "₩5,000 for ₩10,000" in page and "0 of 3 to unlock" in page
    assert "Sign in to buy coupons" in page
    assert client.get("/deals/999999").status_code == 404


def test_the_group_buy_behind_a_deal_leads_to_the_deal(client, world):
    response = client.get(f"/group-buys/{world['group_buy']}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/deals/{world['deal']}")


def test_buying_coupons_then_getting_them_when_it_tips(client, auth, world, app):
    auth.login("buyer@example.com")
    response = client.post(f"/deals/{world['deal']}/buy", data={"coupons": 3, "payment_method": "pickup"})
    assert response.status_code == 302
    too_many = client.post(
        f"/deals/{world['deal']}/buy", data={"coupons": 4, "payment_method": "pickup"}, follow_redirects=True
    )
    assert "One household can take at most 3." in too_many.get_data(as_text=True)
    page = client.get(f"/deals/{world['deal']}").get_data(as_text=True)
    assert "3 of 3 to unlock" in page and "It tips!" in page and "Cancel my coupons" in page
    with app.app_context():
        assert db.session.scalar(select(Pledge.units)) == 3
        tip(db.session.get(Deal, world["deal"]))
        codes = db.session.scalars(select(Coupon.code)).all()
    mine = client.get("/my/coupons").get_data(as_text=True)
    assert len(codes) == 3 and all(code in mine for code in codes)
    assert mine.count("<svg") == 3 and "Pay ₩15,000 at the stall" in mine


def test_only_the_stall_or_an_operator_reaches_the_redeem_page(client, auth, world):
    url = f"/stalls/{world['fish']}/redeem"
    assert client.get(url).status_code == 302  # sign in first
    for email in ("stranger@example.com", "fruit@example.com", "buyer@example.com"):
        auth.login(email)
        assert client.get(url).status_code == 404, email
        assert client.post(url, data={"code": "ABCD2345"}).status_code == 404, email
        assert client.get(f"/stalls/{world['fish']}/report").status_code == 404, email
        auth.logout()
    auth.login("op@example.com")
    assert client.get(url).status_code == 200
    assert client.get(f"/stalls/{world['farm']}/redeem").status_code == 404  # not a market stall


def test_the_stall_redeems_by_typing_the_code(client, auth, world, app):
    with app.app_context():
        deal = db.session.get(Deal, world["deal"])
        from farmstore.accounts.models import User

        services.buy_coupons(deal=deal, buyer=db.session.scalar(select(User).filter_by(email="buyer@example.com")),
                             coupons=3, now=utcnow())  # fmt: skip
        tip(deal)
        code = db.session.scalar(select(Coupon.code).order_by(Coupon.id))
    auth.login("fish@example.com")
    unknown = client.post(f"/stalls/{world['fish']}/redeem", data={"code": "zzzz-9999"})
    assert unknown.status_code == 422 and "No coupon has the code ZZZZ9999" in unknown.get_data(as_text=True)
    taken = client.post(f"/stalls/{world['fish']}/redeem", data={"code": code.lower()})
    page = taken.get_data(as_text=True)
    assert taken.status_code == 200 and f"Coupon {code} is used: give ₩10,000." in page
    assert "Collect ₩15,000 for 3 coupons" in page and "1 coupon taken today" in page
    again = client.post(f"/stalls/{world['fish']}/redeem", data={"code": code})
    assert again.status_code == 422 and "already used" in again.get_data(as_text=True)
    report = client.get(f"/stalls/{world['fish']}/report").get_data(as_text=True)
    assert "Coupons sold" in report and "Owed to the stall" in report


def test_planning_a_deal_from_the_page_with_clear_refusals(client, auth, world, app):
    auth.login("fish@example.com")
    form = {"title": "사과 딜", "day": (TOMORROW + timedelta(days=3000)).isoformat(), "drop_time": "10:00",
            "deadline_time": "14:00", "price": "9900", "item": "사과 2 kg", "min_coupons": "20", "cap": "10",
            "per_buyer": "2", "redeem_days": "0"}  # fmt: skip
    refused = client.post(f"/stalls/{world['fish']}/deals/new", data=form)
    assert refused.status_code == 422
    assert "The minimum to tip cannot be above the cap." in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Deal)) == 2
    saved = client.post(f"/stalls/{world['fish']}/deals/new", data={**form, "min_coupons": "5"})
    assert saved.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Deal)) == 3


def test_setting_up_a_stall(client, auth, world, app):
    auth.login("fruit@example.com")
    page = client.post(f"/stalls/{world['fruit']}/edit", data={"number": "다-7", "location": "", "opens_at": "08:00",
                                                                "closes_at": "07:00"})  # fmt: skip
    assert page.status_code == 422 and "The stall must close after it opens." in page.get_data(as_text=True)
    saved = client.post(f"/stalls/{world['fruit']}/edit", data={"number": "다-7", "location": "", "opens_at": "08:00",
                                                                 "closes_at": "19:00"})  # fmt: skip
    assert saved.status_code == 302
    assert client.get(f"/stalls/{world['fish']}/edit").status_code == 404


@pytest.mark.parametrize("query", ["오늘의 딜", "쿠폰", "market deal"])
def test_searching_for_deals_or_coupons_finds_the_deals_page(client, world, query):
    page = client.get("/search", query_string={"q": query}).get_data(as_text=True)
    assert 'href="/deals"' in page
