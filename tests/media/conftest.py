"""Assertions are on the English source text, so services here run in English."""

from __future__ import annotations

import pytest
from flask_babel import force_locale


@pytest.fixture
def ctx(ctx):
    """An application context for calling services, with messages in English."""
    with force_locale("en"):
        yield
