"""Traceability numbers of Korean livestock (가축 및 축산물 이력관리에 관한 법률).

Two kinds of number are printed on meat sold in Korea, and both can be looked up by anyone on the
public 축산물이력제 site:

- 개체식별번호 / 이력번호: 12 digits, the ear tag of one animal (the cow's own number, e.g. 002117250633).
- 묶음번호 (lot number): 15 characters for a pack cut from several animals (시행규칙 별표 14):
  "L", a species code (0 beef, 1 pork, 2 chicken, 5 duck), the packing date as YYMMDD, a 4-character
  business code (the plant's number in the 이력관리시스템, or 4 digits of its business registration
  number) and a 3-character serial the business gives per day.

Nothing is fetched: pages only link to the official lookup for the number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from flask_babel import lazy_gettext as _l

from farmstore.errors import DomainError

ANIMAL_NUMBER_LENGTH = 12
LOT_NUMBER_LENGTH = 15
LOT_SPECIES = {"0": _l("Beef"), "1": _l("Pork"), "2": _l("Chicken"), "5": _l("Duck")}
LOOKUP_URL = "https://www.mtrace.go.kr/mtracesearch/cattleNoSearch.do?btsProgNo=0109008401&btsActionMethod=SELECT&cattleNo={number}"

_ANIMAL = re.compile(r"\d{12}")
_LOT = re.compile(r"L(?P<species>\d)(?P<packed>\d{6})(?P<business>[0-9A-Z]{4})(?P<serial>[0-9A-Z]{3})")
# Separators people type when copying a number from a label: "002 1172 5063 3", "L0-261201-…".
_SEPARATORS = re.compile(r"[\s\-.·]")


@dataclass(frozen=True)
class LotNumber:
    """The parts of a lot number (묶음번호)."""

    species: str
    packed_on: date
    business_code: str
    serial: str

    @property
    def species_label(self) -> str:
        """What meat the lot is, in the current language."""
        return str(LOT_SPECIES[self.species])


def normalise(value: str | None) -> str:
    """A number as printed on a label, without spaces or hyphens, letters in capitals."""
    return _SEPARATORS.sub("", value or "").upper()


def is_animal_number(value: str) -> bool:
    """True for a well-formed 12-digit 개체식별번호 (already normalised)."""
    return bool(_ANIMAL.fullmatch(value))


def is_lot_number(value: str) -> bool:
    """True for a normalised value shaped like a lot number (its date is checked by `parse_lot_number`)."""
    return bool(_LOT.fullmatch(value))


def parse_lot_number(value: str) -> LotNumber:
    """The parts of a normalised lot number; DomainError (field `trace_number`) saying what is wrong."""
    if len(value) != LOT_NUMBER_LENGTH or not value.startswith("L"):
        raise DomainError(
            _l("A lot number is L followed by 14 characters, for example L0261201A1B2001."), field="trace_number"
        )
    match = _LOT.fullmatch(value)
    if match is None:
        raise DomainError(
            _l(
                "After L come a species digit, the packing date as YYMMDD, a 4-character business code and "
                "a 3-character serial, for example L0261201A1B2001."
            ),
            field="trace_number",
        )
    if match["species"] not in LOT_SPECIES:
        raise DomainError(
            _l("The second character is the species: 0 beef, 1 pork, 2 chicken or 5 duck."), field="trace_number"
        )
    packed = match["packed"]
    try:
        packed_on = date(2000 + int(packed[:2]), int(packed[2:4]), int(packed[4:]))
    except ValueError:
        raise DomainError(
            _l("Characters 3 to 8 are the packing date as YYMMDD, and %(digits)s is not a real date.", digits=packed),
            field="trace_number",
        ) from None
    return LotNumber(match["species"], packed_on, match["business"], match["serial"])


def check_animal_number(value: str | None, *, field: str = "trace_number") -> str:
    """An animal's 개체식별번호, normalised: empty (none given) or exactly 12 digits."""
    number = normalise(value)
    if number and not is_animal_number(number):
        raise DomainError(_l("An animal's traceability number is 12 digits, for example 002117250633."), field=field)
    return number


def check_product_number(value: str | None) -> str:
    """A product's traceability number, normalised: empty, a 12-digit animal number or a lot number."""
    number = normalise(value)
    if not number or is_animal_number(number):
        return number
    if number.startswith("L"):
        parse_lot_number(number)
        return number
    raise DomainError(
        _l("Give the 12-digit traceability number or the lot number that starts with L."), field="trace_number"
    )


def lookup_url(number: str) -> str:
    """The official public 축산물이력제 page for this number (a link; nothing is fetched)."""
    return LOOKUP_URL.format(number=quote(number))


def display(number: str) -> str:
    """A number grouped as on a label: 002 1172 5063 3 for an animal, lot numbers unchanged."""
    if is_animal_number(number):
        return f"{number[:3]} {number[3:7]} {number[7:11]} {number[11:]}"
    return number


# Korean carcass grades (축산물 등급판정세부기준): quality 1++ (with marbling 7, 8 or 9), 1+, 1, 2, 3
# or 등외, optionally a yield grade A, B or C for beef ("1++ 9", "1++(9) A", "1+ B", "2").
_MEAT_GRADE = re.compile(r"(1\+\+(\s*\(?[789]\)?)?|1\+|1|2|3|등외)(\s*[ABC])?")
GRADE_MAX_LENGTH = 20


def check_grade(value: str | None, *, category: str) -> str:
    """A product's grade, trimmed. For meat it must be a Korean carcass grade; other foods (eggs,
    fruit) say theirs in words."""
    grade = " ".join((value or "").split())
    if len(grade) > GRADE_MAX_LENGTH:
        raise DomainError(_l("Use at most %(n)d characters.", n=GRADE_MAX_LENGTH), field="grade")
    if grade and category == "meat" and not _MEAT_GRADE.fullmatch(grade.upper()):
        raise DomainError(
            _l("Write the meat grade as on the grading certificate: 1++ 9, 1++ 8, 1++ 7, 1+, 1, 2, 3 or 등외."),
            field="grade",
        )
    return grade


def init_app(app) -> None:
    """Template filters: `number | trace_display` and `number | trace_url`."""
    app.jinja_env.filters["trace_display"] = display
    app.jinja_env.filters["trace_url"] = lookup_url
