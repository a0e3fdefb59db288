"""Fixtures for tests that assert on the English source text. Korean is the default language,
so these ask for English explicitly and keep holding whatever the Korean catalogue says.
A folder's conftest.py imports them: `from tests.english import client, ctx`."""

from __future__ import annotations

import pytest
from flask_babel import force_locale


@pytest.fixture
def ctx(ctx):
    """An application context for calling services, with messages in English."""
    with force_locale("en"):
        yield


@pytest.fixture
def client(client):
    """The test client, sending Accept-Language: en (a user's own setting still wins)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client
