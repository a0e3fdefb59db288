"""Sales: time- and place-limited sales with pickup, that never sell more than exists."""

from flask import Blueprint

bp = Blueprint("sales", __name__)
