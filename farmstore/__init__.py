"""farmstore: a farm-to-table trust-commerce marketplace."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from flask import Flask
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.engine import Engine

from farmstore import i18n, trace
from farmstore.config import load_settings
from farmstore.extensions import babel, csrf, db, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite: enforce foreign keys, let readers and a writer work together, wait on locks."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application: settings from the environment, then `test_config` on top."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(load_settings(Path(app.instance_path)))
    if test_config:
        app.config.from_mapping(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    i18n.init_app(app)
    trace.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "info"

    from farmstore import models  # noqa: F401  (every model registered with the metadata)
    from farmstore.accounts.views import bp as accounts_bp
    from farmstore.catalog.views import bp as catalog_bp
    from farmstore.deals.views import bp as deals_bp
    from farmstore.evangelists.draft_views import bp as drafts_bp
    from farmstore.evangelists.views import bp as evangelists_bp
    from farmstore.groupbuys.views import bp as groupbuys_bp
    from farmstore.inquiries.views import bp as inquiries_bp
    from farmstore.main.views import bp as main_bp
    from farmstore.media.views import bp as media_bp
    from farmstore.payments.views import bp as payments_bp
    from farmstore.producers.views import bp as producers_bp
    from farmstore.referrals.views import bp as referrals_bp
    from farmstore.regulars.views import bp as regulars_bp
    from farmstore.sales.views import bp as sales_bp
    from farmstore.stories.views import bp as stories_bp
    from farmstore.villages.views import bp as villages_bp

    blueprints = (main_bp, accounts_bp, villages_bp, producers_bp, stories_bp, catalog_bp, regulars_bp, sales_bp)
    for blueprint in (
        *blueprints,
        groupbuys_bp,
        payments_bp,
        media_bp,
        referrals_bp,
        evangelists_bp,
        drafts_bp,
        inquiries_bp,
        deals_bp,
    ):
        app.register_blueprint(blueprint)

    from farmstore import cli, health, web
    from farmstore.tasks import celery_init_app

    health.init_app(app)
    web.init_app(app)
    cli.init_app(app)
    celery_init_app(app)
    return app
