"""Payout reports for producers and operators, and the card payment page."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from farmstore.csvfile import csv_response
from farmstore.errors import DomainError, NotFound
from farmstore.extensions import csrf
from farmstore.payments import bp, services, stripe_flow, stripe_gateway, toss_flow, toss_gateway
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
# Toss's widget script comes from js.tosspayments.com and shows its payment methods and agreement
# in frames from *.tosspayments.com; easy-pay sign-in happens in those frames too. This page alone
# allows Toss (https://docs.tosspayments.com/guides/v2/payment-widget/integration), and the host of
# TOSS_SCRIPT_URL when it is another one (a local stand-in in tests).
TOSS_PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: https://*.tosspayments.com https://static.toss.im; "
    "style-src 'self'; script-src 'self' https://js.tosspayments.com{script_host}; "
    "frame-src https://*.tosspayments.com https://*.toss.im; "
    "connect-src 'self' https://*.tosspayments.com; "
    "form-action 'self' https://*.tosspayments.com; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


def toss_page_csp(script_url: str) -> str:
    """The Toss page's Content-Security-Policy for the configured widget script."""
    parts = urlsplit(script_url)
    host = f"{parts.scheme}://{parts.netloc}"
    return TOSS_PAGE_CSP.format(script_host="" if host == "https://js.tosspayments.com" else f" {host}")


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
    if order.status == "reserved" and payment is not None and payment.provider == "toss":
        return _toss_pay_page(order, payment)
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


def _buyers_reserved_order(order_id: int):
    """The signed-in buyer's order and its Toss payment, or 404."""
    order = found(sales.get_order, order_id)
    payment = sales.payment_of(order)
    if order.buyer_id != current_user.id or payment is None or payment.provider != "toss":
        abort(404)
    return order, payment


def _toss_pay_page(order, payment):
    """The Toss payment widget for a reserved order: amount and order id from our database."""
    return toss_widget_page(
        "payments/pay_toss.html", payment, order_name=toss_flow.order_name(order),
        success_url=external_url("payments.toss_success", order_id=order.id),
        fail_url=external_url("payments.toss_fail", order_id=order.id), order=order,
    )  # fmt: skip


def toss_widget_page(template: str, payment, *, order_name: str, success_url: str, fail_url: str, **context):
    """A page with Toss's payment widget for `payment` (see _partials/_toss_widget.html), which
    alone lets Toss in through its Content-Security-Policy."""
    config = current_app.config
    response = make_response(
        render_template(
            template, payment=payment, client_key=config["TOSS_CLIENT_KEY"], script_url=config["TOSS_SCRIPT_URL"],
            toss_order_id=toss_flow.order_id(payment), order_name=order_name, success_url=success_url,
            fail_url=fail_url, **context,
        )
    )  # fmt: skip
    return toss_page(response)


def toss_page(response):
    """Let Toss's script and frames into this one response and keep it out of caches."""
    response.headers["Content-Security-Policy"] = toss_page_csp(current_app.config["TOSS_SCRIPT_URL"])
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/orders/<int:order_id>/pay/toss/success")
@login_required
def toss_success(order_id: int):
    """Toss sends the buyer here after the widget; only our confirm call takes the money."""
    order, payment = _buyers_reserved_order(order_id)
    try:
        toss_flow.confirm(
            payment, payment_key=request.args.get("paymentKey", ""), toss_order_id=request.args.get("orderId", ""),
            amount=request.args.get("amount", ""), now=utcnow(),
        )  # fmt: skip
    except DomainError as failure:
        return _toss_failed(order, failure.message)
    flash(_("Thank you! Your payment arrived and your order is confirmed."), "success")
    return redirect(url_for("sales.order", order_id=order_id))


@bp.get("/orders/<int:order_id>/pay/toss/fail")
@login_required
def toss_fail(order_id: int):
    """Toss sends the buyer here when the widget did not finish (cancelled, declined, timed out)."""
    order, _payment = _buyers_reserved_order(order_id)
    return _toss_failed(order, toss_flow.failure_message(request.args.get("code", ""), request.args.get("message", "")))


def _toss_failed(order, message: str):
    """Say what happened; the buyer may try again while the order still holds the items."""
    return render_template("payments/toss_failed.html", order=order, message=message)


@bp.post("/payments/toss/webhook")
@csrf.exempt
def toss_webhook():
    """Toss's PAYMENT_STATUS_CHANGED webhooks, checked against Toss's API (they are not signed).
    Events we do not need, payments not ours and replays get 200; a payment Toss does not know
    gets 400; Toss unreachable 503, so Toss delivers again later."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return {"error": "invalid body"}, 400
    try:
        toss_flow.handle_webhook(body, now=utcnow())
    except toss_gateway.TossError as error:
        return ({"error": "unavailable"}, 503) if error.retryable else ({"error": "unknown payment"}, 400)
    return {"received": True}
