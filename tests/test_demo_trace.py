"""The demo shows traceability and label facts: 누렁이 carries a 12-digit number, the hanwoo gift set a
lot number (packed two days before the seed) and a grade, and every product page has its labelling panel."""

from __future__ import annotations

from sqlalchemy import select

from farmstore.catalog.models import Product
from farmstore.extensions import db
from farmstore.stories.models import Subject
from farmstore.trace import check_animal_number, check_product_number, parse_lot_number


def test_the_demo_numbers_are_valid_and_every_product_has_a_panel(app, runner, client):
    assert runner.invoke(args=["farm", "seed-demo"]).exit_code == 0
    with app.app_context():
        cow = db.session.scalar(select(Subject).where(Subject.name == "누렁이"))
        gift = db.session.scalar(select(Product).where(Product.name == "한우 정육 선물세트"))
        products = [(p.producer.slug, p.slug, p.name) for p in db.session.scalars(select(Product))]
        gift_url, number = f"/producers/{gift.producer.slug}/products/{gift.slug}", cow.trace_number
        assert check_animal_number(cow.trace_number) == cow.trace_number != ""
        assert check_product_number(gift.trace_number) == gift.trace_number
        assert parse_lot_number(gift.trace_number).packed_on == gift.packed_on
        assert (gift.grade, gift.weight_grams) == ("1++ 9", 2000)
        assert gift.use_by > gift.packed_on

    for producer_slug, product_slug, name in products:
        page = client.get(f"/producers/{producer_slug}/products/{product_slug}").get_data(as_text=True)
        assert 'id="labelling"' in page, name
        assert "원산지" in page, name
    gift_page = client.get(gift_url).get_data(as_text=True)
    assert "1++ 9" in gift_page and "묶음번호" in gift_page
    found = client.get(f"/search?q={number}").get_data(as_text=True)
    assert "누렁이" in found and "한우 정육 선물세트" in found
