"""A body over the request limit gets a page that says what was too large, in the user's language:
a text over the form limit is "글이 너무 깁니다"; only an upload over the request cap speaks of photos."""

from __future__ import annotations

import io

import pytest

from tests.factories import make_user


def error_section(response) -> str:
    """The error page's own text (the body's data attributes carry every size message)."""
    page = response.get_data(as_text=True)
    return page[page.index('<section class="error-page">') :]


TEXT_LIMITS = pytest.mark.app_config(MAX_FORM_MEMORY_SIZE=2_000, MAX_CONTENT_LENGTH=5_000)


@TEXT_LIMITS
@pytest.mark.parametrize(("language", "title"), [("ko", "글이 너무 깁니다"), ("en", "That text is too long")])
def test_a_long_text_is_too_long_not_a_photo(client, language, title):
    response = client.post(
        "/login", data={"email": "a@example.com", "password": "가" * 2_000}, headers={"Accept-Language": language}
    )

    assert response.status_code == 413
    page = error_section(response)
    assert title in page
    assert "사진" not in page and "photo" not in page.lower()


@TEXT_LIMITS
def test_a_long_text_field_on_a_photo_form_is_still_about_the_text(app, client, auth):
    """A story form is multipart; its text over the field limit is not a photo problem."""
    with app.app_context():
        make_user("writer@example.com")
    auth.login("writer@example.com")
    response = client.post(
        "/producers/new",
        data={"farm_name": "햇살농장", "story": "가" * 1_000, "photo": (io.BytesIO(b"x" * 10), "a.jpg")},
        content_type="multipart/form-data",
        headers={"Accept-Language": "ko"},
    )

    assert response.status_code == 413
    assert "글이 너무 깁니다" in error_section(response)


@TEXT_LIMITS
def test_an_upload_over_the_request_cap_speaks_of_photos(app, client, auth):
    with app.app_context():
        make_user("writer@example.com")
    auth.login("writer@example.com")
    response = client.post(
        "/producers/new",
        data={"farm_name": "햇살농장", "photo": (io.BytesIO(b"x" * 6_000), "a.jpg")},
        content_type="multipart/form-data",
        headers={"Accept-Language": "ko"},
    )

    assert response.status_code == 413
    page = error_section(response)
    assert "사진이 너무 큽니다" in page and "글이 너무 깁니다" not in page


def test_every_page_carries_the_limits_for_the_client_check(client):
    page = client.get("/", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert 'data-max-text="500000"' in page
    assert 'data-max-request="33554432"' in page
    assert "글이 너무 깁니다." in page  # the message limits.js shows
    assert "/static/js/limits.js" in page
