"""Absolute URLs for emails and printed labels, the same inside a request and from the CLI."""

from __future__ import annotations

from flask import current_app, url_for


def external_url(endpoint: str, **values) -> str:
    """An absolute URL for `endpoint` on BASE_URL. Never built from the request's Host header:
    these links go into emails and printed labels, where a forged Host would send people (and
    their reset tokens) to another site."""
    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
        return url_for(endpoint, _external=True, **values)
