"""On a Korean phone (360 px) in a real Chromium: a buyer buys a coupon of today's market deal, the
deal tips (the deadline passes and the tick runs), the buyer sees the coupon's code and QR on My
coupons, and the stall's owner redeems it by typing the code. CSRF is on, as in production, and
the strict Content-Security-Policy is proven by the absence of console errors. Screenshots go
under /tmp/deals-shots."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from farmstore.deals.models import Coupon, Deal
from farmstore.extensions import db
from farmstore.groupbuys.models import GroupBuy
from farmstore.tick import run_tick
from farmstore.timeutil import utcnow
from tests.browser.test_story_walk import horizontal_overflow, screenshot, sign_in
from tests.deals.conftest import build_world
from tests.deals.test_views import live_deal

pytestmark = [pytest.mark.browser, pytest.mark.app_config(WTF_CSRF_ENABLED=True)]
SHOTS = "/tmp/deals-shots"  # noqa: S108 (screenshots to look at, outside the repo)


def test_a_buyer_buys_a_coupon_the_deal_tips_and_the_stall_redeems_it(app, live_server, page: Page, console_errors):
    with app.app_context():
        world = build_world()
        deal = live_deal(world.fish, minimum=1)
        deal_id, group_buy_id, stall = deal.id, deal.group_buy_id, world.fish.slug
        assert db.session.get(Deal, deal_id) is not None

    sign_in(page, live_server, "second@example.com")  # 박두리, Korean
    page.goto(f"{live_server}/deals/{deal_id}")
    expect(page.locator("main .badge.deal-live")).to_be_visible()
    page.fill("input[name=coupons]", "1")
    page.locator("main form.buy-coupons button[type=submit]").click()
    expect(page.locator(".flash-success")).to_be_visible()
    assert page.locator("main .deal-progress").inner_text() == "1개 중 1개"
    assert horizontal_overflow(page) <= 0
    screenshot(page, SHOTS, "1-deal-bought.png")

    with app.app_context():  # the tipping deadline passes; the tick settles and issues coupons
        db.session.execute(
            update(GroupBuy).where(GroupBuy.id == group_buy_id).values(deadline=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()
        run_tick(now=utcnow())
        code = db.session.scalar(select(Coupon.code))

    page.goto(f"{live_server}/my/coupons")
    expect(page.locator("main .coupon-code")).to_have_text(code)
    expect(page.locator("main .qr svg")).to_have_count(1)
    assert horizontal_overflow(page) <= 0
    screenshot(page, SHOTS, "2-my-coupons.png")

    page.context.clear_cookies()
    sign_in(page, live_server, "fish@example.com")
    page.goto(f"{live_server}/stalls/{stall}/redeem")
    page.fill("input[name=code]", code.lower())
    page.locator("main form.redeem-form button[type=submit]").click()
    expect(page.locator("main .redeemed")).to_contain_text(code)
    assert horizontal_overflow(page) <= 0
    screenshot(page, SHOTS, "3-stall-redeemed.png")
    page.fill("input[name=code]", code)
    page.locator("main form.redeem-form button[type=submit]").click()
    expect(page.locator("main .field.has-error")).to_be_visible()
    screenshot(page, SHOTS, "4-stall-already-used.png")
    with app.app_context():
        assert db.session.scalar(select(Coupon.redeemed_at)) is not None
    # The refused code is answered 422, which Chromium logs; nothing else may be reported.
    assert [e for e in console_errors if "422" not in e] == []
