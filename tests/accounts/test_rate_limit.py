"""Sign-in throttling: five failed attempts a minute per client and per email, then a friendly 429.

Only failures count, so a person who signs in often is never locked out by their own successes.
"""

from __future__ import annotations

import os

import pytest
import redis

from tests.factories import make_user

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
THROTTLED = "Too many attempts. Please wait a minute and try again."


@pytest.fixture
def farmer(app) -> str:
    """The email of an existing account."""
    with app.app_context():
        return make_user("farmer@example.com").email


def fail_login(client, email: str, times: int, ip: str = "127.0.0.1") -> list[int]:
    """Post a wrong password `times` times from `ip`; the status codes."""
    return [
        client.post(
            "/login", data={"email": email, "password": "a-wrong-guess"}, environ_base={"REMOTE_ADDR": ip}
        ).status_code
        for _ in range(times)
    ]


def test_the_sixth_failed_attempt_in_a_minute_gets_a_friendly_429(client, farmer):
    assert fail_login(client, farmer, 5) == [200] * 5

    response = client.post("/login", data={"email": farmer, "password": "a-wrong-guess"})

    assert response.status_code == 429
    assert THROTTLED in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    assert client.get("/login").status_code == 200  # the page itself stays readable


def test_once_throttled_even_the_right_password_waits(client, auth, farmer):
    fail_login(client, farmer, 5)

    assert auth.login(farmer).status_code == 429


def test_a_successful_sign_in_does_not_count(client, auth, farmer):
    assert fail_login(client, farmer, 4) == [200] * 4
    assert auth.login(farmer).status_code == 302
    auth.logout()

    assert fail_login(client, farmer, 2) == [200, 429]  # the fifth failure is still allowed


def test_the_email_is_throttled_whichever_address_the_attempts_come_from(client, farmer):
    assert fail_login(client, farmer, 5, ip="203.0.113.1") == [200] * 5

    assert fail_login(client, farmer.upper(), 1, ip="198.51.100.2") == [429]
    assert fail_login(client, "someone-else@example.com", 1, ip="198.51.100.2") == [200]


def test_one_address_is_throttled_whichever_emails_it_tries(client, farmer):
    for n in range(5):
        fail_login(client, f"guess{n}@example.com", 1, ip="203.0.113.1")

    assert fail_login(client, farmer, 1, ip="203.0.113.1") == [429]
    assert fail_login(client, farmer, 1, ip="198.51.100.2") == [200]


@pytest.mark.app_config(LOGIN_RATE_LIMIT="2 per minute")
def test_the_limit_comes_from_the_configuration(client, farmer):
    assert fail_login(client, farmer, 3) == [200, 200, 429]


@pytest.fixture
def redis_db():
    """The Redis database named by TEST_REDIS_URL, emptied before and after the test."""
    connection = redis.Redis.from_url(TEST_REDIS_URL)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


@pytest.mark.skipif(not TEST_REDIS_URL, reason="set TEST_REDIS_URL to exercise the Redis limiter storage (CI does)")
@pytest.mark.app_config(RATELIMIT_STORAGE_URI=TEST_REDIS_URL)
def test_the_throttle_keeps_its_counts_in_redis(redis_db, client, farmer):
    assert fail_login(client, farmer, 6, ip="203.0.113.1") == [200] * 5 + [429]

    keys = [key.decode() for key in redis_db.keys("*")]
    assert any("login-email:farmer@example.com" in key for key in keys), keys
    assert any("203.0.113.1" in key for key in keys), keys
