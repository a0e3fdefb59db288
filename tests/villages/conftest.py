"""Assertions are on the English source text, so services here run in English."""

from tests.english import ctx  # noqa: F401 (a fixture, found by pytest by name)
