"""Word of mouth, in a real Chromium on a Korean phone: 지연 (A) shares a sale; 민호 (B) opens her link
and shares it on; 소라 (C) opens B's link as a guest, signs in, and buys, paying part with store credit
she already had. The order records the chain B → A. When the producer hands the order over, A and
B hold their share of the 10% recommendation reward as store credit, and C's credit was spent.

CSRF protection is on; the strict Content-Security-Policy is proven by the absence of console errors.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from farmstore.extensions import db
from farmstore.referrals import services
from farmstore.sales.models import Order, Sale
from farmstore.timeutil import utcnow
from tests.browser.test_sale_walk import assert_fits
from tests.browser.test_story_walk import screenshot, sign_in
from tests.catalog.conftest import make_product
from tests.factories import make_producer, make_user, make_village
from tests.sales.conftest import make_point, make_sale

pytestmark = [pytest.mark.browser, pytest.mark.app_config(WTF_CSRF_ENABLED=True)]

A, B, C, FARMER = "jiyeon@example.com", "minho@example.com", "sora@example.com", "farmer@example.com"
PRICE, C_CREDIT = 20_000, 3_000


def make_world(app) -> dict:
    now = utcnow()
    with app.app_context():
        farmer = make_user(FARMER, display_name="김농부")
        producer = make_producer(farmer, make_village("들꽃마을"), farm_name="들꽃 김치농장")
        kimchi = make_product(producer, "배추김치 3kg", now=now)
        sale = make_sale(
            producer, [(kimchi, PRICE, 10, 3)], point=make_point(producer, now=now), title="토요일 김장김치", now=now,
            opens_in=-timedelta(hours=1), closes_in=timedelta(days=2), pickup_in=timedelta(days=3),
        )  # fmt: skip
        sale.reward_bps = 1_000
        db.session.commit()
        users = {
            email: make_user(email, display_name=name).id
            for email, name in ((A, "지연"), (B, "민호"), (C, "소라"))
        }  # fmt: skip
        services.grant_credit(db.session.get(type(farmer), users[C]), amount=C_CREDIT, key="welcome", now=now)
        return {"sale": sale.id, "item": sale.items[0].id, "users": users}


def sign_out(page: Page) -> None:
    page.locator("details.menu > summary").click()
    page.locator("details.menu form[action='/logout'] button[type=submit]").click()
    expect(page.locator("details.menu form[action='/logout']")).to_have_count(0)


def share_from(page: Page, url: str) -> str:
    """On `url`, press the share button and read the link from the page it leads to."""
    page.goto(url)
    page.locator("main section.share-box form[action='/share'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/share/[a-z0-9]{10}$"))
    expect(page.locator("main .qr svg")).to_be_visible()
    link = page.locator("main .share-url input").input_value()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/r/[a-z0-9]{10}", link), link
    return link


def test_a_chain_of_friends_leads_to_a_purchase_and_credit(app, live_server, page: Page, output_path, console_errors):
    ids = make_world(app)
    sale_url = f"{live_server}/sales/{ids['sale']}"

    sign_in(page, live_server, A)
    link_a = share_from(page, sale_url)
    sign_out(page)

    sign_in(page, live_server, B)
    page.goto(link_a)
    expect(page).to_have_url(sale_url)
    link_b = share_from(page, sale_url)
    expect(page.locator("main")).to_contain_text("지연")  # B sees who brought them
    assert_fits(page)
    screenshot(page, output_path, "share-link.png")
    sign_out(page)

    page.goto(link_b)  # C arrives as a guest, then signs in
    expect(page).to_have_url(sale_url)
    sign_in(page, live_server, C)
    page.goto(sale_url)
    page.fill(f"input[name='qty-{ids['item']}']", "1")
    page.locator("input[name=use_credit]").check()
    page.locator("form[action$='/review'] button[type=submit]").click()  # the review step, then confirm
    page.locator("form[action$='/order'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(live_server)}/orders/\d+$"))
    code = page.locator("main .pickup-code").inner_text().strip()
    assert_fits(page)
    screenshot(page, output_path, "order.png")

    with app.app_context():
        order = db.session.scalar(db.select(Order).where(Order.pickup_code == code))
        entries = services.referral_for(order=order).entries
        assert [e.user_id for e in entries] == [ids["users"][B], ids["users"][A]]
        assert services.balance_of(order.buyer) == 0  # C spent the credit of her own
    sign_out(page)

    with app.app_context():  # pickup day: check-in opens with the pickup window
        sale = db.session.get(Sale, ids["sale"])
        now = utcnow()
        sale.opens_at, sale.closes_at = now - timedelta(hours=4), now - timedelta(hours=2)
        sale.pickup_starts_at, sale.pickup_ends_at = now - timedelta(hours=1), now + timedelta(hours=1)
        db.session.commit()
    sign_in(page, live_server, FARMER)
    page.goto(f"{sale_url}/roster")
    page.fill("input[name=code]", code)
    page.locator("main form:has(input[name=code]) button[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text(code)

    with app.app_context():
        users = {email: db.session.get(type(order.buyer), uid) for email, uid in ids["users"].items()}
        reward = PRICE * 10 // 100  # 2,000: two thirds to the closest (B), a third to A
        assert services.balance_of(users[B]) == services.split_reward(reward, 2, 50)[0] == 1_334
        assert services.balance_of(users[A]) == 666
        assert services.balance_of(users[C]) == 0
    assert console_errors == []
