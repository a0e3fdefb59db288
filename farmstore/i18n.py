"""Language choice and locale-aware formatting of money and times."""

from __future__ import annotations

from babel.numbers import format_currency, format_decimal, get_currency_precision
from flask import current_app, has_request_context, request
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user

LOCALE_COOKIE = "locale"


def select_locale() -> str:
    """The user's own setting, then the locale cookie, then Accept-Language, then Korean."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI and tick: callers use force_locale for a person's language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    cookie = request.cookies.get(LOCALE_COOKIE)
    if cookie in languages:
        return cookie
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def format_money(amount: int, currency: str | None = None) -> str:
    """An integer amount in the currency's minor unit, for the current locale:
    12000 KRW is "12,000원" in Korean and "₩12,000" in English."""
    currency = currency or current_app.config["CURRENCY"]
    locale = str(get_locale() or "ko")
    major = amount / (10 ** get_currency_precision(currency))
    if currency == "KRW" and locale.startswith("ko"):
        return f"{format_decimal(major, locale=locale)}원"
    return format_currency(major, currency, locale=locale)


# "short" is how sales and pickups show a moment: weekday and time, no two-digit year. Korean uses
# the wide day period (오전/오후); CLDR's abbreviated one is "AM/PM".
SHORT_PATTERNS = {"ko": "M월 d일 (E) aaaa h:mm", "en": "MMM d (EEE) h:mm a"}


def format_when(value, style: str = "medium") -> str:
    """A UTC datetime shown in the configured time zone, in the current locale."""
    if not value:
        return ""
    if style == "short":
        style = SHORT_PATTERNS.get(str(get_locale() or "ko")[:2], style)
    return format_datetime(value, style)


def init_app(app) -> None:
    """Register the formatting helpers as Jinja filters."""
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["when"] = format_when
    app.jinja_env.filters["day"] = lambda value, style="medium": format_date(value, style) if value else ""
