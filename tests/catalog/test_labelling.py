"""Label facts (전자상거래 상품정보제공 고시): the producer states them in the product form, they are
checked, and the product page shows a labelling panel with every fact the rules require for that kind
of food, "Not stated" where one was left empty, and the traceability numbers linked to 축산물이력제."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from farmstore.catalog.models import Product
from farmstore.catalog.services import update_product
from farmstore.extensions import db
from farmstore.stories.models import Subject
from farmstore.timeutil import local_today, utcnow
from farmstore.trace import lookup_url
from tests.catalog.conftest import make_product, make_subject
from tests.factories import make_producer, make_user, make_village

FARM = "느릅골 한우농장"
COW = "002089461327"


@pytest.fixture
def farm(app):
    """느릅골 한우농장 (owner@example.com, contact by phone) with 누렁이 (numbered) and the 무리 herd,
    a plain meat product from 누렁이, and another producer (other@example.com)."""
    with app.app_context():
        producer = make_producer(make_user("owner@example.com"), make_village("햇살마을"), farm_name=FARM)
        producer.contact = "010-1234-5678"
        make_producer(make_user("other@example.com"), farm_name="옆집 농장")
        cow = make_subject(producer, "누렁이", trace_number=COW)
        herd = make_subject(producer, "무리", kind="herd")
        product = make_product(producer, "한우 정육 세트", subjects=[cow])
        return SimpleNamespace(slug=producer.slug, cow=cow.id, herd=herd.id, url=product_url(product))


def product_url(product: Product) -> str:
    return f"/producers/{product.producer.slug}/products/{product.slug}"


def a_day(days_ago: int) -> date:
    """A date `days_ago` days before today in Seoul."""
    return local_today(utcnow(), "Asia/Seoul") - timedelta(days=days_ago)


def lot_packed(on: date) -> str:
    return f"L0{on:%y%m%d}3105007"


def product_form(**fields) -> dict:
    """The product form with every label fact left empty, `fields` changed."""
    empty = dict.fromkeys(("weight_grams", "origin", "trace_number", "grade", "packed_on", "use_by", "storage"), "")
    return {"name": "한우 정육 세트", "unit": "2kg 1상자", "category": "meat", "description": ""} | empty | fields


def panel(html: str) -> list[tuple[str, str]]:
    """The labelling panel as (label, value) pairs, tags stripped."""
    section = re.search(r'<section class="labelling panel".*?</section>', html, re.S)
    assert section, "no labelling panel"
    pairs = re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", section.group(0), re.S)
    return [(unescape(dt), " ".join(unescape(re.sub(r"<[^>]+>", " ", dd)).split())) for dt, dd in pairs]


def stored(app, name: str = "한우 정육 세트") -> Product:
    with app.app_context():
        product = db.session.scalar(select(Product).where(Product.name == name))
        db.session.expunge(product)
        return product


def test_the_owner_states_every_fact_and_the_panel_shows_them_in_order(app, client, auth, farm):
    packed = a_day(2)
    auth.login("owner@example.com")

    response = client.post(
        f"{farm.url}/edit",
        data=product_form(
            subject_ids=[farm.cow],
            weight_grams="2000",
            origin="국내산 한우 (강원 평창)",
            trace_number=lot_packed(packed).lower(),
            grade="1++ 9",
            packed_on=packed.isoformat(),
            use_by=(packed + timedelta(days=10)).isoformat(),
            storage="냉장 0~4℃",
        ),
        follow_redirects=True,
    )

    html = response.get_data(as_text=True)
    product = stored(app)
    assert (product.trace_number, product.grade, product.weight_grams) == (lot_packed(packed), "1++ 9", 2000)
    assert (product.packed_on, product.use_by) == (packed, packed + timedelta(days=10))
    facts = panel(html)
    assert [label for label, _ in facts] == [
        "Item", "Quantity per pack", "Producer", "Origin", "Packed on", "Use-by or best-before date", "Grade",
        "Lot number", "Traceability number (누렁이)", "Storage", "Consumer contact",
    ]  # fmt: skip
    values = dict(facts[:7])
    assert values["Quantity per pack"] == "2 kg · 2kg 1상자"
    assert values["Producer"] == f"{FARM} · 햇살마을"
    assert values["Origin"] == "국내산 한우 (강원 평창)"
    assert values["Grade"] == "1++ 9"
    assert facts[7][1].startswith(lot_packed(packed))  # the lot number first, then 누렁이's own
    assert facts[8][1].startswith("002 0894 6132 7")
    assert facts[-1] == ("Consumer contact", "010-1234-5678")
    for number in (lot_packed(packed), COW):
        assert f'href="{lookup_url(number)}"'.replace("&", "&amp;") in html


def test_facts_left_empty_are_shown_as_not_stated(client, farm):
    facts = dict(panel(client.get(farm.url).get_data(as_text=True)))

    for label in ("Origin", "Packed on", "Use-by or best-before date", "Grade", "Storage"):
        assert facts[label] == "Not stated"
    # the animal it comes from still gives the buyer a number to look up
    assert "Traceability number" not in facts  # the animal's number stands for it
    assert facts["Traceability number (누렁이)"].startswith("002 0894 6132 7")


def test_the_panel_is_korean_for_a_korean_reader(client, farm):
    html = client.get(farm.url, headers={"Accept-Language": "ko"}).get_data(as_text=True)

    facts = dict(panel(html))
    assert facts["원산지"] == "표시 안 함"
    assert facts["품목 또는 명칭"] == "한우 정육 세트"
    assert facts["소비기한 또는 품질유지기한"] == "표시 안 함"
    assert facts["이력번호 (누렁이)"].startswith("002 0894 6132 7")
    assert "상품 정보 제공 고시" in html


def test_each_kind_of_food_shows_the_facts_its_rules_ask_for(app, client, farm):
    with app.app_context():
        producer = db.session.get(Subject, farm.cow).producer
        tea = make_product(producer, "구절초차", unit="30g", category="tea")
        cabbage = make_product(producer, "배추", unit="3포기", category="vegetables")
        urls = product_url(tea), product_url(cabbage)

    tea_facts = [label for label, _ in panel(client.get(urls[0]).get_data(as_text=True))]
    cabbage_facts = [label for label, _ in panel(client.get(urls[1]).get_data(as_text=True))]

    assert "Food type" in tea_facts and "Ingredients" in tea_facts  # processed food
    assert "Grade" not in tea_facts and "Traceability number" not in tea_facts
    assert "Ingredients" not in cabbage_facts and "Traceability number" not in cabbage_facts
    for facts in (tea_facts, cabbage_facts):
        assert {"Item", "Quantity per pack", "Producer", "Origin", "Storage", "Consumer contact"} <= set(facts)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"trace_number": "L0251302A1B2001"}, "Characters 3 to 8 are the packing date as YYMMDD"),
        ({"trace_number": "L9251202A1B2001"}, "The second character is the species"),
        ({"trace_number": "0020894613"}, "Give the 12-digit traceability number or the lot number"),
        ({"grade": "A5"}, "Write the meat grade as on the grading certificate"),
        ({"weight_grams": "0"}, "Give the weight in grams, from 1 to 1,000,000."),
        ({"packed_on": "2999-01-01"}, "This date is in the future."),
        ({"packed_on": "2025-06-10", "use_by": "2025-06-01"}, "The use-by date cannot come before the packing date."),
        ({"origin": "국" * 81}, "Field cannot be longer than 80 characters."),
    ],
)
def test_bad_facts_are_refused_with_a_message_and_nothing_changes(app, client, auth, farm, fields, message):
    auth.login("owner@example.com")

    response = client.post(f"{farm.url}/edit", data=product_form(name="Renamed", storage="냉장", **fields))

    assert response.status_code == 200
    assert message in unescape(response.get_data(as_text=True))
    product = stored(app)
    assert (product.storage, product.grade, product.trace_number, product.packed_on) == ("", "", "", None)


def test_a_lot_date_message_is_korean_for_a_korean_reader(client, auth, farm):
    auth.login("owner@example.com")

    response = client.post(
        f"{farm.url}/edit", data=product_form(trace_number="L0251302A1B2001"), headers={"Accept-Language": "ko"}
    )

    assert "3~8번째 자리는 포장일(YYMMDD)인데, 251302는 없는 날짜예요." in response.get_data(as_text=True)


def test_a_new_product_can_state_its_facts(app, client, auth, farm):
    auth.login("owner@example.com")

    client.post(f"/producers/{farm.slug}/products/new", data=product_form(name="등심", grade="1+", origin="국내산"))

    product = stored(app, "등심")
    assert (product.grade, product.origin) == ("1+", "국내산")


def test_nobody_else_changes_the_facts(app, client, auth, farm):
    auth.login("other@example.com")

    response = client.post(f"{farm.url}/edit", data=product_form(grade="1++ 9", origin="미국산"))

    assert response.status_code == 403
    assert (stored(app).grade, stored(app).origin) == ("", "")


def test_editing_without_facts_keeps_them(app, ctx, farm):
    product = db.session.scalar(select(Product).where(Product.name == "한우 정육 세트"))
    product.grade, product.origin = "1+", "국내산"
    db.session.commit()

    update_product(product, by=product.producer.user, name="새 이름", unit="1 kg", category="meat", description="")

    db.session.expire_all()
    assert (product.name, product.grade, product.origin) == ("새 이름", "1+", "국내산")
