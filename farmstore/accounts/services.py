"""Account rules: registration, sign-in, password changes and resets, settings."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from farmstore.accounts.models import DISPLAY_NAME_MAX, User
from farmstore.accounts.passwords import check_strength, hash_password, needs_rehash, verify_password
from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.notifications.services import queue_email
from farmstore.urls import external_url

RESET_SALT = "farmstore.password-reset"
_UNKNOWN_ACCOUNT_HASH = hash_password("no account has this password")


def normalise_email(email: str, *, field: str = "email") -> str:
    """A syntactically valid email address, lower-cased; raises DomainError otherwise."""
    try:
        valid = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise DomainError(_l("Enter a valid email address, like name@example.com."), field=field) from None
    return valid.normalized.lower()


def clean_display_name(display_name: str) -> str:
    """The name trimmed of surrounding spaces; it must not be blank nor longer than the column,
    which PostgreSQL would refuse with an error and SQLite would silently store."""
    display_name = display_name.strip()
    if not display_name:
        raise DomainError(_l("Tell us what to call you."), field="display_name")
    if len(display_name) > DISPLAY_NAME_MAX:
        raise DomainError(_l("Use at most %(n)d characters.", n=DISPLAY_NAME_MAX), field="display_name")
    return display_name


def find_user_by_email(email: str) -> User | None:
    """The account with this email, whatever its case."""
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def register_user(*, email: str, password: str, display_name: str, locale: str | None, now: datetime) -> User:
    """Create an account. Emails are unique (case-insensitive); passwords must be strong."""
    email = normalise_email(email)
    display_name = clean_display_name(display_name)
    check_strength(password, user_inputs=[email, email.split("@")[0], display_name])
    if find_user_by_email(email) is not None:
        raise DomainError(_l("An account with this email already exists. Try signing in."), field="email")
    user = User(
        email=email,
        display_name=display_name,
        password_hash=hash_password(password),
        locale=locale if locale in current_app.config["LANGUAGES"] else None,
        created_at=now,
        password_changed_at=now,
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:  # a simultaneous registration with the same email won the race
        db.session.rollback()
        raise DomainError(_l("An account with this email already exists. Try signing in."), field="email") from None
    return user


def authenticate(*, email: str, password: str, now: datetime) -> User:
    """The account whose email and password match; one message for every failure so a
    stranger cannot learn which emails have accounts."""
    user = find_user_by_email(email)
    if user is None:
        verify_password(_UNKNOWN_ACCOUNT_HASH, password)  # same cost as a real check: no timing leak
        raise DomainError(_l("Email or password is incorrect."), field="password")
    if not user.is_active or not verify_password(user.password_hash, password):
        raise DomainError(_l("Email or password is incorrect."), field="password")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    db.session.commit()
    return user


def change_password(user: User, *, current_password: str, new_password: str, now: datetime) -> None:
    """Replace the password after checking the current one; outstanding reset links die."""
    if not verify_password(user.password_hash, current_password):
        raise DomainError(_l("Your current password is not correct."), field="current_password")
    check_strength(new_password, user_inputs=[user.email, user.display_name], field="new_password")
    _set_password(user, new_password, now)
    db.session.commit()


def _set_password(user: User, password: str, now: datetime) -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = now


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def _password_fingerprint(user: User) -> str:
    """Changes whenever the password does, so a reset link works only once."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def make_reset_token(user: User) -> str:
    """A signed token naming the account and its current password."""
    return _reset_serializer().dumps({"uid": user.id, "pw": _password_fingerprint(user)})


def request_password_reset(*, email: str, now: datetime) -> None:
    """Email a reset link if the account exists; say nothing either way (no account probing)."""
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        return
    link = external_url("accounts.reset_password", token=make_reset_token(user))
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    queue_email(
        to=user.email, template="password_reset", locale=user.locale, now=now, user=user, link=link, minutes=minutes
    )
    db.session.commit()


def user_for_reset_token(token: str) -> User:
    """The account a reset token is for, if it is genuine, unexpired and unused."""
    expired = DomainError(_l("This reset link has expired. Ask for a new one."))
    try:
        data = _reset_serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
    except SignatureExpired:
        raise expired from None
    except BadSignature:
        raise DomainError(_l("This reset link is not valid. Ask for a new one.")) from None
    user = db.session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or not user.is_active or data.get("pw") != _password_fingerprint(user):
        raise DomainError(_l("This reset link has already been used. Ask for a new one."))
    return user


def reset_password(*, token: str, new_password: str, now: datetime) -> User:
    """Set a new password through an emailed link; the link cannot be used again."""
    user = user_for_reset_token(token)
    check_strength(new_password, user_inputs=[user.email, user.display_name], field="new_password")
    _set_password(user, new_password, now)
    db.session.commit()
    return user


def normalise_phone(raw: str) -> str | None:
    """A Korean mobile number written the usual way ("010-1234-5678"), from whatever the person
    typed (spaces, dots, dashes, +82); None for an empty value. Anything else is refused."""
    digits = re.sub(r"[\s.\-()]", "", raw or "")
    if not digits:
        return None
    if digits.startswith("+82"):
        digits = "0" + digits[3:].lstrip("0")
    if not re.fullmatch(r"01[016789]\d{7,8}", digits):
        raise DomainError(_l("Enter a mobile number like 010-1234-5678."), field="phone")
    return f"{digits[:3]}-{digits[3:-4]}-{digits[-4:]}"


def save_phone(user: User, *, phone: str) -> None:
    """Remember the person's mobile number (asked once, at their first checkout)."""
    user.phone = normalise_phone(phone)
    db.session.commit()


def update_settings(user: User, *, display_name: str, locale: str | None, phone: str | None = None) -> None:
    """Change what we call the person, the language they read us in and, when `phone` is given,
    their mobile number (an empty one removes it)."""
    user.display_name = clean_display_name(display_name)
    user.locale = locale if locale in current_app.config["LANGUAGES"] else None
    if phone is not None:
        user.phone = normalise_phone(phone)
    db.session.commit()


def make_operator(email: str) -> User:
    """Give an existing account operator rights."""
    user = find_user_by_email(email)
    if user is None:
        raise DomainError(_l("No account has the email %(email)s.", email=email))
    user.is_operator = True
    db.session.commit()
    return user
