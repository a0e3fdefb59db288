"""The regulars tests read English, like the accounts and catalogue tests."""

from tests.accounts.conftest import client, ctx  # noqa: F401 (fixtures, found by pytest by name)
