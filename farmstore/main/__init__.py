"""Site-wide pages: home, language switch, health check."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from farmstore.main import views  # noqa: E402,F401
