"""Prices while browsing (issue 13): every product card and product page shows the lowest open
offer ("from ₩8,000" when the open offers differ, the price itself when there is one), sale cards
show their price and a photo, and the lowest prices of many products cost one query."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import event

from farmstore.catalog.models import Product, ProductPhoto
from farmstore.extensions import db
from farmstore.media.services import save_photos
from farmstore.sales.models import SaleItem
from farmstore.sales.services import lowest_prices
from tests.catalog.conftest import make_product, make_subject, photo_upload
from tests.sales.conftest import HOUR, NOW, make_sale
from tests.sales.test_views import live_sale, page


def test_lowest_prices_takes_the_cheapest_item_with_stock_in_open_sales(shop):
    make_sale(shop.producer, [(shop.kimchi, 12_000, 5, 1)], point=shop.point)
    cheaper = make_sale(shop.producer, [(shop.kimchi, 9_000, 5, 1), (shop.radish, 8_000, 5, 1)], point=shop.point)
    make_sale(shop.producer, [(shop.kimchi, 5_000, 5, 1)], point=shop.point, opens_in=HOUR, closes_in=2 * HOUR)
    make_sale(shop.producer, [(shop.radish, 1_000, 5, 1)], point=shop.point, now=NOW - 3 * HOUR)  # closed
    sold_out = make_sale(shop.other, [(shop.other_product, 100, 1, 1)], point=shop.other_point)
    sold_out.items[0].quantity_taken = 1
    db.session.commit()

    prices = lowest_prices([shop.kimchi.id, shop.radish.id, shop.other_product.id], now=NOW)

    assert prices[shop.kimchi.id].price == 9_000 and prices[shop.kimchi.id].several
    assert prices[shop.radish.id].price == 8_000 and not prices[shop.radish.id].several
    assert shop.other_product.id not in prices  # its only open item is sold out
    cheaper.cancelled_at = NOW
    db.session.commit()
    assert lowest_prices([shop.kimchi.id], now=NOW)[shop.kimchi.id].price == 12_000
    assert lowest_prices([], now=NOW) == {}


def test_lowest_prices_of_many_products_is_one_query(shop):
    products = [make_product(shop.producer, f"상자 {i}") for i in range(30)]
    for i in range(0, 30, 3):
        make_sale(shop.producer, [(p, 1_000 * (i + 1), 3, 1) for p in products[i : i + 3]], point=shop.point)
    ids = [p.id for p in products]
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        prices = lowest_prices(ids, now=NOW)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(prices) == 30
    assert len(statements) == 1


def _price_of_card(html: str, name: str) -> str:
    """The price line of the product card titled `name`."""
    card = re.search(rf"<h3>{re.escape(name)}</h3>\s*</a>\s*<p class=\"price[^\"]*\">([^<]*)</p>", html)
    assert card, f"no card for {name}"
    return card.group(1).strip()


def test_browse_producer_and_search_cards_show_prices(app, client, farm):
    with app.app_context():
        live_sale(farm)  # 배추김치 12,000, 깍두기 8,000
        live_sale(farm, moved=timedelta(minutes=1))  # the same again: one price each, no "from"
        producer = db.session.get(Product, farm.kimchi_id).producer
        make_product(producer, "묵은지")  # not on sale
    for url in ("/browse", f"/producers/{farm.slug}", "/search?q=김치"):
        html = page(client.get(url))
        assert _price_of_card(html, "배추김치") == "₩12,000", url
    html = page(client.get(f"/producers/{farm.slug}"))
    assert _price_of_card(html, "깍두기") == "₩8,000"
    assert _price_of_card(html, "묵은지") == "Not on sale right now"


def test_the_product_page_reads_from_the_lowest_price(app, client, farm):
    with app.app_context():
        live_sale(farm)
        sale = live_sale(farm, moved=timedelta(minutes=1))
        db.session.get(SaleItem, sale.kimchi).price = 10_000
        db.session.commit()
        subject = make_subject(db.session.get(Product, farm.kimchi_id).producer)
        db.session.get(Product, farm.kimchi_id).subjects = [subject]
        db.session.commit()
        subject_url = f"/producers/{farm.slug}/subjects/{subject.slug}"
    html = page(client.get(f"/producers/{farm.slug}/products/{db_slug(app, farm.kimchi_id)}"))
    assert '<p class="price">from ₩10,000</p>' in html
    assert _price_of_card(page(client.get(subject_url)), "배추김치") == "from ₩10,000"
    korean = client.get(
        f"/producers/{farm.slug}/products/{db_slug(app, farm.kimchi_id)}", headers={"Accept-Language": "ko"}
    )
    assert "10,000원부터" in page(korean)


def db_slug(app, product_id: int) -> str:
    with app.app_context():
        return db.session.get(Product, product_id).slug


def test_sale_cards_on_the_home_page_show_a_photo_and_the_price(app, client, farm):
    with app.app_context():
        kimchi = db.session.get(Product, farm.kimchi_id)
        saved = save_photos([photo_upload()], uploaded_by=kimchi.producer.user, alt="김치", limit=1)
        kimchi.photos = [ProductPhoto(photo=photo, position=0) for photo in saved]
        db.session.commit()
        sale = live_sale(farm)
    html = page(client.get("/"))
    card = re.search(rf'<article class="card sale-card">\s*<a href="{sale.url}">(.*?)</article>', html, re.S)
    assert card, "no sale card on the home page"
    assert "<img" in card.group(1) and "/media/" in card.group(1)
    assert "from ₩8,000" in card.group(1)
