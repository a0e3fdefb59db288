"""Producer profiles: an account becomes a producer by creating one."""

from flask import Blueprint

bp = Blueprint("producers", __name__)
