"""Browser fixtures: problems the page reports to its console (CSP violations, script errors,
failed loads) are collected so a test can assert that there were none."""

from __future__ import annotations

import pytest


@pytest.fixture
def console_errors(page) -> list[str]:
    """Every console error and uncaught page error seen by `page` during the test."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors
