"""Password hashing (Argon2id) and strength rules."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from zxcvbn import zxcvbn

from farmstore.errors import DomainError

MIN_LENGTH = 10
MAX_LENGTH = 128
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """Return an Argon2id hash of `password`."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; never raises on a malformed or foreign hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


def check_strength(password: str, *, user_inputs: list[str], field: str = "password") -> None:
    """Refuse passwords that are short, over-long or easy to guess (zxcvbn score under 3),
    judged also against the person's own email and name."""
    if len(password) < MIN_LENGTH:
        raise DomainError(_l("Use at least %(n)d characters.", n=MIN_LENGTH), field=field)
    if len(password) > MAX_LENGTH:
        raise DomainError(_l("Use at most %(n)d characters.", n=MAX_LENGTH), field=field)
    if zxcvbn(password, user_inputs=[u for u in user_inputs if u])["score"] < 3:
        raise DomainError(
            _l("This password is too easy to guess. Try a longer phrase of unrelated words."),
            field=field,
        )
