"""Stories: the animals, fields and hives a producer cares for, and their dated timelines."""

from flask import Blueprint

bp = Blueprint("stories", __name__)
