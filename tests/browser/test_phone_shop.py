"""Issue 13 on a Korean phone (360 px): prices while browsing, the checkout review step, live
progress. Screenshots go to /tmp/phone-a (outside the repository) for a person to look at."""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from farmstore.catalog.models import ProductPhoto
from farmstore.extensions import db
from farmstore.groupbuys.models import GroupBuy
from farmstore.groupbuys.services import pledge
from farmstore.media.services import save_photos
from farmstore.producers.models import Producer
from farmstore.sales.models import Sale, SaleItem
from farmstore.timeutil import utcnow
from tests.browser.test_story_walk import horizontal_overflow, sign_in
from tests.catalog.conftest import make_product, photo_upload
from tests.evangelists.conftest import adopt
from tests.factories import make_producer, make_user, make_village
from tests.groupbuys.conftest import make_group_buy
from tests.sales.conftest import make_point, make_sale

pytestmark = [pytest.mark.browser, pytest.mark.app_config(WTF_CSRF_ENABLED=True)]

SHOTS = os.path.join(tempfile.gettempdir(), "phone-a")


def shot(page: Page, name: str) -> None:
    """A full-page screenshot under /tmp/phone-a."""
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def make_shop(app) -> dict:
    """A farm with a photographed product on sale at two prices and one product not on sale."""
    now = utcnow()
    with app.app_context():
        farmer = make_user("farmer@example.com", display_name="김농부")
        producer = make_producer(farmer, make_village("들꽃마을"), farm_name="들꽃 김치농장")
        kimchi = make_product(producer, "배추김치 3kg", unit="3kg 통", category="preserves", now=now)
        saved = save_photos([photo_upload()], uploaded_by=farmer, alt="김치", limit=1)
        kimchi.photos = [ProductPhoto(photo=photo, position=0) for photo in saved]
        make_product(producer, "묵은지", unit="1kg", category="preserves", now=now)
        point = make_point(producer, name="망원시장 동문", now=now)
        windows = {"now": now, "closes_in": timedelta(days=2), "pickup_in": timedelta(days=3)}
        sale = make_sale(producer, [(kimchi, 25_000, 5, 2)], point=point, title="토요일 김장김치", **windows)
        make_sale(producer, [(kimchi, 28_000, 5, 2)], point=point, title="일요일 김장김치", **windows)
        return {"sale": sale.id, "producer": producer.slug, "product": kimchi.slug}


def test_cards_and_the_product_page_show_prices_on_a_phone(app, live_server, page: Page, console_errors):
    ids = make_shop(app)
    page.goto(live_server + "/")
    card = page.locator(f"main article.sale-card:has(a[href='/sales/{ids['sale']}'])")
    expect(card.locator(".price")).to_have_text("25,000원")
    expect(card.locator("img")).to_be_visible()
    assert card.locator("img").evaluate("img => img.getBoundingClientRect().width") > 200
    assert horizontal_overflow(page) <= 0
    shot(page, "home.png")

    page.goto(f"{live_server}/producers/{ids['producer']}")
    product_card = page.locator("main article.card:has(h3:text-is('배추김치 3kg'))")
    expect(product_card.locator(".price")).to_have_text("25,000원부터")
    expect(page.locator("main article.card:has(h3:text-is('묵은지')) .price")).to_have_text("지금은 판매하지 않아요")
    assert horizontal_overflow(page) <= 0

    page.goto(f"{live_server}/producers/{ids['producer']}/products/{ids['product']}")
    expect(page.locator("main article.product > .price")).to_have_text("25,000원부터")
    assert horizontal_overflow(page) <= 0
    shot(page, "product.png")
    assert console_errors == []


def test_question_radios_keep_their_size_and_the_dashboard_is_cards(app, live_server, page: Page, console_errors):
    ids = make_shop(app)
    with app.app_context():
        producer = db.session.scalar(select(Producer).where(Producer.slug == ids["producer"]))
        operator = make_user("operator@example.com", display_name="운영자", is_operator=True)
        adopt(make_user("sora@example.com", display_name="소라"), producer.village, operator, now=utcnow())
        make_user("buyer@example.com", display_name="이도시")

    sign_in(page, live_server, "buyer@example.com")
    page.goto(f"{live_server}/producers/{ids['producer']}/products/{ids['product']}")
    radios = page.locator("main form.ask input[type=radio]")
    assert radios.count() >= 2
    for radio in radios.all():
        assert radio.evaluate("r => r.getBoundingClientRect().width") < 40  # not stretched to the line
    assert horizontal_overflow(page) <= 0
    shot(page, "question-form.png")

    page.context.clear_cookies()
    sign_in(page, live_server, "sora@example.com")
    page.goto(f"{live_server}/evangelist")
    row = page.locator("table.dashboard tbody tr").first
    assert row.evaluate("tr => getComputedStyle(tr).display") == "block"  # a card, not a table row
    label = row.locator("td[data-label]").first.evaluate("td => getComputedStyle(td, '::before').content")
    assert label.strip('"') != ""
    for cell in row.locator("td").all():  # one line each: no word broken over lines
        assert cell.evaluate("td => td.getBoundingClientRect().height") < 60
    assert horizontal_overflow(page) <= 0
    shot(page, "dashboard.png")
    assert console_errors == []


def test_sale_progress_updates_without_a_reload(app, live_server, page: Page, console_errors):
    ids = make_shop(app)
    page.clock.install()  # the page's own clock, so the 15 s poll comes at once
    page.goto(f"{live_server}/sales/{ids['sale']}")
    with app.app_context():
        item_id = db.session.get(Sale, ids["sale"]).items[0].id
    line = page.locator(f"[data-progress-item='{item_id}']")
    expect(line).to_contain_text("5")
    page.evaluate("window.stillTheSamePage = true")
    with app.app_context():
        db.session.get(SaleItem, item_id).quantity_taken = 3
        db.session.commit()
    page.clock.run_for(16_000)  # past the first poll
    expect(line).to_contain_text("2", timeout=5000)  # 2 of 5 left, without a reload
    assert page.evaluate("window.stillTheSamePage === true")  # no reload happened
    assert console_errors == []


def test_group_buy_progress_updates_without_a_reload(app, live_server, page: Page, console_errors):
    ids = make_shop(app)
    with app.app_context():
        producer = db.session.scalar(select(Producer).where(Producer.slug == ids["producer"]))
        group_buy = make_group_buy(producer, total=10, minimum=4, now=utcnow())
        buyer = make_user("buyer@example.com", display_name="이도시")
        group_buy_id = group_buy.id
    page.clock.install()
    page.goto(f"{live_server}/group-buys/{group_buy_id}")
    bar = page.locator("[data-progress-bar]")
    assert bar.evaluate("b => b.value") == 0
    with app.app_context():
        pledge(group_buy=db.session.get(GroupBuy, group_buy_id), buyer=db.session.merge(buyer), units=3, now=utcnow())
    page.clock.run_for(16_000)
    expect(page.locator("[data-progress-line=pledged]")).to_contain_text("3", timeout=5000)
    page.wait_for_function("document.querySelector('[data-progress-bar]').value === 3")
    assert console_errors == []
