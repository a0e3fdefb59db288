"""Search over producers, products and stories: every word must match somewhere, Korean works,
English ignores case, LIKE wildcards are plain characters, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import re
from html import unescape

import pytest

from farmstore.extensions import db
from farmstore.main.search import MAX_TERM_LENGTH, MAX_TERMS, search, terms_of
from tests.catalog.conftest import make_post, make_product, make_subject, story_titles
from tests.factories import make_producer, make_user

EN = {"Accept-Language": "en"}


@pytest.fixture
def catalogue(ctx):
    """Two farms with subjects, stories and products, in Korean and English."""
    hanwoo = make_producer(farm_name="느릅골 한우농장")
    hanwoo.about = "Grass-fed Hanwoo on the hills of Gangwon."
    nureongi = make_subject(hanwoo, "누렁이")
    make_post(nureongi, "봄 풀밭", body="오늘 처음으로 풀밭에 나갔어요.", days_ago=3)
    make_post(nureongi, "Morning walk", body="She ate clover.", days_ago=1)
    make_product(hanwoo, "한우 정육 세트", unit="1 kg", description="누렁이의 형제들.", subjects=[nureongi])
    make_product(hanwoo, "Organic Beef 100% grass", unit="500 g", description="No grain at all.")

    cabbage = make_producer(farm_name="해뜰 배추밭")
    field = make_subject(cabbage, "북쪽 밭", kind="field")
    make_post(field, "김장 준비", body="배추를 절였어요.", days_ago=2)
    make_post(field, "배추 모종", body="모종을 심었어요.", days_ago=20)
    make_product(cabbage, "김장 배추", unit="10 kg 상자", category="vegetables")
    make_product(cabbage, "배추 한 상자", unit="box_of_3", category="vegetables")
    db.session.commit()


def names(results) -> tuple[list[str], list[str], list[str]]:
    """(producers, products, story titles) found."""
    return (
        [p.farm_name for p in results.producers],
        [p.name for p in results.products],
        [p.title for p in results.posts],
    )


@pytest.mark.usefixtures("catalogue")
class TestSearch:
    def test_a_korean_word_finds_the_subject_its_stories_and_its_products(self):
        assert names(search("누렁이")) == ([], ["한우 정육 세트"], ["Morning walk", "봄 풀밭"])

    def test_every_word_must_match_though_in_different_fields(self):
        assert names(search("배추 김장")) == ([], ["김장 배추"], ["김장 준비"])
        assert names(search("배추 모종")) == ([], [], ["배추 모종"])
        assert names(search("배추 한우")) == ([], [], [])

    def test_a_word_inside_a_longer_korean_word_matches(self):
        assert names(search("풀밭")) == ([], [], ["봄 풀밭"])

    def test_english_ignores_case(self):
        assert names(search("HANWOO grass-FED")) == (["느릅골 한우농장"], [], [])
        assert names(search("organic beef")) == ([], ["Organic Beef 100% grass"], [])
        assert names(search("CLOVER")) == ([], [], ["Morning walk"])

    def test_a_producer_is_found_by_farm_name(self):
        assert names(search("배추밭")) == (["해뜰 배추밭"], [], [])

    def test_a_product_is_found_by_its_unit(self):
        assert names(search("상자")) == ([], ["김장 배추", "배추 한 상자"], [])

    def test_a_lone_wildcard_finds_only_what_contains_that_very_character(self):
        assert names(search("%")) == ([], ["Organic Beef 100% grass"], [])
        assert names(search("_")) == ([], ["배추 한 상자"], [])

    @pytest.mark.parametrize("query", ["%%", "%_%", "\\", "\\%", "_%"])
    def test_wildcards_that_appear_nowhere_match_nothing(self, query):
        assert search(query).empty

    def test_a_percent_sign_or_underscore_is_matched_literally(self):
        assert names(search("100%")) == ([], ["Organic Beef 100% grass"], [])
        assert names(search("box_of")) == ([], ["배추 한 상자"], [])
        assert names(search("box%of")) == ([], [], [])
        assert names(search("g_ass")) == ([], [], [])

    def test_only_the_first_five_words_count(self):
        assert MAX_TERMS == 5
        assert names(search("김장 배추 절였어요 준비 김장 없는말")) == ([], [], ["김장 준비"])

    def test_nothing_matches_an_unknown_word(self):
        results = search("사과")
        assert results.empty
        assert results.query == "사과"

    def test_a_blank_query_searches_nothing(self):
        assert search("   ").empty


def test_terms_are_split_on_whitespace_truncated_and_escaped():
    assert terms_of("  배추\t김장\n") == ["배추", "김장"]
    assert terms_of("가" * 100) == ["가" * MAX_TERM_LENGTH]
    assert terms_of("a b c d e f g") == ["a", "b", "c", "d", "e"]
    assert terms_of("100% a_b c\\d") == ["100\\%", "a\\_b", "c\\\\d"]


def test_a_word_longer_than_the_limit_still_finds_what_starts_with_it(ctx):
    make_product(make_producer(), "가" * 60, unit="1 kg")

    assert [p.name for p in search("가" * 70).products] == ["가" * 60]


def test_results_are_limited(ctx):
    producer = make_producer()
    for i in range(25):
        make_product(producer, f"배추 {i:02d}", unit="1 kg")

    assert len(search("배추").products) == 20
    assert len(search("배추", limit=3).products) == 3


def headings(page: str) -> list[str]:
    """The page's second-level headings, in order."""
    return [unescape(h) for h in re.findall(r"<h2>(.*?)</h2>", page)]


@pytest.mark.usefixtures("catalogue")
class TestSearchPage:
    def test_results_are_grouped_into_producers_products_and_stories(self, client):
        page = client.get("/search", query_string={"q": "배추"}, headers=EN).get_data(as_text=True)

        assert headings(page) == ["Producers", "Products", "Stories"]
        assert "해뜰 배추밭" in page
        assert "배추 한 상자" in page
        assert story_titles(page) == ["김장 준비", "배추 모종"]

    def test_only_the_groups_with_results_are_shown(self, client):
        page = client.get("/search", query_string={"q": "김장 배추"}, headers=EN).get_data(as_text=True)

        assert headings(page) == ["Products", "Stories"]

    def test_an_empty_query_shows_the_form_only(self, client):
        for query_string in ({}, {"q": ""}, {"q": "   "}):
            page = client.get("/search", query_string=query_string, headers=EN).get_data(as_text=True)
            assert '<input id="q" name="q" type="search" value=""' in page
            assert headings(page) == []
            assert "Nothing matches" not in page

    def test_a_query_matching_nothing_says_so(self, client):
        page = client.get("/search", query_string={"q": "%%"}, headers=EN).get_data(as_text=True)

        assert "Nothing matches “%%”." in unescape(page)
        assert headings(page) == []

    def test_an_over_long_query_is_cut_to_200_characters(self, client):
        response = client.get("/search", query_string={"q": "누렁이 " + "가" * 1000}, headers=EN)

        assert response.status_code == 200
        shown = re.search(r'<input id="q" name="q" type="search" value="([^"]*)"', response.get_data(as_text=True))
        assert shown.group(1) == ("누렁이 " + "가" * 1000)[:200]

    def test_the_query_is_shown_escaped(self, client):
        page = client.get("/search", query_string={"q": '<script>"'}, headers=EN).get_data(as_text=True)

        assert "<script>" not in page
        assert 'value="&lt;script&gt;&#34;"' in page


def test_contacts_and_emails_are_not_searched(ctx):
    producer = make_producer()
    producer.contact = "010-1234-5678"
    make_user("secret@example.com", display_name="비밀이름")
    db.session.commit()

    assert search("010-1234").empty
    assert search("secret@example").empty
