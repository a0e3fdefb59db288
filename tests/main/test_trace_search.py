"""Search by traceability number: a 12-digit animal number (however it is grouped) finds the animal
and the products made from it or labelled with it; a lot number finds the products carrying it. The
same on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from farmstore.catalog.services import update_product
from farmstore.extensions import db
from farmstore.main.search import search, trace_number_of
from tests.catalog.conftest import make_product, make_subject
from tests.factories import make_producer

COW = "002089461327"
LOT = "L0251202A1B2001"


@pytest.fixture
def catalogue(ctx):
    """누렁이 (COW) with a product from it; a gift set labelled with LOT; a neighbour's animal with
    another number; a hidden product labelled with the same number."""
    hanwoo = make_producer(farm_name="느릅골 한우농장")
    nureongi = make_subject(hanwoo, "누렁이", trace_number=COW)
    make_product(hanwoo, "한우 정육 세트", subjects=[nureongi])
    gift = make_product(hanwoo, "한우 선물세트")
    update_product(
        gift, by=hanwoo.user, name=gift.name, unit=gift.unit, category="meat", description="",
        label={"trace_number": LOT, "grade": "1++ 9"},
    )  # fmt: skip
    neighbour = make_producer(farm_name="옆집 농장")
    make_subject(neighbour, "흰둥이", trace_number="002000000001")
    make_product(neighbour, "옆집 등심", subjects=[])
    hidden = make_product(hanwoo, "숨긴 세트")
    hidden.trace_number, hidden.hidden_at = COW, nureongi.created_at
    db.session.commit()


@pytest.mark.usefixtures("catalogue")
class TestTraceSearch:
    @pytest.mark.parametrize("query", [COW, "002 0894 6132 7", " 002-0894-6132-7 "])
    def test_an_animal_number_finds_the_animal_and_what_comes_from_it(self, query):
        results = search(query)

        assert [s.name for s in results.subjects] == ["누렁이"]
        assert [p.name for p in results.products] == ["한우 정육 세트"]  # the hidden one stays hidden
        assert results.trace_number == COW

    @pytest.mark.parametrize("query", [LOT, LOT.lower(), "L0-251202-A1B2-001"])
    def test_a_lot_number_finds_the_products_labelled_with_it(self, query):
        results = search(query)

        assert results.subjects == []
        assert [p.name for p in results.products] == ["한우 선물세트"]

    def test_an_unknown_number_finds_nothing(self):
        assert search("002999999999").empty

    def test_part_of_a_number_is_an_ordinary_search(self):
        assert trace_number_of("00208946") == ""
        assert search("00208946").subjects == []


def test_the_search_page_lists_the_animal_and_links_the_lookup(client, catalogue):
    page = client.get("/search", query_string={"q": "002 0894 6132 7"}, headers={"Accept-Language": "ko"})

    html = page.get_data(as_text=True)
    assert "이력번호 002 0894 6132 7" in html
    assert "누렁이" in html and "한우 정육 세트" in html
    assert "흰둥이" not in html
    assert "mtrace.go.kr/mtracesearch/cattleNoSearch.do" in html
