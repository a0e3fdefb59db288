"""Times read the same way on every page: "12월 4일 오후 10:30" in Korean, "Dec 4, 10:30 PM" in English,
in Asia/Seoul, without seconds, with the year only when it is not this year."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask import render_template_string
from flask_babel import force_locale

from farmstore.i18n import format_day, format_when

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
EVENING = datetime(2026, 12, 4, 13, 30, tzinfo=UTC)  # 22:30 in Seoul


@pytest.mark.parametrize(
    ("locale", "style", "expected"),
    [
        ("ko", "medium", "12월 4일 오후 10:30"),
        ("en", "medium", "Dec 4, 10:30 PM"),
        ("ko", "short", "12월 4일 (금) 오후 10:30"),
        ("en", "short", "Dec 4 (Fri), 10:30 PM"),
    ],
)
def test_a_moment_reads_naturally_in_seoul(ctx, locale, style, expected):
    with force_locale(locale):
        assert format_when(EVENING, style, now=NOW) == expected


def test_the_year_is_shown_only_when_it_is_not_this_year(ctx):
    last_year = datetime(2025, 12, 4, 1, 5, tzinfo=UTC)  # 10:05 in Seoul
    with force_locale("ko"):
        assert format_when(last_year, now=NOW) == "2025년 12월 4일 오전 10:05"
        assert format_day(date(2025, 3, 1), now=NOW) == "2025년 3월 1일"
        assert format_day(date(2026, 3, 1), now=NOW) == "3월 1일"
    with force_locale("en"):
        assert format_when(last_year, now=NOW) == "Dec 4, 2025, 10:05 AM"
        assert format_day(date(2026, 3, 1), now=NOW) == "Mar 1"


def test_the_year_follows_seoul_not_utc(ctx):
    new_year_in_seoul = datetime(2026, 12, 31, 15, 30, tzinfo=UTC)  # 1 January 2027, 00:30 in Seoul
    with force_locale("ko"):
        assert format_when(new_year_in_seoul, now=NOW) == "2027년 1월 1일 오전 12:30"


def test_templates_use_the_filter_without_seconds_or_english_day_periods(ctx):
    with force_locale("ko"):
        text = render_template_string("{{ at | when }} / {{ at | when('short') }}", at=datetime.now(UTC))
    assert re.search(r"\d+:\d\d:\d\d", text) is None
    assert "AM" not in text and "PM" not in text
    assert text.count("오전") + text.count("오후") == 2


def test_no_template_prints_a_raw_datetime():
    """Every `_at`/`_on`/`deadline`/`pay_by` value shown in a template goes through `when` or `day`
    (the machine-readable `isoformat()` in attributes and feeds aside)."""
    moment = re.compile(r"\{\{[^}]*\b\w+\.(\w+_(at|on|until)|deadline|pay_by)\b(?!\.isoformat)[^}]*\}\}")
    offenders = []
    for path in (ROOT / "templates").rglob("*"):
        if path.suffix not in {".html", ".txt", ".xml"}:
            continue
        for expression in moment.finditer(path.read_text()):
            text = expression.group(0)
            if "isoformat" in text or "| when" in text or "| day" in text or "|when" in text or "| clock" in text:
                continue
            if "form." not in text and " if " not in text:  # form fields and conditions print no time
                offenders.append(f"{path.relative_to(ROOT)}: {text}")
    assert offenders == []
