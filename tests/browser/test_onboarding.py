"""A newcomer on a phone, in Korean, in a real Chromium: joins, signs out and in again through the
menu, creates a producer page with a photo, and finds their farm on the village page.

CSRF protection is on, as in production, so every form here proves it sends a valid token; the
strict Content-Security-Policy is proven by the absence of console errors.
Fields are found by their `name` and links by their `href`, so the tests do not depend on wording.
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories import image_bytes, make_user, make_village

pytestmark = [pytest.mark.browser, pytest.mark.app_config(WTF_CSRF_ENABLED=True)]

PHONE_WIDTH = 360
NEW_PASSWORD = "barley-wind-over-stone-walls"


def submit(page: Page, form: str = "main form") -> None:
    """Press the submit button of `form` (the page's main form unless told otherwise)."""
    page.locator(form).locator("button[type=submit]").click()


def open_menu(page: Page) -> None:
    """Open the top-bar menu (a <details> element)."""
    page.locator("details.menu > summary").click()
    expect(page.locator("details.menu")).to_have_attribute("open", "")


def page_language(page: Page) -> str | None:
    """The language the page declares on its <html> element."""
    return page.locator("html").get_attribute("lang")


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than a phone screen (0 when it fits)."""
    return page.evaluate("document.documentElement.scrollWidth") - PHONE_WIDTH


def test_a_newcomer_joins_becomes_a_producer_and_appears_on_the_village_page(
    app, live_server, page: Page, output_path, console_errors
):
    with app.app_context():
        make_user("operator@example.com", is_operator=True)
        village = make_village("들꽃마을", region="gangwon", description="구절초가 피는 산골 마을")
        village_id, village_path = village.id, f"/villages/{village.slug}"

    page.goto(live_server + "/")
    assert page_language(page) == "ko"
    page.locator("main a[href^='/register']").click()

    page.fill("input[name=email]", "grandma@example.com")
    page.fill("input[name=display_name]", "김순자")
    page.fill("input[name=password]", NEW_PASSWORD)
    submit(page)
    expect(page).to_have_url(live_server + "/")
    expect(page.locator(".flash-success")).to_contain_text("김순자")

    open_menu(page)
    submit(page, "details.menu form[action='/logout']")
    expect(page.locator(".flash-info")).to_be_visible()
    expect(page.locator("details.menu form[action='/logout']")).to_have_count(0)

    open_menu(page)
    page.locator("details.menu a[href^='/login']").click()
    page.fill("input[name=email]", "grandma@example.com")
    page.fill("input[name=password]", NEW_PASSWORD)
    submit(page)
    expect(page.locator("details.menu form[action='/logout']")).to_have_count(1)

    open_menu(page)
    page.locator("details.menu a[href='/producers/new']").click()
    page.fill("input[name=farm_name]", "들꽃차 할머니")
    page.select_option("select[name=village_id]", str(village_id))
    page.fill("textarea[name=about]", "가을이면 **구절초**를 따서 말립니다.")
    page.fill("input[name=contact]", "033-123-4567")
    page.set_input_files(
        "input[name=photo]", files=[{"name": "farm.jpg", "mimeType": "image/jpeg", "buffer": image_bytes()}]
    )
    submit(page)

    expect(page).to_have_url(re.compile(r"/producers/[^/]+$"))
    expect(page.locator("main h1")).to_have_text("들꽃차 할머니")
    expect(page.locator(".prose strong")).to_have_text("구절초")
    photo = page.locator("article.producer img.cover")
    expect(photo).to_be_visible()
    assert photo.evaluate("img => img.complete && img.naturalWidth > 0")

    page.goto(live_server + village_path)
    expect(page.locator("main h1")).to_have_text("들꽃마을")
    expect(page.locator("main")).to_contain_text("들꽃차 할머니")
    assert page_language(page) == "ko"
    assert horizontal_overflow(page) <= 0

    os.makedirs(output_path, exist_ok=True)
    screenshot = os.path.join(output_path, "village.png")
    page.screenshot(path=screenshot, full_page=True)
    assert os.path.getsize(screenshot) > 0
    assert console_errors == []


def test_the_footer_switches_the_site_to_english_and_remembers_it(live_server, page: Page, console_errors):
    page.goto(live_server + "/villages")
    assert page_language(page) == "ko"

    page.select_option("footer select[name=locale]", "en")
    submit(page, "footer form")

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(live_server + "/villages")
    page.goto(live_server + "/")
    assert page_language(page) == "en"
    assert console_errors == []
