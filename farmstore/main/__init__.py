"""Site-wide pages: home, language switch, health check."""

from flask import Blueprint

bp = Blueprint("main", __name__)
