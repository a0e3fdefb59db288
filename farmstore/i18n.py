"""Language choice and locale-aware formatting of money and times."""

from __future__ import annotations

from datetime import UTC, datetime

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import format_currency, format_decimal, get_currency_precision
from flask import current_app, has_request_context, request
from flask_babel import Domain, get_locale, get_timezone
from flask_login import current_user
from jinja2 import pass_context

from farmstore.korean import josa, resolve_particles

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


# One way of showing a moment everywhere: month, day, wall-clock time in the configured zone,
# no seconds; the year only when it is not this year. Korean uses the wide day period (오전/오후),
# as CLDR's abbreviated one is "AM/PM". "short" adds the weekday, for sales and pickups.
WHEN_PATTERNS = {  # (this year, another year) for each style
    "ko": {
        "": ("M월 d일 aaaa h:mm", "y년 M월 d일 aaaa h:mm"),
        "short": ("M월 d일 (E) aaaa h:mm", "y년 M월 d일 (E) aaaa h:mm"),
    },
    "en": {"": ("MMM d, h:mm a", "MMM d, y, h:mm a"), "short": ("MMM d (EEE), h:mm a", "MMM d, y (EEE), h:mm a")},
}
DAY_PATTERNS = {"ko": ("M월 d일", "y년 M월 d일"), "en": ("MMM d", "MMM d, y")}


def _language() -> str:
    """The two-letter language of the current locale (Korean when unknown)."""
    language = str(get_locale() or "ko")[:2]
    return language if language in WHEN_PATTERNS else "ko"


def _local(value: datetime) -> datetime:
    """An aware datetime in the configured time zone (naive ones are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(get_timezone())


def format_clock(value) -> str:
    """A time of day on the 24-hour clock (a stall's opening hours: 09:00)."""
    return value.strftime("%H:%M") if value else ""


def format_when(value, style: str = "medium", now: datetime | None = None) -> str:
    """A UTC datetime shown in the configured time zone: "12월 4일 오후 10:30" in Korean, "Dec 4,
    10:30 PM" in English ("2025년 12월 4일 …", "Dec 4, 2025, …" when not this year)."""
    if not value:
        return ""
    language = _language()
    local = _local(value)
    this_year, other_year = WHEN_PATTERNS[language]["short" if style == "short" else ""]
    pattern = this_year if local.year == _local(now or datetime.now(UTC)).year else other_year
    return babel_format_datetime(local, pattern, tzinfo=local.tzinfo, locale=str(get_locale() or "ko"))


def format_day(value, now: datetime | None = None) -> str:
    """A calendar date: "12월 4일" / "Dec 4", with the year when it is not this year."""
    if not value:
        return ""
    if isinstance(value, datetime):
        value = _local(value).date()
    this_year = _local(now or datetime.now(UTC)).year
    short, with_year = DAY_PATTERNS[_language()]
    return babel_format_date(value, short if value.year == this_year else with_year, locale=str(get_locale() or "ko"))


class ParticleDomain(Domain):
    """Flask-Babel's message domain, with Korean paired particles resolved after interpolation:
    `_("%(name)s을(를) 맡아 주세요", name="햇살마을")` gives "햇살마을을 맡아 주세요"."""

    def gettext(self, string, **variables):
        return resolve_particles(super().gettext(string, **variables))

    def ngettext(self, singular, plural, num, **variables):
        return resolve_particles(super().ngettext(singular, plural, num, **variables))

    def pgettext(self, context, string, **variables):
        return resolve_particles(super().pgettext(context, string, **variables))

    def npgettext(self, context, singular, plural, num, **variables):
        return resolve_particles(super().npgettext(context, singular, plural, num, **variables))


def _resolving(jinja_gettext):
    """Jinja's own gettext callable (it interpolates after translating), resolving particles after."""

    @pass_context
    def wrapper(context, *args, **variables):
        return resolve_particles(jinja_gettext(context, *args, **variables))

    return wrapper


def init_app(app) -> None:
    """Register the formatting helpers as Jinja filters, and resolve Korean paired particles
    in every translated string (Python's gettext and the templates' `_()`)."""
    configuration = app.extensions["babel"]
    configuration.instance.domain_instance = ParticleDomain(domain=configuration.default_domain)
    for name in ("gettext", "ngettext", "pgettext", "npgettext"):
        app.jinja_env.globals[name] = _resolving(app.jinja_env.globals[name])
    app.jinja_env.filters["josa"] = josa
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["when"] = format_when
    app.jinja_env.filters["clock"] = format_clock
    app.jinja_env.filters["day"] = format_day
