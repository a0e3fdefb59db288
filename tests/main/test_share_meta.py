"""Link previews: plain-text descriptions, Open Graph on the home page, an 800×400 share picture,
a favicon and an installable web app manifest."""

from __future__ import annotations

import io
import re

from PIL import Image

from farmstore.text import plain_text


def meta(page: str, prop: str) -> str | None:
    found = re.search(rf'<meta (?:property|name)="{re.escape(prop)}" content="([^"]*)"', page)
    return found.group(1) if found else None


def test_plain_text_drops_markdown_marks():
    assert plain_text("**맛있는** 배추와 _무_\n\n- 하나\n- [둘](https://example.com)") == "맛있는 배추와 무 하나 둘"
    assert plain_text(None) == ""


def test_the_home_page_has_open_graph_tags(client):
    page = client.get("/", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert meta(page, "og:title").startswith("팜스토어")
    assert meta(page, "og:type") == "website"
    assert meta(page, "og:url") == "http://farmstore.test/"
    assert meta(page, "og:image") == "http://farmstore.test/static/img/share.png"
    assert meta(page, "og:image:width") == "800" and meta(page, "og:image:height") == "400"
    assert meta(page, "og:description")


def test_the_default_share_picture_is_800_by_400(client):
    response = client.get("/static/img/share.png")
    assert Image.open(io.BytesIO(response.data)).size == (800, 400)


def test_a_favicon_and_an_installable_manifest(client):
    page = client.get("/").get_data(as_text=True)
    assert 'rel="icon"' in page and 'rel="manifest" href="/manifest.webmanifest"' in page
    response = client.get("/manifest.webmanifest", headers={"Accept-Language": "ko"})
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json(force=True)
    assert manifest["name"] == "팜스토어" and manifest["display"] == "standalone"
    assert manifest["start_url"] == "/"
    sizes = {icon["sizes"] for icon in manifest["icons"] if icon["type"] == "image/png"}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        if icon["type"] == "image/png":
            image = Image.open(io.BytesIO(client.get(icon["src"]).data))
            assert f"{image.width}x{image.height}" == icon["sizes"]
