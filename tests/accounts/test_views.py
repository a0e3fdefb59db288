"""Account pages through the test client: joining, signing in and out, settings, passwords,
reset links delivered by real SMTP, and forms refused without a valid CSRF token."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from farmstore.accounts.models import User
from farmstore.accounts.passwords import verify_password
from farmstore.accounts.services import make_reset_token
from farmstore.extensions import db
from farmstore.notifications.services import deliver_due_messages
from farmstore.timeutil import utcnow
from tests.factories import PASSWORD, make_user

NEW_PASSWORD = "barley-kettle-morning-fog"
CSRF_MESSAGE = "This form has expired or was not sent from our site."


def field_error(response, field: str) -> str:
    """The error text shown under `field` on the page ("" when there is none)."""
    match = re.search(rf'id="{field}-error">(.*?)</p>', response.get_data(as_text=True), re.S)
    return html.unescape(match.group(1)) if match else ""


def user_count(app) -> int:
    """How many accounts exist."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def signed_in(client) -> bool:
    """True when the client's session belongs to an account (the settings page needs one)."""
    return client.get("/account").status_code == 200


def registration(**fields) -> dict:
    """A valid registration form, overridden by `fields`."""
    return {"email": "farmer@example.com", "display_name": "김농부", "password": NEW_PASSWORD, **fields}


# Joining


def test_the_join_page_shows_the_form(client):
    page = client.get("/register").get_data(as_text=True)

    assert 'name="email"' in page
    assert 'name="password"' in page
    assert "Join farmstore" in page


def test_joining_signs_the_new_account_in(app, client):
    response = client.post("/register", data=registration())

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert user_count(app) == 1
    assert "farmer@example.com" in client.get("/account").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(User)).locale == "en"  # from the browser at sign-up


def test_joining_welcomes_the_person_on_the_local_page_they_came_from(client):
    response = client.post("/register?next=/villages", data=registration(), follow_redirects=True)

    assert response.request.path == "/villages"
    assert "Welcome to farmstore, 김농부!" in response.get_data(as_text=True)


def test_an_email_already_taken_in_another_case_is_refused_on_the_email_field(app, client):
    with app.app_context():
        make_user("farmer@example.com")

    response = client.post("/register", data=registration(email="Farmer@EXAMPLE.com"))

    assert response.status_code == 200
    assert "An account with this email already exists" in field_error(response, "email")
    assert user_count(app) == 1


def test_an_invalid_email_is_refused_on_the_email_field(app, client):
    response = client.post("/register", data=registration(email="farmer.example.com"))

    assert "Enter a valid email address" in field_error(response, "email")
    assert user_count(app) == 0


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-1A", "Use at least 10 characters."),
        ("password1234", "This password is too easy to guess."),
        ("farmer@example.com", "This password is too easy to guess."),
    ],
    ids=["short", "common", "same-as-email"],
)
def test_a_weak_password_is_refused_on_the_password_field(app, client, password, message):
    response = client.post("/register", data=registration(password=password))

    assert message in field_error(response, "password")
    assert not signed_in(client)
    assert user_count(app) == 0


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("email", "a" * 243 + "@example.com", 254),
        ("display_name", "가" * 61, 60),
        ("password", "long-phrase-" * 10 + "x" * 9, 128),
    ],
    ids=["email", "name", "password"],
)
def test_an_over_long_field_is_refused_with_its_limit(app, client, field, value, limit):
    assert len(value) == limit + 1

    response = client.post("/register", data=registration(**{field: value}))

    assert response.status_code == 200
    assert f"cannot be longer than {limit} characters" in field_error(response, field)
    assert user_count(app) == 0


# Signing in and out


def test_signing_in_with_the_right_password_goes_home(app, client, auth):
    with app.app_context():
        make_user("farmer@example.com")

    response = auth.login("Farmer@Example.com")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert signed_in(client)


@pytest.mark.parametrize(
    ("email", "password"),
    [("farmer@example.com", "not-the-password"), ("nobody@example.com", PASSWORD)],
    ids=["wrong-password", "unknown-email"],
)
def test_a_wrong_password_and_an_unknown_email_show_the_same_message(app, client, auth, email, password):
    with app.app_context():
        make_user("farmer@example.com")

    response = auth.login(email, password)

    assert response.status_code == 200
    assert field_error(response, "password") == "Email or password is incorrect."
    assert not signed_in(client)


def test_a_deactivated_account_cannot_sign_in(app, client, auth):
    with app.app_context():
        make_user("farmer@example.com", is_active_account=False)

    response = auth.login("farmer@example.com")

    assert field_error(response, "password") == "Email or password is incorrect."
    assert not signed_in(client)


def test_signing_out_needs_a_post(app, client, auth):
    with app.app_context():
        make_user("farmer@example.com")
    auth.login("farmer@example.com")

    assert client.get("/logout").status_code == 405
    assert signed_in(client)
    response = auth.logout()

    assert response.status_code == 302
    assert not signed_in(client)


def test_signing_in_returns_to_the_local_page_it_came_from(app, client):
    with app.app_context():
        make_user("farmer@example.com")

    response = client.post("/login?next=/villages?page=2", data={"email": "farmer@example.com", "password": PASSWORD})

    assert response.headers["Location"] == "/villages?page=2"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example", "/\\evil.example", "/\t/evil.example", "/\r\n/evil.example", "evil"],
    ids=["absolute", "scheme-relative", "backslash", "tab", "newline", "relative"],
)
def test_signing_in_never_redirects_off_the_site(app, client, target):
    with app.app_context():
        make_user("farmer@example.com")

    response = client.post(
        "/login", query_string={"next": target}, data={"email": "farmer@example.com", "password": PASSWORD}
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


# Settings


def test_the_settings_page_asks_strangers_to_sign_in(client):
    response = client.get("/account")

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert "next=%2Faccount" in response.headers["Location"]


def test_settings_change_the_name_and_the_language_which_beats_the_browser(app, client, auth):
    with app.app_context():
        user_id = make_user("farmer@example.com", display_name="테스터").id
    auth.login("farmer@example.com")

    response = client.post("/account", data={"display_name": "Grandma Lee", "locale": "ko"})

    assert response.status_code == 302
    page = client.get("/account")
    assert page.headers["Content-Language"] == "ko"  # the browser still asks for English
    assert 'value="Grandma Lee"' in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, user_id).locale == "ko"


def test_automatic_language_clears_the_setting(app, client, auth):
    with app.app_context():
        user_id = make_user("farmer@example.com", locale="ko").id
    auth.login("farmer@example.com")

    client.post("/account", data={"display_name": "테스터", "locale": ""})

    with app.app_context():
        assert db.session.get(User, user_id).locale is None
    assert client.get("/account").headers["Content-Language"] == "en"


def test_settings_refuse_an_over_long_name(app, client, auth):
    with app.app_context():
        user_id = make_user("farmer@example.com", display_name="테스터").id
    auth.login("farmer@example.com")

    response = client.post("/account", data={"display_name": "가" * 61, "locale": ""})

    assert "cannot be longer than 60 characters" in field_error(response, "display_name")
    with app.app_context():
        assert db.session.get(User, user_id).display_name == "테스터"


# Changing the password


@pytest.fixture
def signed_in_farmer(app, auth) -> int:
    """An account signed in on the client; returns its id."""
    with app.app_context():
        user_id = make_user("farmer@example.com").id
    auth.login("farmer@example.com")
    return user_id


def password_is(app, user_id: int, password: str) -> bool:
    """True when the account's stored hash matches `password`."""
    with app.app_context():
        return verify_password(db.session.get(User, user_id).password_hash, password)


def test_a_wrong_current_password_is_refused(app, client, signed_in_farmer):
    response = client.post(
        "/account/password", data={"current_password": "a-wrong-guess", "new_password": NEW_PASSWORD}
    )

    assert "Your current password is not correct." in field_error(response, "current_password")
    assert password_is(app, signed_in_farmer, PASSWORD)


def test_a_weak_new_password_is_refused(app, client, signed_in_farmer):
    response = client.post("/account/password", data={"current_password": PASSWORD, "new_password": "password1234"})

    assert "too easy to guess" in field_error(response, "new_password")
    assert password_is(app, signed_in_farmer, PASSWORD)


def test_after_changing_the_password_only_the_new_one_signs_in(client, auth, signed_in_farmer):
    response = client.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD})

    assert response.status_code == 302
    assert "Your password is changed." in client.get(response.headers["Location"]).get_data(as_text=True)
    auth.logout()
    assert auth.login("farmer@example.com", PASSWORD).status_code == 200
    assert auth.login("farmer@example.com", NEW_PASSWORD).status_code == 302


# Resetting a forgotten password


def reset_path(message) -> str:
    """The path of the reset link in a delivered email."""
    match = re.search(r"https?://\S+/reset-password/\S+", message.get_content())
    assert match, message.get_content()
    return urlsplit(match.group()).path


def deliver(app) -> None:
    """Send what the outbox holds, as `flask farm tick` would."""
    with app.app_context():
        deliver_due_messages(now=utcnow())


def password_works(auth, password: str) -> bool:
    """True when farmer@example.com can sign in with `password` (and signs out again)."""
    works = auth.login("farmer@example.com", password).status_code == 302
    auth.logout()
    return works


def test_a_forgotten_password_is_reset_through_the_emailed_link(app, client, auth, runner, mailbox):
    with app.app_context():
        make_user("farmer@example.com", display_name="김농부")

    response = client.post("/forgot-password", data={"email": "Farmer@Example.com"})

    assert response.headers["Location"] == "/login"
    assert mailbox.messages == []  # queued in the outbox, sent by the tick
    assert runner.invoke(args=["farm", "tick"]).exit_code == 0
    [message] = mailbox.messages
    assert message["To"] == "farmer@example.com"
    link = reset_path(message)
    assert "Choose a new password" in client.get(link).get_data(as_text=True)

    response = client.post(link, data={"new_password": NEW_PASSWORD})

    assert response.headers["Location"] == "/"
    assert signed_in(client)
    auth.logout()
    assert not password_works(auth, PASSWORD)
    assert password_works(auth, NEW_PASSWORD)


def test_a_reset_link_works_only_once(app, client, auth, mailbox):
    with app.app_context():
        make_user("farmer@example.com")
    client.post("/forgot-password", data={"email": "farmer@example.com"})
    deliver(app)
    link = reset_path(mailbox.messages[0])
    client.post(link, data={"new_password": NEW_PASSWORD})
    auth.logout()

    response = client.post(link, data={"new_password": "another-fresh-long-phrase"}, follow_redirects=True)

    assert response.request.path == "/forgot-password"
    assert "This reset link has already been used." in response.get_data(as_text=True)
    assert password_works(auth, NEW_PASSWORD)


@pytest.mark.parametrize(
    ("expired", "message"),
    [(True, "This reset link has expired."), (False, "This reset link is not valid.")],
    ids=["expired", "tampered"],
)
def test_an_expired_or_tampered_link_is_refused(app, client, auth, issue_reset_token, expired, message):
    with app.app_context():
        user = make_user("farmer@example.com")
        max_age = app.config["PASSWORD_RESET_MAX_AGE"]
        token = issue_reset_token(user, age=max_age + 1) if expired else make_reset_token(user)[:-5]

    response = client.post(f"/reset-password/{token}", data={"new_password": NEW_PASSWORD}, follow_redirects=True)

    assert response.request.path == "/forgot-password"
    assert message in response.get_data(as_text=True)
    assert password_works(auth, PASSWORD)


def test_an_unknown_email_gets_the_same_answer_and_no_email(app, client, mailbox):
    with app.app_context():
        make_user("farmer@example.com")
    answers = []
    for email in ("farmer@example.com", "stranger@example.com"):
        response = client.post("/forgot-password", data={"email": email}, follow_redirects=True)
        answers.append(re.findall(r'class="flash[^"]*"[^>]*>(.*?)</p>', response.get_data(as_text=True)))

    deliver(app)

    assert answers[0] == answers[1] == ["If an account uses that email, a reset link is on its way. Check your inbox."]
    assert [message["To"] for message in mailbox.messages] == ["farmer@example.com"]


def test_the_reset_email_is_written_in_the_persons_language_not_the_browsers(app, client, mailbox):
    with app.app_context():
        make_user("farmer@example.com", display_name="Grandma Lee", locale="en")

    client.post("/forgot-password", data={"email": "farmer@example.com"}, headers={"Accept-Language": "ko"})
    deliver(app)

    [message] = mailbox.messages
    assert message["Subject"] == "Reset your farmstore password"
    body = message.get_content()
    assert "Hello Grandma Lee," in body
    assert "The link works once, for 60 minutes." in body


def test_a_forged_host_header_cannot_redirect_the_reset_link(app, client, mailbox):
    with app.app_context():
        make_user("farmer@example.com")

    client.post("/forgot-password", data={"email": "farmer@example.com"}, headers={"Host": "evil.example"})
    deliver(app)

    assert f"{app.config['BASE_URL']}/reset-password/" in mailbox.messages[0].get_content()


# CSRF


def csrf_token(page) -> str:
    """The CSRF token a rendered form carries."""
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)


FORMS = {
    "/register": registration(email="newcomer@example.com"),
    "/login": {"email": "farmer@example.com", "password": PASSWORD},
}


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
@pytest.mark.parametrize("path", FORMS)
@pytest.mark.parametrize("token", [None, "forged-token"], ids=["missing-token", "wrong-token"])
def test_a_form_without_a_valid_csrf_token_is_refused_and_changes_nothing(app, client, path, token):
    with app.app_context():
        make_user("farmer@example.com")
    client.get(path)  # the session now holds a real token, which the post does not send
    data = FORMS[path] if token is None else {**FORMS[path], "csrf_token": token}

    response = client.post(path, data=data)

    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert user_count(app) == 1
    assert not signed_in(client)


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
@pytest.mark.parametrize("path", FORMS)
def test_a_form_with_the_token_from_its_page_works(app, client, path):
    with app.app_context():
        make_user("farmer@example.com")
    token = csrf_token(client.get(path))

    response = client.post(path, data={**FORMS[path], "csrf_token": token})

    assert response.status_code == 302
    assert signed_in(client)
