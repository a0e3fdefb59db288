"""Inquiries: buyers' questions and complaints to producers, answered by the producer or their evangelist."""

from flask import Blueprint

bp = Blueprint("inquiries", __name__)
