"""Villages and markets: the communities producers belong to and evangelists adopt."""

from flask import Blueprint

bp = Blueprint("villages", __name__)
