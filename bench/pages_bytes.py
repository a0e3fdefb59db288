"""Transferred bytes of the demo's main pages: HTML + CSS + JS (before images), each kept under
100 KB. Seeds the demo into a temporary SQLite database and prints one line per page.

    .venv/bin/python -m bench.pages_bytes
"""

from __future__ import annotations

import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

BUDGET = 100 * 1024
ASSET = re.compile(
    r'<(?:link(?![^>]*rel="(?:canonical|alternate|icon|apple-touch-icon|manifest)")[^>]+href|script[^>]+src)="([^"]+)"'
)


def demo_pages(app) -> dict[str, str]:
    """The URL of each kind of page, taken from the seeded demo."""
    from farmstore.catalog.models import Product
    from farmstore.extensions import db
    from farmstore.groupbuys.models import GroupBuy
    from farmstore.producers.models import Producer
    from farmstore.sales.models import Sale
    from farmstore.stories.models import Subject

    with app.app_context():
        producer = db.session.scalars(select(Producer).order_by(Producer.id)).first()
        subject = db.session.scalars(select(Subject).order_by(Subject.id)).first()
        product = db.session.scalars(select(Product).order_by(Product.id)).first()
        sale = db.session.scalars(select(Sale).order_by(Sale.id)).first()
        group_buy = db.session.scalars(select(GroupBuy).order_by(GroupBuy.id)).first()
        return {
            "home": "/",
            "producer": f"/producers/{producer.slug}",
            "subject": f"/producers/{subject.producer.slug}/subjects/{subject.slug}",
            "product": f"/producers/{product.producer.slug}/products/{product.slug}",
            "sale": f"/sales/{sale.id}",
            "group-buy": f"/group-buys/{group_buy.id}",
        }


def page_bytes(client, url: str) -> tuple[int, int]:
    """(HTML bytes, HTML + CSS + JS bytes) of `url`, in Korean."""
    response = client.get(url, headers={"Accept-Language": "ko"})
    assert response.status_code == 200, (url, response.status_code)
    html = response.data
    assets = sum(len(client.get(asset.split("?")[0]).data) for asset in ASSET.findall(html.decode()))
    return len(html), len(html) + assets


def measure(app) -> dict[str, tuple[str, int, int]]:
    """{page: (url, HTML bytes, total bytes)} for the demo in `app`."""
    client = app.test_client()
    return {name: (url, *page_bytes(client, url)) for name, url in demo_pages(app).items()}


def main() -> None:
    from farmstore import create_app, demo
    from farmstore.extensions import db

    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'bench.db'}", "MEDIA_ROOT": folder})
        with app.app_context():
            db.create_all()
            demo.seed(now=datetime.now(UTC))
        for name, (url, html, total) in measure(app).items():
            flag = "ok" if total < BUDGET else "OVER BUDGET"
            print(f"{name:10} {url:60} html {html / 1024:6.1f} KB  html+css+js {total / 1024:6.1f} KB  {flag}")


if __name__ == "__main__":
    main()
