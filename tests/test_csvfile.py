"""CSV exports open right in Excel on Korean Windows (issue 13): BOM, Korean headers for a Korean
reader, times in Asia/Seoul, and formula-looking cells made inert."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from farmstore.csvfile import csv_text, inert, local_time
from farmstore.extensions import db
from farmstore.payments.services import payout_csv, payout_report
from farmstore.sales.services import check_in
from tests.sales.conftest import build_farm, buy, make_sale


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+82 10", "'+82 10"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("이하나", "이하나"),
        (-720, -720),
        (12_000, 12_000),
        (None, ""),
    ],
)
def test_cells_that_look_like_formulas_are_made_inert(value, cell):
    assert inert(value) == cell


def test_times_are_written_in_seoul(ctx):
    assert local_time(datetime(2025, 6, 1, 15, 30, tzinfo=UTC)) == "2025-06-02 00:30"


def test_the_file_starts_with_a_bom_and_parses_back(ctx):
    text = csv_text(["이름", "금액"], [['=HYPERLINK("x")', -5], ["지연", 3]])
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows == [["이름", "금액"], ['\'=HYPERLINK("x")', "-5"], ["지연", "3"]]


def test_a_korean_producer_gets_korean_headers_and_a_buyer_named_like_a_formula_is_inert(app, client, auth):
    with app.app_context():
        farm = build_farm()
        farm.buyer.display_name = "=cmd|'/c calc'!A1"
        farm.buyer.phone = "010-1111-2222"
        db.session.commit()
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        sale = make_sale(farm.producer, [(farm.kimchi, 12_000, 5, 2)], point=farm.point, now=now)
        buy(sale, farm.buyer, 1, now=now)
        sale_id = sale.id
    auth.login("owner@example.com")
    response = client.get(f"/sales/{sale_id}/roster.csv", headers={"Accept-Language": "ko"})
    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    assert response.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff"))))
    assert rows[0][:4] == ["픽업 코드", "이름", "전화번호", "상태"]
    assert rows[1][1] == "'=cmd|'/c calc'!A1"
    assert rows[1][2] == "010-1111-2222"


def test_each_payout_row_names_its_order_and_buyer(ctx):
    farm = build_farm()
    now = datetime(2025, 6, 2, 3, 0, tzinfo=UTC)
    sale = make_sale(farm.producer, [(farm.kimchi, 12_000, 5, 2)], point=farm.point, now=now)
    order = buy(sale, farm.buyer, 1, now=now)
    check_in(sale=sale, code=order.pickup_code, by=farm.producer.user, now=sale.pickup_starts_at)
    report = payout_report(farm.producer, start=now - timedelta(days=1), end=now + timedelta(days=1))
    rows = list(csv.reader(io.StringIO(payout_csv(report).removeprefix("\ufeff"))))
    body = rows[1 : rows.index([])]
    assert body and all(row[2] == f"주문 #{order.id}" and row[3] == "이하나" for row in body)
    assert {row[0] for row in body} == {"2025-06-02 15:00"}  # pickup at 15:00 in Seoul
