"""The ledger is append-only, and payout reports come straight from it: gross − refunds − fees
is the net, the net is the sum of the ledger rows, to the won, per producer and per month."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from farmstore.extensions import db
from farmstore.payments.models import LedgerEntry
from farmstore.payments.services import payout_csv, payout_report, payout_totals
from farmstore.timeutil import local_to_utc
from tests.factories import make_producer
from tests.ledger.conftest import NOW, kst, ledger_rows, ledger_sum, month_of_money, paid_payment

JUNE = (local_to_utc(datetime(2025, 6, 1), "Asia/Seoul"), local_to_utc(datetime(2025, 7, 1), "Asia/Seoul"))


def test_a_ledger_row_cannot_be_changed(ctx):
    entry = ledger_rows(payment_id=paid_payment(make_producer(), 10_000).id)[0]

    entry.amount = 1
    with pytest.raises(RuntimeError, match=rf"ledger entry {entry.id} is append-only"):
        db.session.commit()
    db.session.rollback()

    assert db.session.scalar(select(LedgerEntry.amount).where(LedgerEntry.id == entry.id)) == 10_000


def test_a_ledger_row_cannot_be_deleted(ctx):
    payment = paid_payment(make_producer(), 10_000)
    entry = ledger_rows(payment_id=payment.id)[0]

    db.session.delete(entry)
    with pytest.raises(RuntimeError, match=rf"ledger entry {entry.id} is append-only"):
        db.session.commit()
    db.session.rollback()

    assert len(ledger_rows(payment_id=payment.id)) == 2


def test_the_same_event_cannot_be_written_twice(ctx):
    payment = paid_payment(make_producer(), 10_000)

    replay = LedgerEntry(
        key=f"payment:{payment.id}", producer_id=payment.producer_id, payment_id=payment.id, kind="payment",
        amount=10_000, currency="KRW", occurred_at=NOW,
    )  # fmt: skip
    db.session.add(replay)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()

    assert ledger_sum(payment_id=payment.id) == 10_000 - 300


def test_the_payout_report_is_gross_minus_refunds_minus_fees_and_the_sum_of_the_ledger(ctx):
    money = month_of_money()

    report = payout_report(money.farm, start=JUNE[0], end=JUNE[1])

    assert (report.gross, report.refunds, report.fees, report.net) == (
        money.june_gross,
        money.june_refunds,
        money.june_fees,
        money.june_net,
    )
    assert report.net == report.gross - report.refunds - report.fees
    in_june = [e for e in ledger_rows(producer_id=money.farm.id) if JUNE[0] <= e.occurred_at < JUNE[1]]
    assert report.net == sum(e.amount for e in in_june)
    assert [e.id for e in report.entries] == [e.id for e in in_june]
    assert {e.payment_id for e in report.entries} == {p.id for p in money.june_payments}


def test_each_month_holds_its_own_rows_and_the_months_add_up_to_the_whole_ledger(ctx):
    money = month_of_money()
    months = [(kst(2025, m, 1, 0, 0), kst(2025, m + 1, 1, 0, 0)) for m in (5, 6, 7)]

    reports = [payout_report(money.farm, start=start, end=end) for start, end in months]

    assert [r.gross for r in reports] == [3_000, money.june_gross, 4_000]
    assert [r.refunds for r in reports] == [0, money.june_refunds, 2_000]
    assert sum(r.net for r in reports) == ledger_sum(producer_id=money.farm.id)
    assert sum(len(r.entries) for r in reports) == len(ledger_rows(producer_id=money.farm.id))


def test_a_month_without_money_reports_zeros(ctx):
    producer = make_producer()

    report = payout_report(producer, start=JUNE[0], end=JUNE[1])

    assert (report.gross, report.refunds, report.fees, report.net, report.entries) == (0, 0, 0, 0, [])


def test_the_csv_lists_the_reports_rows_and_totals(ctx):
    money = month_of_money()
    report = payout_report(money.farm, start=JUNE[0], end=JUNE[1])

    text = payout_csv(report)
    assert text.startswith("\ufeff")  # UTF-8 with a byte-order mark, for Excel
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))

    header, body = rows[0], rows[1 : 1 + len(report.entries)]
    assert header == ["Time", "Kind", "Reference", "Buyer", "Payment", "Refund", "Amount", "Currency"]
    kinds = {"payment": "Payment", "refund": "Refund", "fee": "Platform fee", "fee_reversal": "Fee returned"}
    assert [[row[1], row[4], row[5], row[6], row[7]] for row in body] == [
        [kinds[e.kind], str(e.payment_id), str(e.refund_id or ""), str(e.amount), "KRW"] for e in report.entries
    ]
    seoul = [e.occurred_at.astimezone(ZoneInfo("Asia/Seoul")).strftime("%Y-%m-%d %H:%M") for e in report.entries]
    assert [row[0] for row in body] == seoul
    assert all(row[2] == "" or re.fullmatch(r"(Order|Pledge) #\d+", row[2]) for row in body)
    assert rows[1 + len(report.entries)] == []
    totals = {row[0]: int(row[6]) for row in rows[2 + len(report.entries) :]}
    assert totals == {
        "Gross": report.gross, "Refunds": report.refunds, "Platform fees": report.fees,
        "Recommendation rewards": report.rewards, "Net": report.net,
    }  # fmt: skip
    assert sum(int(row[6]) for row in body) == totals["Net"] == money.june_net


def test_operator_totals_are_each_producers_report(ctx):
    money = month_of_money()

    rows = payout_totals(start=JUNE[0], end=JUNE[1])

    reports = [payout_report(p, start=JUNE[0], end=JUNE[1]) for p in (money.farm, money.neighbour)]
    assert rows == [(r.producer, r.gross, r.refunds, r.fees, r.rewards, r.net) for r in reports]
    assert rows[1][1:] == (50_000, 1_234, 1_500 - 37, 0, 50_000 - 1_234 - 1_463)
    assert sum(row[5] for row in rows) == sum(e.amount for e in ledger_rows() if JUNE[0] <= e.occurred_at < JUNE[1])
