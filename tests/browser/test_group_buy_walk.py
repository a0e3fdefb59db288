"""A buyer on a Korean phone, in a real Chromium, joins a field group-buy: reads the progress, pledges
three units (paying at pickup or delivery), and sees the progress move and their pledge. Then the
deadline is simulated (the deadline moved into the past, `settle_due_group_buys` run as `flask farm
tick` would) and, on reloading, the buyer sees the outcome: it is on and their pledge is due with its
pickup code, or the minimum was missed and their pledge is released.

CSRF protection is on, as in production; the strict Content-Security-Policy is proven by the absence
of console errors. Fields are found by their `name`, the progress by its attributes and states by CSS
classes, never by wording.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from farmstore.extensions import db
from farmstore.groupbuys.models import GroupBuy, Pledge
from farmstore.groupbuys.services import pledge, settle_due_group_buys
from farmstore.timeutil import utcnow
from tests.browser.test_story_walk import horizontal_overflow, screenshot, sign_in
from tests.factories import make_producer, make_user, make_village
from tests.groupbuys.conftest import make_group_buy
from tests.stories.conftest import make_subject

pytestmark = [pytest.mark.browser, pytest.mark.app_config(WTF_CSRF_ENABLED=True)]

TOTAL, MINIMUM, MAXIMUM, UNITS = 20, 5, 4, 3
BUYER, FARMER = "buyer@example.com", "farmer@example.com"


def make_open_group_buy(app) -> int:
    """A farm with a field and an open group-buy of it (deadline in three days, delivered, so paid at
    pickup or delivery), and a buyer. Returns the group-buy's id."""
    now = utcnow()
    with app.app_context():
        village = make_village("들꽃마을", region="gyeonggi")
        producer = make_producer(make_user(FARMER, display_name="김농부"), village, farm_name="느릅골 농장")
        make_subject(producer, "북쪽 밭", kind="field")
        group_buy = make_group_buy(
            producer, now=now, deadline=now + timedelta(days=3), total=TOTAL, minimum=MINIMUM,
            per_buyer_max=MAXIMUM, title="북쪽 밭 배추 함께 사기",
        )  # fmt: skip
        make_user(BUYER, display_name="이도시")
        return group_buy.id


def progress(page: Page) -> tuple[int, int]:
    """(value, max) of the group-buy's progress bar."""
    bar = page.locator("main .progress-box progress")
    return int(bar.get_attribute("value")), int(bar.get_attribute("max"))


def simulate_deadline(app, group_buy_id: int, others: list[int]) -> None:
    """Other households pledge `others` units each while it is open; then the deadline passes and
    settlement runs as the tick would."""
    with app.app_context():
        group_buy = db.session.get(GroupBuy, group_buy_id)
        for n, units in enumerate(others):
            buyer = make_user(f"other{n}@example.com", display_name=f"이웃{n}")
            pledge(group_buy=group_buy, buyer=buyer, units=units, now=utcnow())
        db.session.execute(
            update(GroupBuy).where(GroupBuy.id == group_buy_id).values(deadline=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()
        db.session.expire_all()
        assert settle_due_group_buys(now=utcnow()) == 1 + len(others)


def pledge_walk(page: Page, live_server: str, group_buy_id: int, output_path: str) -> str:
    """Sign in, open the group-buy, pledge UNITS units; returns the group-buy's URL."""
    url = f"{live_server}/group-buys/{group_buy_id}"
    sign_in(page, live_server, BUYER)
    page.goto(url)
    expect(page.locator("main .badge.status-open")).to_be_visible()
    assert progress(page) == (0, TOTAL)
    expect(page.locator("main .my-pledge")).to_have_count(0)
    assert horizontal_overflow(page) <= 0, f"{page.url} scrolls sideways on a phone"
    screenshot(page, output_path, "open.png")

    form = page.locator("main form[action$='/pledge']")
    expect(form.locator("input[name=units]")).to_have_value("1")
    form.locator("input[name=units]").fill(str(UNITS))
    form.locator("input[name=show_name]").check()
    form.locator("button[type=submit]").click()

    expect(page).to_have_url(url)
    expect(page.locator(".flash-success")).to_be_visible()
    assert progress(page) == (UNITS, TOTAL)
    panel = page.locator("main .my-pledge")
    expect(panel).to_be_visible()
    expect(panel.locator(".badge.status-active")).to_be_visible()
    expect(page.locator("main form[action$='/withdraw']")).to_have_count(1)
    expect(page.locator("main form[action$='/pledge'] input[name=units]")).to_have_value(str(UNITS))
    assert horizontal_overflow(page) <= 0, f"{page.url} scrolls sideways on a phone"
    screenshot(page, output_path, "pledged.png")
    return url


def test_a_buyer_pledges_and_after_the_deadline_it_is_on(app, live_server, page: Page, output_path, console_errors):
    group_buy_id = make_open_group_buy(app)
    url = pledge_walk(page, live_server, group_buy_id, output_path)

    simulate_deadline(app, group_buy_id, others=[MINIMUM - UNITS])  # exactly the minimum
    with app.app_context():
        mine = db.session.scalar(db.select(Pledge).join(Pledge.buyer).where(Pledge.buyer.has(email=BUYER)))
        assert mine.status == "due"
        code = mine.pickup_code

    page.reload()
    expect(page.locator("main .badge.status-succeeded")).to_be_visible()
    expect(page.locator("main .badge.status-open")).to_have_count(0)
    assert progress(page) == (MINIMUM, TOTAL)
    panel = page.locator("main .my-pledge")
    expect(panel.locator(".badge.status-due")).to_be_visible()
    expect(panel.locator(".pledge-code")).to_have_text(code)
    # Decided: no more pledging, changing or withdrawing.
    expect(page.locator("main form[action$='/pledge']")).to_have_count(0)
    expect(page.locator("main form[action$='/withdraw']")).to_have_count(0)
    expect(page.locator("main time[data-countdown]")).to_have_count(0)
    assert horizontal_overflow(page) <= 0, f"{page.url} scrolls sideways on a phone"
    path = screenshot(page, output_path, "succeeded.png")

    assert os.path.isfile(path)
    assert page.url == url
    assert console_errors == []


def fail_the_group_buy(app, live_server: str, page: Page, output_path: str) -> None:
    """Pledge, then let the deadline pass one unit short of the minimum; the page is reloaded."""
    group_buy_id = make_open_group_buy(app)
    pledge_walk(page, live_server, group_buy_id, output_path)
    simulate_deadline(app, group_buy_id, others=[MINIMUM - UNITS - 1])
    with app.app_context():
        assert db.session.scalar(db.select(Pledge.status).where(Pledge.buyer.has(email=BUYER))) == "released"
    page.reload()


def test_a_buyer_pledges_and_after_the_deadline_nobody_pays(app, live_server, page: Page, output_path, console_errors):
    fail_the_group_buy(app, live_server, page, output_path)

    expect(page.locator("main .badge.status-failed")).to_be_visible()
    expect(page.locator("main .badge.status-succeeded")).to_have_count(0)
    assert progress(page) == (MINIMUM - 1, TOTAL)  # the units stay counted: it shows how close it came
    expect(page.locator("main .pledge-code")).to_have_count(0)
    expect(page.locator("main form[action$='/pledge']")).to_have_count(0)
    expect(page.locator("main form[action$='/withdraw']")).to_have_count(0)
    expect(page.locator("main time[data-countdown]")).to_have_count(0)
    assert horizontal_overflow(page) <= 0, f"{page.url} scrolls sideways on a phone"
    path = screenshot(page, output_path, "failed.png")

    assert os.path.isfile(path)
    assert console_errors == []


def test_a_released_pledge_is_shown_to_its_buyer(app, live_server, page: Page, output_path):
    fail_the_group_buy(app, live_server, page, output_path)

    expect(page.locator("main .my-pledge .badge.status-released")).to_be_visible(timeout=1000)
