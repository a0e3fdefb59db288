"""Payments: one layer for sales and group-buys. Pay-at-pickup by default, Stripe for cards;
every movement of money is a row in an append-only ledger."""

from flask import Blueprint

bp = Blueprint("payments", __name__)
