"""Korean first, English complete: catalogues, language choice, and locale formatting."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask_babel import force_locale

from farmstore.i18n import format_money, format_when
from tests.factories import make_user

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}


def _source_messages() -> set[str]:
    """Every translatable string in the code and templates, extracted as `make extract-messages` does."""
    with open(ROOT / "babel.cfg") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        keywords=KEYWORDS,
        directory_filter=lambda path: not Path(path).name.startswith(".") and Path(path).name != "instance",
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.fixture(scope="module")
def source_messages() -> set[str]:
    return _source_messages()


@pytest.mark.parametrize("locale", ["ko", "en"])
def test_every_string_in_the_code_is_translated(source_messages, locale):
    with open(ROOT / f"farmstore/translations/{locale}/LC_MESSAGES/messages.po", "rb") as fh:
        catalogue = read_po(fh, locale=locale)
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalogue
        if m.id and m.string and (m.string if isinstance(m.string, str) else all(m.string)) and not m.fuzzy
    }

    missing = sorted(source_messages - translated)

    assert len(source_messages) > 100
    assert not missing, f"{len(missing)} strings missing from the {locale} catalogue (make extract-messages): {missing}"


@pytest.mark.parametrize("locale", ["ko", "en"])
def test_catalogue_placeholders_match(locale):
    with open(ROOT / f"farmstore/translations/{locale}/LC_MESSAGES/messages.po", "rb") as fh:
        catalogue = read_po(fh, locale=locale)

    problems = [(message.id, [str(e) for e in errors]) for message, errors in catalogue.check() if errors]

    assert not problems


def test_korean_is_the_default(client):
    page = client.get("/")

    assert '<html lang="ko">' in page.get_data(as_text=True)
    assert "팜스토어" in page.get_data(as_text=True)


def test_accept_language_english_is_honoured(client):
    page = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)

    assert '<html lang="en">' in page
    assert "Know the farmer" in page


def test_the_cookie_beats_accept_language(client):
    client.post("/language", data={"locale": "en"})

    page = client.get("/", headers={"Accept-Language": "ko"}).get_data(as_text=True)

    assert '<html lang="en">' in page


def test_the_account_setting_beats_the_cookie(app, client, auth):
    with app.app_context():
        make_user("reader@example.com", locale="ko")
    client.post("/language", data={"locale": "en"})  # before sign-in: only the cookie changes
    auth.login("reader@example.com")

    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)

    assert '<html lang="ko">' in page


def test_an_unknown_language_falls_back_to_korean(client):
    page = client.get("/", headers={"Accept-Language": "fr-FR"}).get_data(as_text=True)

    assert '<html lang="ko">' in page


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("ko", "12,000원"), ("en", "₩12,000")],
)
def test_won_amounts_are_formatted_for_the_locale(ctx, locale, expected):
    with force_locale(locale):
        assert format_money(12000) == expected


def test_other_currencies_use_their_minor_unit(ctx):
    with force_locale("en"):
        assert format_money(1250, "USD") == "$12.50"


def test_times_are_shown_in_seoul(ctx):
    late_evening_utc = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)  # 01:30 on 2 March in Seoul

    with force_locale("ko"):
        korean = format_when(late_evening_utc, "short", now=late_evening_utc)
    with force_locale("en"):
        english = format_when(late_evening_utc, "short", now=late_evening_utc)

    assert korean == "3월 2일 (월) 오전 1:30"
    assert english == "Mar 2 (Mon), 1:30 AM"


@pytest.mark.parametrize(
    ("language", "text"),
    [("ko", "페이지를 찾을 수 없습니다"), ("en", "Page not found")],
)
def test_error_pages_speak_the_users_language(client, language, text):
    response = client.get("/no-such-page", headers={"Accept-Language": language})

    assert response.status_code == 404
    assert text in response.get_data(as_text=True)


def test_form_validation_messages_are_translated(client):
    response = client.post("/login", data={}, headers={"Accept-Language": "ko"})

    assert "이 항목은 필수입니다." in response.get_data(as_text=True)
