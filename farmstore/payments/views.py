"""Payout reports for producers and operators, and the card payment page."""

from __future__ import annotations

from datetime import datetime

from flask import Response, abort, current_app, render_template, request
from flask_login import current_user, login_required

from farmstore.errors import NotFound
from farmstore.payments import bp, services
from farmstore.producers.services import get_producer
from farmstore.timeutil import local_to_utc, utc_to_local, utcnow


def _month_bounds() -> tuple[str, datetime, datetime]:
    """The month asked for (?month=2026-11, default this month) as UTC bounds in our time zone."""
    tz = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    today = utc_to_local(utcnow(), tz)
    try:
        start = datetime.strptime(request.args.get("month", ""), "%Y-%m")
    except ValueError:
        start = datetime(today.year, today.month, 1)
    end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
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
    return Response(
        services.payout_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/operator/payouts")
@login_required
def operator_payouts():
    if not current_user.is_operator:
        abort(403)
    month, start, end = _month_bounds()
    rows = services.payout_totals(start=start, end=end)
    totals = [sum(row[i] for row in rows) for i in range(1, 5)]
    return render_template("payments/operator_payouts.html", rows=rows, totals=totals, month=month)
