"""A text over the server's limit is stopped in the browser before it is sent (static/js/limits.js),
with "글이 너무 깁니다" next to the field and everything typed still there."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, make_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.app_config(WTF_CSRF_ENABLED=True, MAX_FORM_MEMORY_SIZE=4_000, MAX_CONTENT_LENGTH=200_000),
]


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)


def test_a_long_story_is_stopped_before_sending_and_kept(app, live_server, page: Page, console_errors):
    with app.app_context():
        make_user("farmer@example.com")
    sign_in(page, live_server, "farmer@example.com")
    page.goto(live_server + "/producers/new")
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)

    story = "배추밭 이야기 " * 400  # about 8,000 bytes in UTF-8: over the 4,000-byte field limit
    page.fill("input[name=farm_name]", "햇살농장")
    page.fill("textarea[name=about]", story)
    page.locator("main form button[type=submit]").click()

    note = page.locator(".size-error")
    expect(note).to_be_visible()
    expect(note).to_contain_text("글이 너무 깁니다")
    assert page.url.endswith("/producers/new")
    assert page.locator("textarea[name=about]").input_value() == story
    assert posts == []  # nothing was sent
    page.screenshot(path=Path(tempfile.gettempdir()) / "phone-b-size-limit-ko.png", full_page=True)

    page.fill("textarea[name=about]", "배추밭 이야기")
    with page.expect_request(lambda request: request.method == "POST"):  # short enough: it goes
        page.locator("main form button[type=submit]").click()
    assert console_errors == []
