"""Field group-buys: all-or-nothing shares of a field or an animal, settled exactly once."""

from flask import Blueprint

bp = Blueprint("groupbuys", __name__)
