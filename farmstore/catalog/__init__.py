"""Catalogue: products, each tied to the subjects it comes from."""

from flask import Blueprint

bp = Blueprint("catalog", __name__)
