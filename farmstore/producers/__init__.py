"""Producer profiles: an account becomes a producer by creating one."""

from flask import Blueprint

bp = Blueprint("producers", __name__)

from farmstore.producers import views  # noqa: E402,F401
