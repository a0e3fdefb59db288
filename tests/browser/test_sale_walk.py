"""A buyer on a Korean phone, in a real Chromium, buys from a live sale: watches the countdown run,
orders two of the five boxes (paying at pickup), gets a pickup code with its QR code and a calendar
file for the pickup, and sees the stock go down. Then the producer opens the roster, finds the
buyer's code, checks the buyer in by typing the code as people do (lowercase, with a space), and the
pay-at-pickup payment is recorded as paid in the ledger.

CSRF protection is on, as in production; the strict Content-Security-Policy is proven by the absence
of console errors. Fields are found by their `name`, links by their `href` and states by CSS
classes, never by wording.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from icalendar import Calendar
from playwright.sync_api import Page, expect

from farmstore.extensions import db
from farmstore.sales.models import Order, Sale
from farmstore.timeutil import utcnow
from tests.browser.test_story_walk import horizontal_overflow, screenshot, sign_in
from tests.catalog.conftest import make_product
from tests.factories import make_producer, make_user, make_village
from tests.sales.conftest import ledger_kinds, make_point, make_sale, payment_for

pytestmark = [pytest.mark.browser, pytest.mark.app_config(WTF_CSRF_ENABLED=True)]

PRODUCT_NAME = "배추김치 3kg"
POINT_NAME = "망원시장 동문"
QUANTITY, LIMIT, PRICE = 5, 2, 18000
BUYER, FARMER = "buyer@example.com", "farmer@example.com"


def make_live_sale(app) -> dict:
    """A farm with one product and a pickup point, a sale of it open now (orders close in two days,
    pickup a day later), and a buyer. Returns the ids the walk uses."""
    now = utcnow()
    with app.app_context():
        village = make_village("들꽃마을", region="gyeonggi")
        farmer = make_user(FARMER, display_name="김농부")
        producer = make_producer(farmer, village, farm_name="들꽃 김치농장")
        kimchi = make_product(producer, PRODUCT_NAME, unit="3kg 통", category="preserves", now=now)
        point = make_point(producer, name=POINT_NAME, now=now)
        sale = make_sale(
            producer, [(kimchi, PRICE, QUANTITY, LIMIT)], point=point, title="토요일 김장김치", now=now,
            opens_in=-timedelta(hours=1), closes_in=timedelta(days=2), pickup_in=timedelta(days=3),
        )  # fmt: skip
        make_user(BUYER, display_name="이도시")
        return {"sale": sale.id, "item": sale.items[0].id, "location": f"{point.name}, {point.address}"}


def stock_numbers(page: Page) -> list[int]:
    """The numbers in the item's stock line (left, total, per-person limit), sorted, so the check
    holds whatever order a language puts them in."""
    return sorted(int(n) for n in re.findall(r"\d+", page.locator("main .order-form .item-row .small").inner_text()))


def assert_fits(page: Page) -> None:
    assert horizontal_overflow(page) <= 0, f"{page.url} scrolls sideways on a phone"


def line_count(locator) -> int:
    """On how many lines the element's text is laid out."""
    return locator.evaluate(
        """element => {
            const range = document.createRange();
            range.selectNodeContents(element);
            return new Set(Array.from(range.getClientRects(), rect => Math.round(rect.top))).size;
        }"""
    )


def background(locator) -> str:
    return locator.evaluate("element => getComputedStyle(element).backgroundColor")


def test_a_buyer_orders_from_a_live_sale_and_the_producer_checks_them_in(
    app, live_server, page: Page, output_path, console_errors
):
    ids = make_live_sale(app)
    sale_url = f"{live_server}/sales/{ids['sale']}"
    sign_in(page, live_server, BUYER)

    # The sale page: the countdown replaces the server's closing time and then runs.
    server_html = page.request.get(sale_url).text()
    fallback = re.search(r"<time data-countdown[^>]*>([^<]*)</time>", server_html).group(1)
    page.clock.install()  # the page's own clock, so a minute can pass in an instant
    page.goto(sale_url)
    countdown = page.locator("main time[data-countdown]")
    expect(countdown).not_to_have_text(fallback, timeout=2000)
    shown = countdown.inner_text()
    assert re.fullmatch(r"\d+\D+ \d+\D+ \d+\D+", shown), shown  # days, hours, minutes
    page.clock.run_for(61_000)
    expect(countdown).not_to_have_text(shown, timeout=2000)
    assert stock_numbers(page) == sorted([QUANTITY, QUANTITY, LIMIT])
    quantity = page.locator(f"input[name='qty-{ids['item']}']")
    expect(quantity).to_have_attribute("max", str(LIMIT))
    pay_at_pickup = page.locator("input[name=payment_method][value=pickup]")
    if pay_at_pickup.count():  # shown only when there is more than one way to pay
        expect(pay_at_pickup).to_be_checked()
    assert_fits(page)
    sale_png = screenshot(page, output_path, "sale.png")

    quantity.fill("2")
    page.locator("form[action$='/review'] button[type=submit]").click()

    # The review step: quantity, total, pickup place and window, payment; the phone is asked once.
    expect(page).to_have_url(re.compile(rf"/sales/{ids['sale']}/review$"))
    expect(page.locator("main table.review-lines td.quantity")).to_have_text("× 2")
    expect(page.locator("main table.review-lines tr.total td.amount")).to_contain_text(f"{2 * PRICE:,}")
    expect(page.locator("main .pickup-place")).to_contain_text(POINT_NAME)
    expect(page.locator("main .pickup-window")).not_to_be_empty()
    expect(page.locator("main .payment-method")).not_to_be_empty()
    assert_fits(page)
    review_png = screenshot(page, output_path, "review.png")
    with app.app_context():
        assert db.session.scalar(db.select(Order.id)) is None  # nothing is taken before the confirmation
    page.fill("input[name=phone]", "010 9876 5432")
    page.locator("form[action$='/order'] button[type=submit]").click()

    # The order page: a pickup code, its QR code and the pickup in a calendar file.
    expect(page).to_have_url(re.compile(rf"{re.escape(live_server)}/orders/\d+$"))
    expect(page.locator(".flash-success")).to_be_visible()
    code = page.locator("main .pickup-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{6}", code), code
    expect(page.locator("main .qr svg")).to_be_visible()
    ics_link = page.locator("main a[href$='/pickup.ics']")
    expect(ics_link).to_have_count(1)
    ics = page.request.get(ics_link.evaluate("a => a.href"))
    assert ics.status == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in ics.text()
    event = Calendar.from_ical(ics.body()).walk("VEVENT")[0]
    assert str(event["LOCATION"]) == ids["location"]
    assert code in str(event["DESCRIPTION"])
    # Cancelling is offered, but not as the page's main action (not in the primary green).
    cancel = page.locator("main form[action$='/cancel'] button[type=submit]")
    expect(cancel).to_be_visible()
    assert background(cancel) != background(page.locator("header.topbar"))
    assert_fits(page)
    order_png = screenshot(page, output_path, "order.png")

    page.locator(f"main a[href='/sales/{ids['sale']}']").click()
    expect(page).to_have_url(sale_url)
    assert stock_numbers(page) == sorted([QUANTITY - 2, QUANTITY, LIMIT])

    # Pickup day comes (the sale's windows move into the past): check-in opens with the pickup.
    with app.app_context():
        sale = db.session.get(Sale, ids["sale"])
        now = utcnow()
        sale.opens_at, sale.closes_at = now - timedelta(hours=4), now - timedelta(hours=2)
        sale.pickup_starts_at, sale.pickup_ends_at = now - timedelta(hours=1), now + timedelta(hours=1)
        db.session.commit()

    # The producer: sign out through the menu, sign in, open the roster from the sale page.
    page.locator("details.menu > summary").click()
    page.locator("details.menu form[action='/logout'] button[type=submit]").click()
    expect(page.locator("details.menu form[action='/logout']")).to_have_count(0)
    sign_in(page, live_server, FARMER)
    page.goto(sale_url)
    page.locator(f"main a[href='/sales/{ids['sale']}/roster']").click()
    expect(page).to_have_url(re.compile(rf"/sales/{ids['sale']}/roster"))
    row = page.locator("table.roster tbody tr").filter(has=page.locator("td a[href^='/orders/']", has_text=code))
    expect(row).to_have_count(1)
    expect(row).to_have_class("status-confirmed")
    expect(row.locator("td.phone")).to_have_text("010-9876-5432")  # the phone the buyer gave, for the producer
    for cell in row.locator("td").all():  # a code, a name or a status split over two lines is misread
        assert line_count(cell) == 1, cell.inner_text()
    assert_fits(page)
    roster_png = screenshot(page, output_path, "roster.png")

    page.fill("input[name=code]", f"{code[:3].lower()} {code[3:].lower()}")
    page.locator("main form:has(input[name=code]) button[type=submit]").click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator(".flash-success")).to_contain_text(code)
    expect(row).to_have_class("status-picked_up")
    expect(page.locator("input[name=code]")).to_have_value("")
    assert_fits(page)

    with app.app_context():
        order = db.session.scalar(db.select(Order).where(Order.pickup_code == code))
        assert order.status == "picked_up"
        payment = payment_for(order)
        assert (payment.provider, payment.status) == ("pickup", "succeeded")
        assert ("payment", 2 * PRICE) in ledger_kinds(payment)

    for path in (sale_png, review_png, order_png, roster_png):
        assert os.path.isfile(path)
    assert console_errors == []
