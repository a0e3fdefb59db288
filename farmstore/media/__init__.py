"""Photos: verified, re-encoded without EXIF, stored in a few sizes behind a storage interface."""

from flask import Blueprint

bp = Blueprint("media", __name__)
