"""Account rules, called directly: registration, sign-in, passwords, reset links, settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from farmstore.accounts import services
from farmstore.accounts.models import User
from farmstore.accounts.passwords import verify_password
from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.notifications.models import OutboxMessage
from tests.factories import PASSWORD, make_user

NOW = datetime(2025, 5, 1, 9, 30, tzinfo=UTC)
NEW_PASSWORD = "barley-kettle-morning-fog"


def count(model) -> int:
    """How many rows `model` has."""
    return db.session.scalar(select(func.count()).select_from(model))


def register(**fields) -> User:
    """Register with valid defaults, overridden by `fields`."""
    values = {"email": "farmer@example.com", "password": NEW_PASSWORD, "display_name": "김농부", "locale": "ko"}
    return services.register_user(**{**values, **fields}, now=NOW)


# Registration


def test_registering_stores_a_normalised_email_and_a_hashed_password(ctx):
    user = register(email="  Farmer.Kim@Example.COM ", display_name="  김농부 ", locale="en")

    stored = db.session.get(User, user.id)
    assert stored.email == "farmer.kim@example.com"
    assert stored.display_name == "김농부"
    assert stored.locale == "en"
    assert stored.created_at == NOW
    assert NEW_PASSWORD not in stored.password_hash
    assert verify_password(stored.password_hash, NEW_PASSWORD)
    assert not stored.is_operator
    assert not stored.is_producer


def test_registering_with_a_language_we_do_not_speak_leaves_the_choice_automatic(ctx):
    assert register(locale="fr").locale is None


def test_an_email_can_have_only_one_account_whatever_its_case(ctx):
    make_user("farmer@example.com")

    with pytest.raises(DomainError) as refused:
        register(email="FARMER@Example.com")

    assert refused.value.field == "email"
    assert "already exists" in str(refused.value.message)
    assert count(User) == 1


@pytest.mark.parametrize("email", ["not-an-email", "farmer@", "farmer@@example.com", "farmer@example", ""])
def test_an_invalid_email_is_refused(ctx, email):
    with pytest.raises(DomainError) as refused:
        register(email=email)

    assert refused.value.field == "email"
    assert "valid email address" in str(refused.value.message)
    assert count(User) == 0


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-1A", "at least 10 characters"),
        ("password1234", "too easy to guess"),
        ("farmer.kim@example.com", "too easy to guess"),
        ("kimnongbu2024", "too easy to guess"),
        ("x" * 129, "at most 128 characters"),
    ],
    ids=["short", "common", "same-as-email", "made-of-the-name", "over-long"],
)
def test_a_weak_password_is_refused(ctx, password, message):
    with pytest.raises(DomainError) as refused:
        register(email="farmer.kim@example.com", display_name="kimnongbu", password=password)

    assert refused.value.field == "password"
    assert message in str(refused.value.message)
    assert count(User) == 0


@pytest.mark.parametrize(
    ("display_name", "message"), [("   ", "what to call you"), ("가" * 61, "at most 60 characters")]
)
def test_a_blank_or_over_long_name_is_refused_on_every_database(ctx, display_name, message):
    with pytest.raises(DomainError) as refused:
        register(display_name=display_name)

    assert refused.value.field == "display_name"
    assert message in str(refused.value.message)
    assert count(User) == 0


def test_an_email_longer_than_254_characters_is_refused(ctx):
    with pytest.raises(DomainError) as refused:
        register(email="a" * 243 + "@example.com")

    assert refused.value.field == "email"
    assert count(User) == 0


# Signing in


def test_signing_in_returns_the_account_and_records_when(ctx):
    make_user("farmer@example.com")

    user = services.authenticate(email=" Farmer@Example.com", password=PASSWORD, now=NOW)

    assert user.email == "farmer@example.com"
    assert db.session.get(User, user.id).last_login_at == NOW


@pytest.mark.parametrize(
    ("email", "password"),
    [("farmer@example.com", "not-the-password"), ("nobody@example.com", PASSWORD)],
    ids=["wrong-password", "unknown-email"],
)
def test_a_wrong_password_and_an_unknown_email_fail_alike(ctx, email, password):
    make_user("farmer@example.com")

    with pytest.raises(DomainError) as refused:
        services.authenticate(email=email, password=password, now=NOW)

    assert str(refused.value.message) == "Email or password is incorrect."
    assert refused.value.field == "password"


def test_a_deactivated_account_cannot_sign_in_even_with_the_right_password(ctx):
    make_user("farmer@example.com", is_active_account=False)

    with pytest.raises(DomainError, match="incorrect"):
        services.authenticate(email="farmer@example.com", password=PASSWORD, now=NOW)


def test_signing_in_upgrades_a_hash_made_with_weaker_settings(ctx):
    weak_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    user = make_user("farmer@example.com")
    user.password_hash = weak_hash
    db.session.commit()

    services.authenticate(email="farmer@example.com", password=PASSWORD, now=NOW)

    assert user.password_hash != weak_hash
    assert verify_password(user.password_hash, PASSWORD)


# Changing the password


def test_changing_the_password_needs_the_current_one(ctx):
    user = make_user()
    before = user.password_hash

    with pytest.raises(DomainError) as refused:
        services.change_password(user, current_password="a-wrong-guess", new_password=NEW_PASSWORD, now=NOW)

    assert refused.value.field == "current_password"
    assert db.session.get(User, user.id).password_hash == before


def test_the_new_password_must_be_strong(ctx):
    user = make_user("farmer@example.com")

    with pytest.raises(DomainError) as refused:
        services.change_password(user, current_password=PASSWORD, new_password="farmer@example.com", now=NOW)

    assert refused.value.field == "new_password"
    assert verify_password(db.session.get(User, user.id).password_hash, PASSWORD)


def test_after_a_change_only_the_new_password_works(ctx):
    user = make_user("farmer@example.com")

    services.change_password(user, current_password=PASSWORD, new_password=NEW_PASSWORD, now=NOW)

    assert db.session.get(User, user.id).password_changed_at == NOW
    assert services.authenticate(email="farmer@example.com", password=NEW_PASSWORD, now=NOW) == user
    with pytest.raises(DomainError):
        services.authenticate(email="farmer@example.com", password=PASSWORD, now=NOW)


def test_changing_the_password_kills_outstanding_reset_links(ctx):
    user = make_user()
    token = services.make_reset_token(user)

    services.change_password(user, current_password=PASSWORD, new_password=NEW_PASSWORD, now=NOW)

    with pytest.raises(DomainError, match="already been used"):
        services.user_for_reset_token(token)


# Reset links


def test_asking_for_a_reset_queues_one_email_with_a_link_in_the_persons_language(app, ctx):
    user = make_user("farmer@example.com", locale="en")

    services.request_password_reset(email="Farmer@Example.com", now=NOW)

    [message] = db.session.scalars(select(OutboxMessage)).all()
    assert message.to_address == "farmer@example.com"
    assert message.status == OutboxMessage.PENDING
    assert message.subject == "Reset your farmstore password"
    assert "60 minutes" in message.body_text
    prefix = app.config["BASE_URL"] + "/reset-password/"  # no request: links point at BASE_URL
    [link] = [line for line in message.body_text.splitlines() if line.startswith(prefix)]
    assert services.user_for_reset_token(link.removeprefix(prefix)) == user


@pytest.mark.parametrize(
    ("email", "active"),
    [("stranger@example.com", True), ("farmer@example.com", False)],
    ids=["unknown-email", "deactivated-account"],
)
def test_no_email_is_queued_for_an_unknown_or_deactivated_account(ctx, email, active):
    make_user("farmer@example.com", is_active_account=active)

    services.request_password_reset(email=email, now=NOW)

    assert count(OutboxMessage) == 0


def test_a_reset_link_sets_a_new_password_once(ctx):
    user = make_user("farmer@example.com")
    token = services.make_reset_token(user)

    assert services.reset_password(token=token, new_password=NEW_PASSWORD, now=NOW) == user

    assert verify_password(db.session.get(User, user.id).password_hash, NEW_PASSWORD)
    with pytest.raises(DomainError, match="already been used"):
        services.reset_password(token=token, new_password="another-fresh-long-phrase", now=NOW)


def test_a_weak_password_through_a_reset_link_is_refused_and_the_link_still_works(ctx):
    user = make_user("farmer@example.com")
    token = services.make_reset_token(user)

    with pytest.raises(DomainError) as refused:
        services.reset_password(token=token, new_password="password1234", now=NOW)

    assert refused.value.field == "new_password"
    assert services.user_for_reset_token(token) == user


def test_a_reset_link_works_until_it_expires(app, ctx, issue_reset_token):
    user = make_user()
    max_age = app.config["PASSWORD_RESET_MAX_AGE"]

    assert services.user_for_reset_token(issue_reset_token(user, age=max_age - 60)) == user
    with pytest.raises(DomainError, match="expired"):
        services.user_for_reset_token(issue_reset_token(user, age=max_age + 1))


def test_a_tampered_or_foreign_reset_token_is_refused(ctx):
    user = make_user()
    token = services.make_reset_token(user)
    _, _, stamp_and_signature = token.partition(".")
    others_payload = services.make_reset_token(make_user()).partition(".")[0]
    forgeries = [
        f"{others_payload}.{stamp_and_signature}",  # another account under this signature
        token[:-5],
        URLSafeTimedSerializer("another-secret", salt=services.RESET_SALT).dumps({"uid": user.id}),
        URLSafeTimedSerializer("test-secret", salt="another-purpose").dumps({"uid": user.id}),
        "not-a-token",
    ]

    for forgery in forgeries:
        with pytest.raises(DomainError, match="not valid"):
            services.user_for_reset_token(forgery)


# Settings and operators


def test_settings_change_the_name_and_the_language(ctx):
    user = make_user(display_name="테스터")

    services.update_settings(user, display_name=" Grandma Lee ", locale="en")

    stored = db.session.get(User, user.id)
    assert (stored.display_name, stored.locale) == ("Grandma Lee", "en")


@pytest.mark.parametrize("locale", [None, "fr"])
def test_no_or_an_unknown_language_means_automatic(ctx, locale):
    user = make_user(locale="en")

    services.update_settings(user, display_name="테스터", locale=locale)

    assert db.session.get(User, user.id).locale is None


def test_settings_refuse_an_over_long_name(ctx):
    user = make_user(display_name="테스터")

    with pytest.raises(DomainError) as refused:
        services.update_settings(user, display_name="가" * 61, locale="ko")

    assert refused.value.field == "display_name"
    assert db.session.get(User, user.id).display_name == "테스터"


def test_make_operator_finds_the_account_whatever_the_case(ctx):
    user = make_user("farmer@example.com")

    services.make_operator("FARMER@example.com")

    assert db.session.get(User, user.id).is_operator
