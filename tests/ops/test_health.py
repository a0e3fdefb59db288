"""/healthz says the process is up; /readyz checks the database and Redis and names what failed;
every response carries a request id (the caller's X-Request-ID when it is sane)."""

from __future__ import annotations

import io
import json
import os

import pytest

from farmstore import create_app
from farmstore.health import JsonFormatter

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")


def test_healthz_answers_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_ok_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.app_config(REDIS_URL="redis://127.0.0.1:9/0")  # nothing listens on port 9
def test_readyz_is_503_and_names_redis_when_redis_is_away(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failed"] == ["redis"]
    assert body["checks"] == {"database": "ok", "redis": "unreachable"}


def test_readyz_is_503_and_names_the_database_when_it_is_away(tmp_path):
    away = "postgresql+psycopg://nobody@127.0.0.1:9/none"  # nothing listens on port 9
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": away, "CELERY_BROKER_URL": None})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failed"] == ["database"]


@pytest.mark.skipif(not TEST_REDIS_URL, reason="set TEST_REDIS_URL to check a real Redis")
def test_readyz_checks_a_real_redis(app):
    app.config["REDIS_URL"] = TEST_REDIS_URL
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_a_request_id_is_made_or_echoed(client):
    made = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 16
    assert client.get("/healthz").headers["X-Request-ID"] != made
    assert client.get("/", headers={"X-Request-ID": "lb-42.abc"}).headers["X-Request-ID"] == "lb-42.abc"
    assert client.get("/", headers={"X-Request-ID": "bad id\\n"}).headers["X-Request-ID"] != "bad id\\n"


@pytest.mark.app_config(LOG_FORMAT="json")
def test_json_logs_carry_the_request_id(app):
    stream = io.StringIO()
    [handler] = [h for h in app.logger.handlers if isinstance(h.formatter, JsonFormatter)]
    handler.setStream(stream)

    @app.get("/_log")
    def log_something():
        app.logger.warning("여기 %s", "있어요")
        return "ok"

    app.test_client().get("/_log", headers={"X-Request-ID": "req-7"})

    [line] = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["message"] == "여기 있어요"
    assert (entry["request_id"], entry["path"], entry["level"]) == ("req-7", "/_log", "WARNING")
