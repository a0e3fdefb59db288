"""Accounts: registration, sign-in, passwords, personal settings."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)
