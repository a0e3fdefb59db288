"""Settings come from the environment (and an optional `.env`) with safe defaults; production
refuses to start half-configured; SQLite runs with foreign keys, WAL and a busy timeout."""

from __future__ import annotations

import stat

import pytest
from sqlalchemy import text

from farmstore import create_app
from farmstore.config import ConfigError, load_settings, normalise_database_url
from farmstore.extensions import db

# Every variable these tests set or whose absence they rely on.
SETTINGS_VARIABLES = (
    "FARMSTORE_ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "SMTP_HOST",
    "SMTP_PORT",
    "CURRENCY",
    "TIME_ZONE",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """Start every test with none of the settings variables set and the working directory in an
    empty folder, so neither the developer's shell nor their `.env` leaks in.

    Each variable is set before it is deleted so that monkeypatch records it and removes it again
    at the end, even when `load_dotenv` wrote it into os.environ behind monkeypatch's back."""
    for name in SETTINGS_VARIABLES:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)


def test_production_refuses_to_start_without_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("FARMSTORE_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://farm@db/farmstore")

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(tmp_path / "instance")

    assert not (tmp_path / "instance" / "secret_key").exists()


def test_production_treats_an_empty_secret_key_as_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("FARMSTORE_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://farm@db/farmstore")
    monkeypatch.setenv("SECRET_KEY", "")

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(tmp_path / "instance")


def test_production_refuses_to_start_without_a_database_url(monkeypatch, tmp_path):
    monkeypatch.setenv("FARMSTORE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-long-random-production-key")

    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings(tmp_path / "instance")


def test_the_app_factory_refuses_to_build_a_half_configured_production_app(monkeypatch):
    monkeypatch.setenv("FARMSTORE_ENV", "production")

    with pytest.raises(ConfigError):
        create_app({"TESTING": True})


def test_a_fully_configured_production_uses_its_settings_and_secure_cookies(monkeypatch, tmp_path):
    monkeypatch.setenv("FARMSTORE_ENV", "Production")
    monkeypatch.setenv("SECRET_KEY", "a-long-random-production-key")
    monkeypatch.setenv("DATABASE_URL", "postgres://farm@db/farmstore")

    settings = load_settings(tmp_path / "instance")

    assert settings["FARMSTORE_ENV"] == "production"
    assert settings["SECRET_KEY"] == "a-long-random-production-key"
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://farm@db/farmstore"
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["REMEMBER_COOKIE_SECURE"] is True
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_development_generates_a_private_secret_key_once_and_keeps_it(tmp_path):
    instance = tmp_path / "instance"

    first = load_settings(instance)
    second = load_settings(instance)

    key_file = instance / "secret_key"
    assert len(first["SECRET_KEY"]) >= 32
    assert second["SECRET_KEY"] == first["SECRET_KEY"]
    assert key_file.read_text().strip() == first["SECRET_KEY"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [path.name for path in instance.iterdir()] == ["secret_key"]


def test_two_installs_never_share_a_secret_key(tmp_path):
    one = load_settings(tmp_path / "one")
    other = load_settings(tmp_path / "other")

    assert one["SECRET_KEY"] != other["SECRET_KEY"]


def test_development_defaults_to_sqlite_in_the_instance_folder_and_korean_won(tmp_path):
    settings = load_settings(tmp_path / "instance")

    assert settings["FARMSTORE_ENV"] == "development"
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'instance' / 'farmstore.db'}"
    assert settings["SESSION_COOKIE_SECURE"] is False
    assert settings["BABEL_DEFAULT_LOCALE"] == "ko"
    assert settings["BABEL_DEFAULT_TIMEZONE"] == "Asia/Seoul"
    assert settings["CURRENCY"] == "KRW"


def test_dotenv_values_are_used_but_the_real_environment_wins(monkeypatch, tmp_path):
    (tmp_path / "cwd" / ".env").write_text(
        "SECRET_KEY=from-dotenv\nDATABASE_URL=postgres://farm@dotenv/farmstore\nTIME_ZONE=UTC\n"
    )
    monkeypatch.setenv("TIME_ZONE", "Asia/Tokyo")

    settings = load_settings(tmp_path / "instance")

    assert settings["SECRET_KEY"] == "from-dotenv"
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://farm@dotenv/farmstore"
    assert settings["BABEL_DEFAULT_TIMEZONE"] == "Asia/Tokyo"
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_rate_limits_are_kept_in_memory_unless_redis_is_configured(monkeypatch, tmp_path):
    assert load_settings(tmp_path / "instance")["RATELIMIT_STORAGE_URI"] == "memory://"

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    settings = load_settings(tmp_path / "instance")

    assert settings["REDIS_URL"] == "redis://127.0.0.1:6379/3"
    assert settings["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"


def test_celery_uses_redis_as_its_broker_unless_told_otherwise(monkeypatch, tmp_path):
    assert load_settings(tmp_path / "instance")["CELERY_BROKER_URL"] is None  # development: the tick

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    assert load_settings(tmp_path / "instance")["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/3"

    monkeypatch.setenv("CELERY_BROKER_URL", "redis://queue.internal:6379/0")
    monkeypatch.setenv("CELERY_RESULT_BACKEND", "redis://queue.internal:6379/1")
    settings = load_settings(tmp_path / "instance")
    assert settings["CELERY_BROKER_URL"] == "redis://queue.internal:6379/0"
    assert settings["CELERY_RESULT_BACKEND"] == "redis://queue.internal:6379/1"


def test_mail_is_written_to_files_unless_an_smtp_host_is_configured(monkeypatch, tmp_path):
    settings = load_settings(tmp_path / "instance")
    assert settings["MAIL_BACKEND"] == "file"
    assert settings["MAIL_DIR"] == str(tmp_path / "instance" / "mail")

    monkeypatch.setenv("SMTP_HOST", "smtp.example.com")
    settings = load_settings(tmp_path / "instance")

    assert settings["MAIL_BACKEND"] == "smtp"
    assert settings["SMTP_HOST"] == "smtp.example.com"
    assert settings["SMTP_PORT"] == 587


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://farm:pw@db:5432/farmstore", "postgresql+psycopg://farm:pw@db:5432/farmstore"),
        ("postgresql://farm@db/farmstore", "postgresql+psycopg://farm@db/farmstore"),
        ("postgresql+psycopg://farm@db/farmstore", "postgresql+psycopg://farm@db/farmstore"),
        ("sqlite:////srv/farmstore/farmstore.db", "sqlite:////srv/farmstore/farmstore.db"),
    ],
)
def test_database_urls_are_normalised_to_psycopg_3(given, expected):
    assert normalise_database_url(given) == expected


def test_the_database_connection_is_configured_for_its_engine(app):
    with app.app_context(), db.engine.connect() as conn:
        if db.engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() > 0
        else:
            assert db.engine.dialect.name == "postgresql"
            assert db.engine.dialect.driver == "psycopg"
            assert conn.execute(text("SELECT 1")).scalar() == 1
