"""Fixtures for the background-work tests (Celery tasks, workers, enqueue after commit)."""

from tests.notifications.conftest import smtp_down  # noqa: F401 (a fixture, found by pytest by name)
