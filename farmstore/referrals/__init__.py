"""Recommendation chains: share links, chains on purchases, endorsements, store credit."""

from flask import Blueprint

bp = Blueprint("referrals", __name__)
