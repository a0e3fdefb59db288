"""A Korean buyer on a 360 px phone reads a product's labelling panel (상품 정보 제공 고시): every fact
fits the screen, the traceability numbers open the official 축산물이력제 lookup in a new tab (nothing
is fetched by us), and what the producer left empty says 표시 안 함. Screenshots go under /tmp."""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from farmstore.catalog.services import create_product
from farmstore.stories.services import create_subject, today
from farmstore.timeutil import utcnow
from farmstore.trace import lookup_url
from tests.factories import make_producer, make_user, make_village

pytestmark = [pytest.mark.browser]

PHONE_WIDTH = 360
COW = "002089461327"
SCREENSHOTS = os.path.join(tempfile.gettempdir(), "farmstore-trace")  # outside the repo


def make_products(app) -> dict[str, str]:
    """A hanwoo gift set with every fact stated (a lot number, from 누렁이) and a tea stating few."""
    with app.app_context():
        now = utcnow()
        producer = make_producer(make_user(), make_village("햇살마을"), farm_name="느릅골 한우농장")
        producer.contact = "010-1234-5678 · 카카오톡 neureupgol"
        cow = create_subject(
            producer=producer, by=producer.user, kind="animal", name="누렁이", started_on=None, breed="한우 (암소)",
            location="", description="", trace_number=COW, now=now,
        )  # fmt: skip
        packed = today(now) - timedelta(days=2)
        lot = f"L0{packed:%y%m%d}3105007"
        gift = create_product(
            producer=producer, by=producer.user, name="한우 정육 선물세트", unit="2kg 1상자", category="meat",
            description="등심, 안심, 채끝을 500g씩.", subject_ids=[cow.id], now=now,
            label={
                "weight_grams": 2000, "origin": "국내산 한우 (강원 평창)", "trace_number": lot, "grade": "1++ 9",
                "packed_on": packed, "use_by": packed + timedelta(days=10), "storage": "냉장 0~4℃ 보관",
            },
        )  # fmt: skip
        tea = create_product(
            producer=producer, by=producer.user, name="구절초차", unit="30g 1통", category="tea", description="",
            label={"origin": "국내산 (강원 평창)"}, now=now,
        )  # fmt: skip
        base = f"/producers/{producer.slug}/products"
        return {"gift": f"{base}/{gift.slug}", "tea": f"{base}/{tea.slug}", "lot": lot}


def fits_the_phone(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH


def test_the_labelling_panel_on_a_korean_phone(app, live_server, page: Page, console_errors):
    paths = make_products(app)
    os.makedirs(SCREENSHOTS, exist_ok=True)

    page.goto(live_server + paths["gift"])

    panel = page.locator("#labelling")
    expect(panel.locator("h2")).to_have_text("상품 정보 제공 고시")
    expect(panel.locator("dt").first).to_have_text("품목 또는 명칭")
    expect(panel).to_contain_text("2 kg · 2kg 1상자")
    expect(panel).to_contain_text("1++ 9")
    expect(panel).to_contain_text("국내산 한우 (강원 평창)")
    lot_link = panel.locator(f'a[href="{lookup_url(paths["lot"])}"]')
    expect(lot_link).to_have_text(paths["lot"])
    expect(lot_link).to_have_attribute("target", "_blank")
    expect(panel.locator(f'a[href="{lookup_url(COW)}"]')).to_have_text("002 0894 6132 7")
    expect(panel).not_to_contain_text("표시 안 함")  # every fact stated
    panel.scroll_into_view_if_needed()
    assert fits_the_phone(page)
    panel.screenshot(path=f"{SCREENSHOTS}/gift-set-labelling-360.png")
    page.screenshot(path=f"{SCREENSHOTS}/gift-set-360.png", full_page=True)

    page.goto(live_server + paths["tea"])

    panel = page.locator("#labelling")
    expect(panel.locator("dt", has_text="식품의 유형")).to_have_count(1)
    expect(panel.locator("dd", has_text="표시 안 함")).to_have_count(4)  # ingredients, both dates, storage
    expect(panel).to_contain_text("국내산 (강원 평창)")
    assert fits_the_phone(page)
    panel.screenshot(path=f"{SCREENSHOTS}/tea-labelling-360.png")
    assert console_errors == []
