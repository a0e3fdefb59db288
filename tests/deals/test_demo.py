"""The demo's market: 강릉 중앙시장 with five stalls and three deals (yesterday's tipped, with one
coupon used; today's on sale at 37 of 50; tomorrow's planned), shown on the deals pages."""

from __future__ import annotations

from sqlalchemy import select

from farmstore.deals import services
from farmstore.deals.models import Coupon, Deal
from farmstore.extensions import db
from farmstore.timeutil import utcnow
from farmstore.villages.models import Village


def test_the_demo_market_has_stalls_and_deals(app, runner, client):
    result = runner.invoke(args=["farm", "seed-demo"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        now = utcnow()
        market = db.session.scalar(select(Village).where(Village.name == "강릉 중앙시장"))
        assert len(services.stalls_of(market)) == 5
        deals = db.session.scalars(select(Deal).order_by(Deal.deal_date)).all()
        assert [d.state(now) for d in deals] == ["tipped", "live", "scheduled"]
        assert (deals[1].group_buy.units_pledged, deals[1].group_buy.min_units) == (37, 50)
        coupons = db.session.scalars(select(Coupon)).all()
        assert len(coupons) == 10 and sum(c.redeemed_at is not None for c in coupons) == 1
        slug = market.slug
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ko"
    page = client.get(f"/villages/{slug}/deals").get_data(as_text=True)
    assert "50개 중 37개" in page and "인절미 한 팩 쿠폰" in page and "순자네 생선" in page
    assert "강릉 사과 2 kg 9,900원" in client.get("/deals").get_data(as_text=True)
