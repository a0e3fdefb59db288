"""Evangelists: adoption of one village, onboarding its producers, their dashboard; operators' pages."""

from flask import Blueprint

bp = Blueprint("evangelists", __name__)
