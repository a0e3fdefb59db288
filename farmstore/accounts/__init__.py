"""Accounts: registration, sign-in, passwords, personal settings."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

from farmstore.accounts import views  # noqa: E402,F401
