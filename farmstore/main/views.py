"""Home page, search, language switch and health check."""

from __future__ import annotations

import json

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import text

from farmstore.accounts.views import safe_next
from farmstore.catalog.models import CATEGORIES
from farmstore.extensions import db
from farmstore.groupbuys.services import open_group_buys
from farmstore.i18n import LOCALE_COOKIE
from farmstore.main import bp
from farmstore.main.search import search as run_search
from farmstore.producers.services import recent_producers
from farmstore.regulars.services import followed_producer_ids
from farmstore.sales.services import lowest_prices, open_sales
from farmstore.stories.services import recent_posts
from farmstore.timeutil import utcnow
from farmstore.villages.services import list_villages

HOME_STORIES = 6
HOME_SALES = 6


@bp.get("/")
def home():
    """New stories (from followed producers first when signed in), producers and villages."""
    now = utcnow()
    followed = followed_producer_ids(current_user) if current_user.is_authenticated else []
    return render_template(
        "main/home.html",
        feed=recent_posts(limit=HOME_STORIES, producer_ids=followed) if followed else [],
        stories=recent_posts(limit=HOME_STORIES),
        sales=open_sales(now=now, limit=HOME_SALES),
        group_buys=open_group_buys(now=now, limit=HOME_SALES),
        now=now,
        producers=recent_producers(),
        villages=list_villages(),
        categories=CATEGORIES,
    )


@bp.get("/search")
def search():
    query = (request.args.get("q") or "").strip()[:200]
    results = run_search(query) if query else None
    prices = lowest_prices([p.id for p in results.products], now=utcnow()) if results else {}
    return render_template("main/search.html", results=results, prices=prices, query=query)


@bp.post("/language")
def set_language():
    """Remember the chosen language in a cookie (and on the account when signed in)."""
    locale = request.form.get("locale")
    response = redirect(safe_next())
    if locale in current_app.config["LANGUAGES"]:
        response.set_cookie(LOCALE_COOKIE, locale, max_age=365 * 24 * 3600, samesite="Lax")
        if current_user.is_authenticated and current_user.locale != locale:
            from farmstore.accounts.services import update_settings

            update_settings(current_user, display_name=current_user.display_name, locale=locale)
    return response


@bp.get("/healthz")
def healthz():
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest, so a phone can add farmstore to its home screen, in the user's language."""
    icons = [
        {"src": url_for("static", filename="img/icon-192.png"), "sizes": "192x192", "type": "image/png"},
        {"src": url_for("static", filename="img/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        {
            "src": url_for("static", filename="img/icon-maskable-512.png"),
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
        {"src": url_for("static", filename="img/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
    ]
    body = {
        "name": _("farmstore"),
        "short_name": _("farmstore"),
        "description": _("Buy directly from the farmers whose animals and fields you follow."),
        "lang": str(get_locale() or "ko"),
        "start_url": url_for("main.home"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#f6f4ec",
        "theme_color": "#2f6b2f",
        "icons": icons,
    }
    response = current_app.response_class(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
