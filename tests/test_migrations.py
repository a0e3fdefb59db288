"""The migrations build the schema the models describe, on SQLite and on PostgreSQL.

`create_all` is only for the other tests; a real install gets its schema from `flask db upgrade`,
so here an empty database is upgraded to head and compared with the models.
"""

from __future__ import annotations

import os

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from farmstore import create_app
from farmstore.config import normalise_database_url
from farmstore.extensions import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def scratch_database_name(test_database: str) -> str:
    """A scratch database named after the test database, so runs on test_a and test_b never collide:
    test -> farmstore_migrations, test_c -> farmstore_migrations_c, other -> farmstore_migrations_other."""
    suffix = test_database.removeprefix("test") if test_database.startswith("test") else f"_{test_database}"
    return f"farmstore_migrations{suffix}"


@pytest.fixture
def empty_database_url(tmp_path):
    """The URL of a database with no tables: a new PostgreSQL database when TEST_DATABASE_URL is set
    (dropped afterwards), otherwise a new SQLite file."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    server_url = make_url(normalise_database_url(TEST_DATABASE_URL))
    name = scratch_database_name(server_url.database)
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def migration_app(empty_database_url):
    """An app on the empty database, inside its application context (Alembic's env.py needs it)."""
    app = create_app({"TESTING": True, "SECRET_KEY": "migrations", "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def pending_schema_changes() -> list:
    """What `flask db migrate` would put in a new revision if run now: empty when migrations and models agree."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def model_tables() -> set[str]:
    """The tables the models declare."""
    return set(db.metadata.tables)


def test_upgrading_an_empty_database_gives_exactly_the_models_schema(migration_app):
    assert inspect(db.engine).get_table_names() == []

    flask_migrate.upgrade()

    assert model_tables() <= set(inspect(db.engine).get_table_names())
    assert pending_schema_changes() == []


def test_downgrading_to_base_and_upgrading_again_round_trips(migration_app):
    flask_migrate.upgrade()

    flask_migrate.downgrade(revision="base")

    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    flask_migrate.upgrade()
    assert pending_schema_changes() == []
