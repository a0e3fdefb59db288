"""Regulars: buyers who follow a producer, and the feed of what those producers post."""

from flask import Blueprint

bp = Blueprint("regulars", __name__)
