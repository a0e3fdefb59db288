"""An evangelist brings a producer online, in a real Chromium on a Korean phone: she makes an
invitation on her dashboard; the farmer opens its link, makes an account and fills in the farm; the
evangelist drafts the farm's first story; the farmer approves it and it is published "written with"
her; a buyer asks a question on the farm's product page; and the question shows on the evangelist's
dashboard.

CSRF protection is on, as in production; the strict Content-Security-Policy is proven by the absence
of console errors. Fields are found by their `name`, parts of pages by classes and data attributes,
never by wording. Each person signs in on the same phone after the cookies of the previous one are
cleared.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from farmstore.catalog.services import create_product
from farmstore.evangelists.services import helper_of
from farmstore.extensions import db
from farmstore.producers.models import Producer
from farmstore.stories.models import StoryPost
from farmstore.stories.services import create_subject
from farmstore.timeutil import utcnow
from tests.browser.test_story_walk import horizontal_overflow, screenshot, sign_in
from tests.evangelists.conftest import adopt
from tests.factories import make_user, make_village

pytestmark = [pytest.mark.browser, pytest.mark.app_config(WTF_CSRF_ENABLED=True)]

EVANGELIST, BUYER, FARMER = "sora@example.com", "buyer@example.com", "grandma@example.com"
FARMER_PASSWORD = "wild-flowers-dry-on-the-porch"
QUESTION = "들꽃차는 몇 번까지 우려 마실 수 있나요?"


def make_village_with_evangelist(app) -> None:
    with app.app_context():
        village = make_village("들꽃마을", region="gangwon")
        operator = make_user("operator@example.com", display_name="운영자", is_operator=True)
        adopt(make_user(EVANGELIST, display_name="소라"), village, operator, now=utcnow())
        make_user(BUYER, display_name="이도시")


def switch_to(page: Page, live_server: str, email: str | None) -> None:
    """Sign the previous person out (cookies cleared) and sign `email` in, if given."""
    page.context.clear_cookies()
    if email:
        sign_in(page, live_server, email)


def give_the_farm_a_field_and_a_product(app) -> tuple[str, str]:
    """The new farm's tea field and its tea (added by the farmer, as after the walk's sign-up)."""
    with app.app_context():
        producer = db.session.scalar(select(Producer).where(Producer.farm_name == "들꽃차 할머니"))
        field = create_subject(producer=producer, by=producer.user, kind="field", name="뒷산 들꽃밭", started_on=None,
                               breed="", location="", description="", now=utcnow())  # fmt: skip
        product = create_product(producer=producer, by=producer.user, name="들꽃차 20g", unit="20 g", category="tea",
                                 description="", subject_ids=[field.id], photos=(), now=utcnow())  # fmt: skip
        return producer.slug, product.slug


def test_an_evangelist_invites_a_farmer_drafts_her_story_and_sees_a_buyers_question(
    app, live_server, page: Page, output_path, console_errors
):
    make_village_with_evangelist(app)

    # The evangelist makes an invitation on her dashboard.
    switch_to(page, live_server, EVANGELIST)
    page.goto(live_server + "/evangelist")
    page.fill("#invitations input[name=note]", "들꽃차 할머니")
    page.locator("#invitations form[action='/evangelist/invitations'] button[type=submit]").click()
    link = page.locator("#invitations input.share-link").first.input_value()
    assert link.startswith(live_server + "/join/")
    screenshot(page, output_path, "dashboard-invitation.png")

    # The farmer opens the link, makes her account and fills in her farm.
    switch_to(page, live_server, None)
    page.goto(link)
    page.locator("main a[href^='/register']").click()
    page.fill("input[name=email]", FARMER)
    page.fill("input[name=display_name]", "박순자")
    page.fill("input[name=password]", FARMER_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(link)
    page.fill("input[name=farm_name]", "들꽃차 할머니")
    page.fill("textarea[name=about]", "뒷산 들꽃을 말려 차를 만듭니다.")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main h1")).to_have_text("들꽃차 할머니")
    assert horizontal_overflow(page) <= 0, f"{page.url} scrolls sideways on a phone"
    with app.app_context():
        producer = db.session.scalar(select(Producer).where(Producer.farm_name == "들꽃차 할머니"))
        assert producer.village.name == "들꽃마을"
        assert helper_of(producer).user.email == EVANGELIST
    farm, product = give_the_farm_a_field_and_a_product(app)

    # The evangelist drafts the farm's first story.
    switch_to(page, live_server, EVANGELIST)
    page.goto(f"{live_server}/producers/{farm}/drafts/new/story")
    page.fill("input[name=title]", "올해 첫 들꽃 따기")
    page.fill("textarea[name=body]", "새벽 이슬이 마르기 전에 할머니와 함께 땄어요.")
    page.locator("main form button[type=submit]").click()
    with app.app_context():
        assert db.session.scalar(select(StoryPost).where(StoryPost.title == "올해 첫 들꽃 따기")) is None

    # The farmer approves it; it is published, written with the evangelist.
    page.context.clear_cookies()
    page.goto(live_server + "/login")
    page.fill("input[name=email]", FARMER)
    page.fill("input[name=password]", FARMER_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(f"{live_server}/producers/{farm}/drafts")
    page.locator("main form[action$='/approve'] button[type=submit]").first.click()
    with app.app_context():
        post = db.session.scalar(select(StoryPost).where(StoryPost.title == "올해 첫 들꽃 따기"))
        assert post is not None and post.written_with.email == EVANGELIST

    # A buyer asks a question on the farm's product page.
    switch_to(page, live_server, BUYER)
    page.goto(f"{live_server}/producers/{farm}/products/{product}")
    expect(page.locator("main .written-with")).to_have_count(1)
    page.fill("form.ask textarea[name=question-body]", QUESTION)
    page.locator("form.ask button[type=submit]").click()

    # The question shows on the evangelist's dashboard.
    switch_to(page, live_server, EVANGELIST)
    page.goto(live_server + "/evangelist")
    expect(page.locator("main .open-questions li")).to_contain_text(QUESTION)
    expect(page.locator(f"main tr[data-producer='{farm}'] [data-unanswered]")).to_have_text("1")
    expect(page.locator("main [data-impact=onboarded]")).to_have_text("1")
    expect(page.locator("main [data-impact=stories]")).to_have_text("1")
    assert horizontal_overflow(page) <= 0, f"{page.url} scrolls sideways on a phone"
    screenshot(page, output_path, "dashboard-question.png")
    assert console_errors == []
