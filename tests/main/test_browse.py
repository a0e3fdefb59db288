"""Browsing products by kind and by region (the producer's village), newest first, a page at a time."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from farmstore.catalog.services import PER_PAGE, browse_products
from tests.catalog.conftest import NOW, make_product
from tests.factories import make_producer, make_village

EN = {"Accept-Language": "en"}


@pytest.fixture
def shelves(ctx):
    """Products from a Gangwon farm and a Jeju farm, listed a minute apart (newest last)."""
    gangwon = make_producer(village=make_village("들꽃마을", region="gangwon"))
    jeju = make_producer(village=make_village("돌담마을", region="jeju"))
    listings = [
        (gangwon, "한우 정육", "meat"),
        (jeju, "흑돼지", "meat"),
        (gangwon, "배추", "vegetables"),
        (jeju, "감귤", "fruit"),
        (jeju, "녹차", "tea"),
    ]
    for minute, (producer, name, category) in enumerate(listings):
        make_product(producer, name, category=category, now=NOW + timedelta(minutes=minute))


def names(page) -> list[str]:
    """Names of the products on a Page, in order."""
    return [product.name for product in page.items]


def card_names(html: str) -> list[str]:
    """Product names on a page of cards, in order."""
    return [unescape(name) for name in re.findall(r'<article class="card">.*?<h3>(.*?)</h3>', html, re.S)]


@pytest.mark.usefixtures("shelves")
class TestBrowseProducts:
    def test_everything_newest_first(self):
        assert names(browse_products(category=None, region=None, page=1)) == [
            "녹차",
            "감귤",
            "배추",
            "흑돼지",
            "한우 정육",
        ]

    def test_by_category(self):
        assert names(browse_products(category="meat", region=None, page=1)) == ["흑돼지", "한우 정육"]

    def test_by_region_of_the_producers_village(self):
        assert names(browse_products(category=None, region="gangwon", page=1)) == ["배추", "한우 정육"]

    def test_by_category_and_region(self):
        assert names(browse_products(category="meat", region="jeju", page=1)) == ["흑돼지"]

    def test_a_region_without_producers_has_nothing(self):
        assert browse_products(category=None, region="seoul", page=1).total == 0

    def test_an_unknown_category_is_ignored(self):
        assert browse_products(category="jewellery", region=None, page=1).total == 5


def test_products_come_a_page_at_a_time(ctx):
    producer = make_producer()
    for i in range(PER_PAGE + 2):
        make_product(producer, f"배추 {i:02d}", category="vegetables", now=NOW + timedelta(minutes=i))

    first = browse_products(category="vegetables", region=None, page=1)
    second = browse_products(category="vegetables", region=None, page=2)

    assert (first.total, first.pages, first.has_next, first.has_prev) == (PER_PAGE + 2, 2, True, False)
    assert names(first)[0] == f"배추 {PER_PAGE + 1:02d}"
    assert names(second) == ["배추 01", "배추 00"]
    assert names(browse_products(category="vegetables", region=None, page=99)) == names(second)


@pytest.mark.usefixtures("shelves")
class TestBrowsePage:
    def test_everything(self, client):
        page = client.get("/browse", headers=EN).get_data(as_text=True)

        assert "<h1>All products</h1>" in page
        assert card_names(page) == ["녹차", "감귤", "배추", "흑돼지", "한우 정육"]

    def test_by_category_and_region(self, client):
        page = client.get("/browse?category=meat&region=gangwon", headers=EN).get_data(as_text=True)

        assert "<h1>Meat</h1>" in page
        assert card_names(page) == ["한우 정육"]
        assert 'href="/browse?category=meat&amp;region=gangwon" aria-current="page"' in page

    def test_unknown_category_and_region_are_ignored(self, client):
        page = client.get("/browse?category=jewellery&region=atlantis", headers=EN).get_data(as_text=True)

        assert "<h1>All products</h1>" in page
        assert len(card_names(page)) == 5

    def test_an_empty_shelf_says_so(self, client):
        page = client.get("/browse?category=honey", headers=EN).get_data(as_text=True)

        assert card_names(page) == []
        assert "Nothing here yet." in page

    @pytest.mark.parametrize("number", ["0", "-3", "abc", ""])
    def test_a_nonsense_page_number_shows_the_first_page(self, client, number):
        response = client.get(f"/browse?page={number}", headers=EN)

        assert response.status_code == 200
        assert len(card_names(response.get_data(as_text=True))) == 5


def test_the_pager_keeps_the_filters(app, client):
    with app.app_context():
        producer = make_producer(village=make_village(region="jeju"))
        for i in range(PER_PAGE + 1):
            make_product(producer, f"감귤 {i:02d}", category="fruit", now=NOW + timedelta(minutes=i))

    first = client.get("/browse?category=fruit&region=jeju", headers=EN).get_data(as_text=True)
    second = client.get("/browse?category=fruit&region=jeju&page=2", headers=EN).get_data(as_text=True)

    assert len(card_names(first)) == PER_PAGE
    assert "Page 1 of 2" in first
    assert 'rel="next" href="/browse?page=2&amp;category=fruit&amp;region=jeju"' in first
    assert card_names(second) == ["감귤 00"]
    assert 'rel="prev" href="/browse?page=1&amp;category=fruit&amp;region=jeju"' in second
