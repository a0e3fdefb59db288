"""Fixtures for the accounts tests: English-reading client and context, reset tokens from the past.

Assertions are on the English source text; Korean is the default language, so the tests ask for
English explicitly and keep holding whatever the Korean catalogue says.
"""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner

from farmstore.accounts.services import make_reset_token
from tests.english import client, ctx  # noqa: F401 (fixtures, found by pytest by name)


@pytest.fixture
def issue_reset_token(monkeypatch):
    """Make a password-reset token for a user as if it had been issued `age` seconds ago."""

    def issue(user, *, age: int) -> str:
        with monkeypatch.context() as clock:
            clock.setattr(TimestampSigner, "get_timestamp", lambda _signer: int(time.time()) - age)
            return make_reset_token(user)

    return issue
