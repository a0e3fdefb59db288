"""Health checks for the load balancer and the orchestrator, and a request id on every response.

`/healthz`: the process is up and serving (touches nothing else). `/readyz`: the database and, when
one is configured, Redis answer; otherwise 503 naming what failed, so traffic goes elsewhere.
"""

from __future__ import annotations

import json
import logging
import re
import secrets

import redis
from flask import Blueprint, current_app, g, has_request_context, jsonify, request
from sqlalchemy import text

from farmstore.extensions import db

bp = Blueprint("health", __name__)
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; say which
        db.session.rollback()
        current_app.logger.warning("readyz: database unreachable: %s", exc)
        checks["database"] = "unreachable"
    for name, url in (("redis", current_app.config.get("REDIS_URL")),):
        if url:
            try:
                connection = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
                connection.ping()
                connection.close()
                checks[name] = "ok"
            except Exception as exc:
                current_app.logger.warning("readyz: %s unreachable: %s", name, exc)
                checks[name] = "unreachable"
    failed = sorted(name for name, state in checks.items() if state != "ok")
    response = jsonify(status="fail" if failed else "ok", checks=checks, failed=failed)
    response.status_code = 503 if failed else 200
    response.headers["Cache-Control"] = "no-store"
    return response


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the request id and path when
    the record was logged while serving a request (LOG_FORMAT=json)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = g.get("request_id")
            entry["method"], entry["path"] = request.method, request.path
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def init_app(app) -> None:
    """Register the checks; honour an incoming X-Request-ID (or make one) and echo it back; with
    LOG_FORMAT=json, log JSON lines."""
    app.register_blueprint(bp)
    if app.config.get("LOG_FORMAT") == "json":
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        for logger in (app.logger, logging.getLogger("farmstore")):
            logger.handlers[:] = [handler]
            logger.setLevel(logging.INFO)
            logger.propagate = False
    else:  # a later app in the same process (tests) logs as usual again
        for logger in (app.logger, logging.getLogger("farmstore")):
            if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
                logger.handlers[:] = [h for h in logger.handlers if not isinstance(h.formatter, JsonFormatter)]
                logger.propagate = True

    @app.before_request
    def request_id():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else secrets.token_hex(8)

    @app.after_request
    def echo_request_id(response):
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
        return response
