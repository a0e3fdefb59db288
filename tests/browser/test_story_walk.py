"""A buyer on a Korean phone, in a real Chromium, walks the story a producer tells: from the village
page to the producer, to one animal's timeline, to the product made from it; follows the producer and
finds the newest story on their feed. On the way the product page's link-preview metadata is read as
a messenger would read it, and its image is fetched.

CSRF protection is on, as in production; the strict Content-Security-Policy is proven by the absence
of console errors. Fields are found by their `name` and links by their `href`, never by wording.
"""

from __future__ import annotations

import io
import os
import re
from datetime import timedelta

import pytest
from flask import url_for
from PIL import Image
from playwright.sync_api import Page, expect

from farmstore.catalog.services import create_product
from farmstore.stories.services import create_subject, write_post
from farmstore.timeutil import utcnow
from tests.factories import PASSWORD, image_bytes, make_producer, make_user, make_village

pytestmark = [pytest.mark.browser, pytest.mark.app_config(WTF_CSRF_ENABLED=True)]

PHONE_WIDTH = 360
PRODUCT_NAME = "누렁이 한우 정육 세트"
# Oldest first; the walk expects to see them newest first.
POSTS = [
    (60, "누렁이가 태어났어요", "새벽에 **건강한** 송아지가 태어났습니다."),
    (30, "첫 풀밭 나들이", "엄마 소를 따라 처음으로 풀밭에 나갔어요."),
    (2, "가을 햇살 아래 낮잠", "볏짚 위에서 낮잠을 자는 누렁이입니다."),
]
NEWEST_TITLE = POSTS[-1][1]


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than a phone screen (0 when it fits)."""
    return page.evaluate("document.documentElement.scrollWidth") - PHONE_WIDTH


def assert_fits_and_images_load(page: Page) -> None:
    """The page needs no sideways scrolling on a phone, and every photo on it (lazy ones are
    scrolled into view first) loads."""
    assert horizontal_overflow(page) <= 0, page.url
    for image in page.locator("main img").all():
        image.scroll_into_view_if_needed()
    page.wait_for_function("Array.from(document.images).every(img => img.complete)")
    broken = page.evaluate("Array.from(document.images).filter(img => !img.naturalWidth).map(img => img.src)")
    assert broken == []
    page.evaluate("Promise.all(Array.from(document.images).map(img => img.decode()))")  # painted in screenshots
    page.evaluate("window.scrollTo(0, 0)")


def screenshot(page: Page, output_path: str, name: str) -> str:
    """A full-page screenshot saved under the test's output folder; returns its path."""
    os.makedirs(output_path, exist_ok=True)
    path = os.path.join(output_path, name)
    page.screenshot(path=path, full_page=True)
    assert os.path.getsize(path) > 0
    return path


def meta(page: Page, key: str) -> str | None:
    """The content of a link-preview <meta> tag (Open Graph `property` or Twitter `name`)."""
    attribute = "property" if key.startswith("og:") else "name"
    return page.locator(f'meta[{attribute}="{key}"]').get_attribute("content")


def follower_count(page: Page) -> int:
    """The number of regulars shown next to the Follow button."""
    return int(re.search(r"\d+", page.locator(".follow .muted").inner_text()).group())


def make_story(app) -> dict[str, str]:
    """A village, a producer with one cow (cover photo) and three dated stories (the newest with three
    photos, one of them upright), a product from that cow with a photo, and a buyer. Returns the paths the walk uses."""
    now = utcnow()
    with app.app_context():
        village = make_village("느릅골", region="gangwon", description="한우를 풀어 키우는 산골 마을")
        farmer = make_user("farmer@example.com", display_name="박영수")
        producer = make_producer(farmer, village, farm_name="느릅골 한우농장")
        cow = create_subject(
            producer=producer, by=farmer, kind="animal", name="누렁이", started_on=(now - timedelta(days=60)).date(),
            breed="한우", location="개울 옆 아래 풀밭", description="풀을 먹고 자라는 **암송아지**입니다.",
            cover=image_bytes(size=(1200, 900)), now=now,
        )  # fmt: skip
        for days_ago, title, body in POSTS:
            photos = [image_bytes(), image_bytes(size=(900, 1200)), image_bytes()] if days_ago == POSTS[-1][0] else []
            write_post(
                cow, by=farmer, happened_on=(now - timedelta(days=days_ago)).date(), title=title, body=body,
                photos=photos, now=now,
            )  # fmt: skip
        product = create_product(
            producer=producer, by=farmer, name=PRODUCT_NAME, unit="1kg 상자", category="meat",
            description="누렁이와 함께 자란 소들의 **정육**을 모았습니다.", subject_ids=[cow.id],
            photos=[image_bytes(size=(1200, 900))], now=now,
        )  # fmt: skip
        make_user("buyer@example.com", display_name="이도시")
        with app.test_request_context():
            return {
                "village": url_for("villages.show", slug=village.slug),
                "producer": url_for("producers.show", slug=producer.slug),
                "subject": url_for("stories.subject", producer_slug=producer.slug, subject_slug=cow.slug),
                "product": url_for("catalog.product", producer_slug=producer.slug, product_slug=product.slug),
                "feed": url_for("regulars.feed"),
            }


def sign_in(page: Page, base: str, email: str) -> None:
    """Sign in through the real form."""
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("details.menu form[action='/logout']")).to_have_count(1)


def test_a_buyer_walks_from_the_village_to_a_cow_and_its_product_then_follows_the_farm(
    app, live_server, page: Page, output_path, console_errors
):
    paths = make_story(app)
    sign_in(page, live_server, "buyer@example.com")

    page.goto(live_server + paths["village"])
    assert_fits_and_images_load(page)
    page.locator(f"main .card a[href='{paths['producer']}']").click()

    expect(page).to_have_url(live_server + paths["producer"])
    assert_fits_and_images_load(page)
    page.locator(f"main .card a[href='{paths['subject']}']").click()

    expect(page).to_have_url(live_server + paths["subject"])
    stories = page.locator("main .timeline article.story")
    expect(stories.locator("h3")).to_have_text([title for _, title, _ in reversed(POSTS)])
    dates = stories.locator("time").evaluate_all("times => times.map(t => t.dateTime)")
    assert dates == sorted(dates, reverse=True)
    newest_photos = stories.first.locator(".photos img")
    expect(newest_photos).to_have_count(3)
    assert_fits_and_images_load(page)
    # Three photos share a phone's width, so its 2x screen needs only the thumbnails.
    assert all(src.endswith("/thumb.jpg") for src in newest_photos.evaluate_all("imgs => imgs.map(i => i.currentSrc)"))
    expect(stories.last.locator(".prose strong")).to_have_text("건강한")
    timeline_png = screenshot(page, output_path, "timeline.png")
    page.locator(f"main .card a[href='{paths['product']}']").click()

    expect(page).to_have_url(live_server + paths["product"])
    expect(page.locator("main h1")).to_have_text(PRODUCT_NAME)
    from_timeline = page.locator("main .timeline article.story")
    expect(from_timeline.first.locator("h3")).to_have_text(NEWEST_TITLE)
    expect(from_timeline).to_have_count(len(POSTS))
    assert_fits_and_images_load(page)
    product_png = screenshot(page, output_path, "product.png")

    assert PRODUCT_NAME in meta(page, "og:title")
    assert meta(page, "og:description").strip()
    assert meta(page, "twitter:card") == "summary_large_image"
    assert meta(page, "og:locale") == "ko_KR"
    image_url = meta(page, "og:image")
    assert re.fullmatch(r"http://[^/]+/.+/share\.jpg", image_url)
    assert meta(page, "twitter:image") == image_url
    image = page.request.get(image_url)
    assert image.status == 200
    assert image.headers["content-type"] == "image/jpeg"
    width, height = Image.open(io.BytesIO(image.body())).size
    assert (str(width), str(height)) == (meta(page, "og:image:width"), meta(page, "og:image:height"))

    page.locator(f"main a[href='{paths['producer']}']").first.click()
    expect(page).to_have_url(live_server + paths["producer"])
    assert follower_count(page) == 0
    page.locator("form[action$='/follow'] button").click()
    expect(page.locator("form[action$='/unfollow']")).to_have_count(1)
    expect(page.locator("form[action$='/follow']")).to_have_count(0)
    expect(page.locator(".flash-success")).to_be_visible()
    assert follower_count(page) == 1
    assert_fits_and_images_load(page)

    page.locator("details.menu > summary").click()
    page.locator(f"details.menu a[href='{paths['feed']}']").click()
    expect(page).to_have_url(live_server + paths["feed"])
    expect(page.locator("main .timeline article.story").first.locator("h3")).to_have_text(NEWEST_TITLE)
    expect(page.locator(f"main .timeline a[href='{paths['subject']}']").first).to_be_visible()
    assert_fits_and_images_load(page)

    assert os.path.isfile(timeline_png) and os.path.isfile(product_png)
    assert console_errors == []


def test_a_signed_out_visitor_who_presses_follow_signs_in_and_comes_back_to_follow(
    app, live_server, page: Page, console_errors
):
    paths = make_story(app)
    page.goto(live_server + paths["producer"])
    expect(page.locator("form[action$='/follow']")).to_have_count(0)
    page.locator("main .follow a[href^='/login']").click()

    page.fill("input[name=email]", "buyer@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(live_server + paths["producer"])
    page.locator("form[action$='/follow'] button").click()
    expect(page.locator("form[action$='/unfollow']")).to_have_count(1)
    assert follower_count(page) == 1
    assert console_errors == []
