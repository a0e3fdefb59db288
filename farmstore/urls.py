"""Absolute URLs that work inside a request and from the CLI (emails sent by `flask farm tick`)."""

from __future__ import annotations

from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values) -> str:
    """An absolute URL for `endpoint`: the request's host when there is one, else BASE_URL."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
        return url_for(endpoint, _external=True, **values)
