"""Payout reports for producers and operators, and the card payment page."""

from __future__ import annotations

from datetime import datetime

from flask import abort, current_app, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from farmstore.csvfile import csv_response
from farmstore.errors import DomainError, NotFound
from farmstore.extensions import csrf
from farmstore.payments import bp, services, stripe_flow, stripe_gateway
from farmstore.producers.services import get_producer
from farmstore.sales import services as sales
from farmstore.timeutil import local_to_utc, utc_to_local, utcnow
from farmstore.urls import external_url
from farmstore.web import found

# Stripe.js must be loaded from js.stripe.com and shows the card fields in frames from there, so
# this page alone allows Stripe (https://docs.stripe.com/security/guide#content-security-policy).
PAY_PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: https://*.stripe.com; style-src 'self'; "
    "script-src 'self' https://js.stripe.com https://*.js.stripe.com; "
    "frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com; "
    "connect-src 'self' https://api.stripe.com; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


def _month_bounds() -> tuple[str, datetime, datetime]:
    """The month asked for (?month=2026-11, default this month) as UTC bounds in our time zone.
    Anything that is not a month, or a month at the very ends of the calendar, means this month."""
    tz = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    try:
        return _bounds(datetime.strptime(request.args.get("month", ""), "%Y-%m"), tz)
    except (ValueError, OverflowError):  # OverflowError: 0001-01 starts before UTC's year 1
        today = utc_to_local(utcnow(), tz)
        return _bounds(datetime(today.year, today.month, 1), tz)


def _bounds(start: datetime, tz: str) -> tuple[str, datetime, datetime]:
    """The month that begins at local midnight on `start`: its label and its UTC bounds."""
    end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)  # ValueError after 9999-12
    return start.strftime("%Y-%m"), local_to_utc(start, tz), local_to_utc(end, tz)


def _producer_report(slug: str):
    try:
        producer = get_producer(slug)
    except NotFound:
        abort(404)
    if not (producer.is_owned_by(current_user) or current_user.is_operator):
        abort(403)
    month, start, end = _month_bounds()
    return month, services.payout_report(producer, start=start, end=end)


@bp.get("/producers/<slug>/payouts")
@login_required
def producer_payouts(slug: str):
    month, report = _producer_report(slug)
    return render_template("payments/payouts.html", report=report, month=month)


@bp.get("/producers/<slug>/payouts.csv")
@login_required
def producer_payouts_csv(slug: str):
    month, report = _producer_report(slug)
    filename = f"payouts-{report.producer.slug}-{month}.csv"
    return csv_response(services.payout_csv(report), filename)


@bp.get("/operator/payouts")
@login_required
def operator_payouts():
    if not current_user.is_operator:
        abort(403)
    month, start, end = _month_bounds()
    rows = services.payout_totals(start=start, end=end)
    totals = [sum(row[i] for row in rows) for i in range(1, 6)]
    return render_template("payments/operator_payouts.html", rows=rows, totals=totals, month=month)


@bp.get("/orders/<int:order_id>/pay")
@login_required
def pay_order(order_id: int):
    """The buyer pays a reserved card order with Stripe's Payment Element. Whether or not the
    browser comes back, the webhook and the tick record the payment on the order page."""
    order = found(sales.get_order, order_id)
    if order.buyer_id != current_user.id:
        abort(404)
    payment = sales.payment_of(order)
    if order.status != "reserved" or payment is None or payment.provider != "stripe":
        return redirect(url_for("sales.order", order_id=order_id))
    client_secret, error = None, None
    try:
        client_secret = stripe_flow.checkout_secret(payment, now=utcnow())
    except DomainError as failure:
        error = failure.message
    else:
        if client_secret is None:  # paid, or canceled, meanwhile
            return redirect(url_for("sales.order", order_id=order_id))
    response = make_response(
        render_template(
            "payments/pay.html", order=order, payment=payment, client_secret=client_secret, error=error,
            publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
            return_url=external_url("sales.order", order_id=order_id),
        )
    )  # fmt: skip
    return stripe_page(response)


def stripe_page(response):
    """Let Stripe.js into this one response (a card page) and keep its client secret out of caches."""
    response.headers["Content-Security-Policy"] = PAY_PAGE_CSP
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/stripe/webhook")
@csrf.exempt
def stripe_webhook():
    """Stripe's events. A forged or stale signature gets 400 and changes nothing; events we do
    not need, and ones already processed, get 200."""
    try:
        event = stripe_gateway.construct_event(request.get_data(), request.headers.get("Stripe-Signature"))
    except stripe_gateway.InvalidWebhook:
        return {"error": "invalid signature"}, 400
    stripe_flow.handle_event(event, now=utcnow())
    return {"received": True}
