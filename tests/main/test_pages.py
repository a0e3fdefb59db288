"""Site-wide pages: light, self-hosted, with safe headers."""

from __future__ import annotations

import re

from tests.factories import make_producer

PAGE_BUDGET = 100 * 1024  # HTML + CSS + JS of a page, before images


def _assets(html: str) -> list[str]:
    """What the browser loads with the page (a canonical or alternate link is only an address)."""
    return re.findall(r'<(?:link(?![^>]*rel="(?:canonical|alternate)")[^>]+href|script[^>]+src)="([^"]+)"', html)


def test_home_lists_producers_and_villages(app, client):
    with app.app_context():
        make_producer(farm_name="느릅골 한우농장")

    page = client.get("/").get_data(as_text=True)

    assert "느릅골 한우농장" in page
    assert "/villages/" in page


def test_pages_load_nothing_from_other_sites(client):
    html = client.get("/").get_data(as_text=True)

    external = [url for url in _assets(html) if url.startswith(("http:", "https:", "//"))]
    assert _assets(html)
    assert external == []


def test_a_page_with_its_css_and_js_stays_under_100_kb(app, client):
    with app.app_context():
        producer = make_producer()
        urls = ["/", f"/producers/{producer.slug}", f"/villages/{producer.village.slug}", "/register"]
    for url in urls:
        html = client.get(url).data
        total = len(html) + sum(len(client.get(asset).data) for asset in _assets(html.decode()))
        assert total < PAGE_BUDGET, f"{url} weighs {total} bytes"


def test_responses_carry_security_headers(client):
    response = client.get("/")

    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_pages_are_built_for_phones(client):
    html = client.get("/").get_data(as_text=True)

    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html


def test_health_check_reaches_the_database(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_a_server_error_shows_a_friendly_page(app, client):
    @app.get("/boom")
    def boom():
        raise RuntimeError("kaput")

    app.testing = False  # let the error handler answer instead of re-raising
    response = client.get("/boom", headers={"Accept-Language": "en"})

    assert response.status_code == 500
    assert "Nothing was lost" in response.get_data(as_text=True)
    assert "kaput" not in response.get_data(as_text=True)
