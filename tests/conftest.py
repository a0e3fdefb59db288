"""Shared fixtures: an app per test on SQLite (or PostgreSQL when TEST_DATABASE_URL is set),
a test client and CLI runner, an `auth` helper, a real SMTP server, and a live server for the
browser."""

from __future__ import annotations

import fcntl
import os
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, make_url, text
from werkzeug.serving import make_server

from farmstore import create_app
from farmstore.config import normalise_database_url
from farmstore.extensions import db, limiter
from tests.factories import PASSWORD


def _isolate_xdist_worker() -> None:
    """Under pytest-xdist each worker gets its own PostgreSQL database (test -> test_gw1, created when
    missing) and its own Redis database (15 -> 14 for gw1), so workers never empty each other's tables
    or keys. Test modules read these variables at import, after this conftest has rewritten them."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    index = int(worker.removeprefix("gw"))
    if database := os.environ.get("TEST_DATABASE_URL"):
        url = make_url(normalise_database_url(database))
        name = f"{url.database}_{worker}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        os.environ["TEST_DATABASE_URL"] = url.set(database=name).render_as_string(hide_password=False)
    if redis_url := os.environ.get("TEST_REDIS_URL"):
        base, _, number = redis_url.rpartition("/")
        os.environ["TEST_REDIS_URL"] = f"{base}/{(int(number or 0) - index) % 16}"


_isolate_xdist_worker()
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + TEST_DATABASE_URL if TEST_DATABASE_URL else 'SQLite (temporary file)'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """The database every test uses, emptied to a fresh schema once per session."""
    if TEST_DATABASE_URL:
        url = normalise_database_url(TEST_DATABASE_URL)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "schema"})
    with app.app_context():
        db.create_all()  # tests only; the migrations are checked against these models separately
        db.engine.dispose()
    return url


def _empty_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Mailbox:
    """Messages received by the test SMTP server."""

    messages: list[EmailMessage] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def clear(self) -> None:
        self.messages.clear()


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server on loopback (aiosmtpd) for the whole session."""
    mailbox = Mailbox()
    mailbox.port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    yield mailbox
    controller.stop()


@pytest.fixture
def mailbox(smtp_server) -> Mailbox:
    smtp_server.clear()
    return smtp_server


def pytest_configure(config):
    config.addinivalue_line("markers", "app_config(**settings): extra settings for the test's app")


@pytest.fixture
def app(request, database_url, tmp_path, smtp_server):
    """A fresh app on the session's database; every table is emptied after the test."""
    settings = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "MAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": smtp_server.port,
        "SMTP_SECURITY": "none",
        "SMTP_TIMEOUT": 5.0,
        "RATELIMIT_STORAGE_URI": "memory://",
        "BASE_URL": "http://farmstore.test",
        "CELERY_BROKER_URL": None,  # nothing is enqueued unless a test asks for a broker
    }
    marker = request.node.get_closest_marker("app_config")
    if marker:
        settings.update(marker.kwargs)
    app = create_app(settings)
    with app.app_context():
        limiter.reset()
    yield app
    with app.app_context():
        db.session.remove()
        _empty_tables()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def ctx(app):
    """An application context for calling services directly."""
    with app.app_context():
        yield


class AuthActions:
    """Sign in and out through the real forms."""

    def __init__(self, client):
        self._client = client

    def login(self, email: str, password: str = PASSWORD):
        return self._client.post("/login", data={"email": email, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def live_server(app):
    """The test's app served over HTTP on a free loopback port, for the browser."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = url  # shared links and emails point at the server the browser uses
    yield url
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium: Playwright's own browser download does not work here."""
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        "args": [*browser_type_launch_args.get("args", []), "--disable-gpu", "--disable-quic"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A phone: 360 px wide, Korean."""
    return {
        **browser_context_args,
        "viewport": {"width": 360, "height": 740},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
        "locale": "ko-KR",
    }


HEAVY_MODULE_WORDS = {"concurrency", "race", "races", "parallel"}  # words of a test module's name


@pytest.fixture(autouse=True)
def one_race_at_a_time(request, tmp_path_factory):
    """A race opens up to ~65 database connections; under pytest-xdist the race tests of every worker
    take one lock file in the run's shared temporary folder, so two races never exhaust PostgreSQL's
    100 connections. (xdist's `loadgroup` would do it, but it does not work with pytest 9's node ids.)"""
    if not os.environ.get("PYTEST_XDIST_WORKER") or HEAVY_MODULE_WORDS.isdisjoint(request.path.stem.split("_")):
        yield
        return
    with open(tmp_path_factory.getbasetemp().parent / "races.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
        fcntl.flock(lock, fcntl.LOCK_UN)
