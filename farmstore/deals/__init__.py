"""Market day deals: one deal a day per market, coupons that tip together, redeemed at the stall."""

from flask import Blueprint

bp = Blueprint("deals", __name__)
