"""Traceability numbers (farmstore.trace): the 12-digit 개체식별번호, the 15-character 묶음번호, grades,
and the link to the public lookup. Messages are checked in English and in Korean."""

from __future__ import annotations

from datetime import date

import pytest
from flask_babel import force_locale

from farmstore.errors import DomainError
from farmstore.trace import (
    check_animal_number,
    check_grade,
    check_product_number,
    display,
    lookup_url,
    normalise,
    parse_lot_number,
)


@pytest.fixture(autouse=True)
def english(ctx):
    """Messages in English unless a test asks for Korean."""
    with force_locale("en"):
        yield


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("002089461327", "002089461327"),
        ("002 0894 6132 7", "002089461327"),  # grouped as printed on a label
        ("002-0894-6132-7", "002089461327"),
        ("  ", ""),  # none given
        (None, ""),
    ],
)
def test_an_animal_number_is_twelve_digits_spaces_and_hyphens_ignored(typed, stored):
    assert check_animal_number(typed) == stored


@pytest.mark.parametrize("typed", ["00208946132", "0020894613271", "00208946132X", "L0261201A1B2001", "누렁이"])
def test_anything_else_is_not_an_animal_number(typed):
    with pytest.raises(DomainError) as caught:
        check_animal_number(typed)
    assert caught.value.field == "trace_number"
    assert caught.value.message == "An animal's traceability number is 12 digits, for example 002117250633."


def test_the_animal_number_message_is_korean_for_korean_readers():
    with pytest.raises(DomainError) as caught:
        check_animal_number("12345")
    with force_locale("ko"):
        assert caught.value.message == "개체식별번호(이력번호)는 숫자 12자리예요. 예: 002117250633"


def test_a_lot_number_is_read_into_its_parts():
    lot = parse_lot_number("L0261202A1B2001")

    assert (lot.species, lot.packed_on, lot.business_code, lot.serial) == ("0", date(2026, 12, 2), "A1B2", "001")
    assert lot.species_label == "Beef"
    assert parse_lot_number("L1240229123400A").species_label == "Pork"  # 2024 is a leap year


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("L0261202A1B2001", "L0261202A1B2001"),
        ("l0-261202-a1b2-001", "L0261202A1B2001"),  # lower case and hyphens as people type them
        ("L2251231000012", None),  # 14 characters: refused below
        ("002089461327", "002089461327"),  # a product may carry the animal's own number
        ("", ""),
    ],
)
def test_a_product_carries_a_lot_number_or_an_animal_number(typed, stored):
    if stored is None:
        with pytest.raises(DomainError):
            check_product_number(typed)
    else:
        assert check_product_number(typed) == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("L025120", "A lot number is L followed by 14 characters, for example L0261201A1B2001."),
        ("L0261202A1B20011", "A lot number is L followed by 14 characters, for example L0261201A1B2001."),
        ("L3261202A1B2001", "The second character is the species: 0 beef, 1 pork, 2 chicken or 5 duck."),
        ("LX261202A1B2001", "After L come a species digit, the packing date as YYMMDD, a 4-character business code"),
        ("L026120AA1B2001", "After L come a species digit, the packing date as YYMMDD, a 4-character business code"),
        ("L0261302A1B2001", "Characters 3 to 8 are the packing date as YYMMDD, and 261302 is not a real date."),
        ("L0250229A1B2001", "Characters 3 to 8 are the packing date as YYMMDD, and 250229 is not a real date."),
        ("L0261200A1B2001", "Characters 3 to 8 are the packing date as YYMMDD, and 261200 is not a real date."),
        ("12345", "Give the 12-digit traceability number or the lot number that starts with L."),
        ("M0261202A1B2001", "Give the 12-digit traceability number or the lot number that starts with L."),
    ],
)
def test_a_malformed_lot_number_says_what_is_wrong(typed, message):
    with pytest.raises(DomainError) as caught:
        check_product_number(typed)
    assert caught.value.field == "trace_number"
    assert caught.value.message.startswith(message)


def test_the_lot_date_message_is_korean_for_korean_readers():
    with pytest.raises(DomainError) as caught:
        check_product_number("L0261302A1B2001")
    with force_locale("ko"):
        assert caught.value.message == "3~8번째 자리는 포장일(YYMMDD)인데, 261302는 없는 날짜예요."


@pytest.mark.parametrize("grade", ["1++ 9", "1++(8)", "1++7", "1++", "1+", "1+ A", "1 B", "2", "3 C", "등외", ""])
def test_korean_meat_grades_are_accepted(grade):
    assert check_grade(f"  {grade} ", category="meat") == grade


@pytest.mark.parametrize("grade", ["A++", "1++ 6", "4", "최상급", "1+ D"])
def test_other_meat_grades_are_refused(grade):
    with pytest.raises(DomainError) as caught:
        check_grade(grade, category="meat")
    assert caught.value.field == "grade"
    assert caught.value.message.startswith("Write the meat grade as on the grading certificate")


def test_other_foods_state_their_grade_in_words():
    assert check_grade("특", category="fruit") == "특"
    with pytest.raises(DomainError):
        check_grade("x" * 21, category="fruit")


def test_the_lookup_is_the_official_page_for_that_number():
    assert lookup_url("002089461327") == (
        "https://www.mtrace.go.kr/mtracesearch/cattleNoSearch.do"
        "?btsProgNo=0109008401&btsActionMethod=SELECT&cattleNo=002089461327"
    )
    assert display("002089461327") == "002 0894 6132 7"
    assert display("L0261202A1B2001") == "L0261202A1B2001"
    assert normalise(" l0·261202 ") == "L0261202"
