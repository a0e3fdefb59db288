"""A buyer on a Korean phone pays a sale order with Toss Payments, in a real Chromium: the pay page
loads the widget script (a stand-in served by the fake Toss, since js.tosspayments.com is out of
reach here) under the page's own Content-Security-Policy, the buyer pays, Toss's redirect comes
back to our success page, our server confirms at the fake Toss and the order is confirmed. A
second buyer stops in the widget and reads why in Korean, with nothing charged.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_sale_walk import BUYER, make_live_sale
from tests.browser.test_story_walk import horizontal_overflow, screenshot, sign_in
from tests.toss.conftest import _SERVER, TOSS_SETTINGS, toss, toss_server  # noqa: F401 (fixtures, emptied per test)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("toss"),
    pytest.mark.app_config(**TOSS_SETTINGS, TOSS_SCRIPT_URL=f"{_SERVER.url}/v2/standard", WTF_CSRF_ENABLED=True),
]


def order_by_toss(page: Page, base: str, ids: dict) -> None:
    """From the sale page: two of the item, paid with Toss now."""
    page.goto(f"{base}/sales/{ids['sale']}")
    page.locator(f"input[name='qty-{ids['item']}']").fill("2")
    page.locator("input[name=payment_method][value=toss]").check()
    page.locator("form[action$='/review'] button[type=submit]").click()
    page.locator("form[action$='/order'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/orders/\d+/pay$"))
    expect(page.locator("#pay-button")).to_be_enabled()


def test_a_buyer_pays_with_toss_and_the_order_is_confirmed(app, live_server, page: Page, output_path, console_errors):
    ids = make_live_sale(app)
    sign_in(page, live_server, BUYER)

    order_by_toss(page, live_server, ids)
    expect(page.locator("#toss-methods")).to_contain_text("카카오페이")
    assert horizontal_overflow(page) <= 0
    pay_png = screenshot(page, output_path, "toss-pay.png")
    page.locator("#pay-button").click()

    expect(page).to_have_url(re.compile(rf"{re.escape(live_server)}/orders/\d+$"))
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("main .badge.status-confirmed")).to_be_visible()
    assert _SERVER.toss.count("POST", "/v1/payments/confirm") == 1
    assert not console_errors, console_errors
    print(pay_png)


def test_a_buyer_who_stops_in_the_widget_is_told_in_korean(app, live_server, page: Page, output_path, console_errors):
    ids = make_live_sale(app)
    sign_in(page, live_server, BUYER)

    order_by_toss(page, live_server, ids)
    page.evaluate("window.__tossFailCode = 'PAY_PROCESS_CANCELED'")
    page.locator("#pay-button").click()

    expect(page).to_have_url(re.compile(r"/pay/toss/fail\?"))
    expect(page.locator("main .flash-error")).to_contain_text("결제를 멈추셨어요")
    expect(page.locator("main a.button[href$='/pay']")).to_be_visible()
    assert horizontal_overflow(page) <= 0
    print(screenshot(page, output_path, "toss-fail.png"))
    assert _SERVER.toss.count("POST", "/v1/payments/confirm") == 0
    assert not console_errors, console_errors
