"""Payout pages: a producer sees their own month (page and CSV), operators see every producer;
months are Seoul calendar months; nobody else gets in."""

from __future__ import annotations

import csv
import io
import re
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest

from farmstore.payments.services import payout_csv, payout_report, refund
from farmstore.timeutil import utc_to_local, utcnow
from tests.factories import PASSWORD, make_producer, make_user
from tests.ledger.conftest import kst, month_of_money, paid_payment


def summary(html: str) -> dict[str, str]:
    """The figures of a payout page's summary table, by label."""
    table = re.search(r'<table class="lines summary">(.*?)</table>', html, re.S).group(1)
    return dict(re.findall(r'<tr[^>]*><td>([^<]+)</td><td class="num">([^<]+)</td></tr>', table))


def csv_payment_ids(body: str) -> set[int]:
    """The payments a payout CSV has ledger rows for."""
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    return {int(row[4]) for row in rows[1 : rows.index([])]}


def test_a_producer_sees_their_months_payout(client, auth, ctx):
    money = month_of_money()
    auth.login(money.farm.user.email)

    response = client.get(f"/producers/{money.farm.slug}/payouts?month=2025-06")

    assert response.status_code == 200
    assert summary(response.text) == {
        "Gross sales": "₩53,776",
        "Refunds": "− ₩14,999",
        "Platform fee": "− ₩1,163",
        "Recommendation rewards": "− ₩0",
        "Net payout": "₩37,614",
    }
    assert 'value="2025-06"' in response.text


def test_the_csv_download_is_the_report(client, auth, ctx):
    money = month_of_money()
    auth.login(money.farm.user.email)

    response = client.get(f"/producers/{money.farm.slug}/payouts.csv?month=2025-06")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="payouts-elm-valley-farm-2025-06.csv"' in response.headers["Content-Disposition"]
    report = payout_report(money.farm, start=kst(2025, 6, 1, 0, 0), end=kst(2025, 7, 1, 0, 0))
    assert response.text == payout_csv(report)
    assert response.text.splitlines()[-1] == f"Net,,,,,,{money.june_net},"


def test_months_follow_the_seoul_calendar(client, auth, ctx):
    money = month_of_money()
    auth.login(money.farm.user.email)
    may, july = money.outside_june

    june = csv_payment_ids(client.get(f"/producers/{money.farm.slug}/payouts.csv?month=2025-06").text)
    following = csv_payment_ids(client.get(f"/producers/{money.farm.slug}/payouts.csv?month=2025-07").text)
    previous = csv_payment_ids(client.get(f"/producers/{money.farm.slug}/payouts.csv?month=2025-05").text)

    assert june == {p.id for p in money.june_payments}  # 00:00 on 1 June and 23:30 on 30 June included
    assert previous == {may.id}  # 23:59 on 31 May
    assert following == {july.id, money.june_payments[1].id}  # 00:30 on 1 July, and July's refund of a June sale


def test_december_ends_at_midnight_on_new_years_eve_in_seoul(client, auth, ctx):
    producer = make_producer()
    late = paid_payment(producer, 8_000, now=kst(2025, 12, 31, 23, 30))
    new_year = paid_payment(producer, 2_000, now=kst(2026, 1, 1, 0, 0))
    auth.login(producer.user.email)

    december = client.get(f"/producers/{producer.slug}/payouts.csv?month=2025-12").text
    january = client.get(f"/producers/{producer.slug}/payouts.csv?month=2026-01").text

    assert (csv_payment_ids(december), csv_payment_ids(january)) == ({late.id}, {new_year.id})


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "2025-13", "june", ""])
def test_a_month_out_of_range_shows_the_current_month(client, auth, ctx, month):
    producer = make_producer()
    auth.login(producer.user.email)

    page = client.get(f"/producers/{producer.slug}/payouts?month={month}")
    download = client.get(f"/producers/{producer.slug}/payouts.csv?month={month}")

    assert (page.status_code, download.status_code) == (200, 200)
    assert f'value="{utc_to_local(utcnow(), "Asia/Seoul"):%Y-%m}"' in page.text
    assert summary(page.text)["Net payout"] == "₩0"


@pytest.mark.parametrize("path", ["/producers/{slug}/payouts", "/producers/{slug}/payouts.csv"])
@pytest.mark.parametrize(
    ("who", "status"), [("owner", 200), ("operator", 200), ("other producer", 403), ("buyer", 403)]
)
def test_only_the_producer_and_operators_see_a_payout(client, auth, ctx, path, who, status):
    money = month_of_money()
    user = {
        "owner": money.farm.user,
        "operator": make_user(is_operator=True),
        "other producer": money.neighbour.user,
        "buyer": make_user(),
    }[who]
    auth.login(user.email)

    response = client.get(path.format(slug=money.farm.slug) + "?month=2025-06")

    assert response.status_code == status
    assert bool(re.search(r"\b37,?614\b", response.text)) == (status == 200)


def test_signed_out_visitors_are_sent_to_sign_in_and_unknown_farms_are_not_found(client, auth, ctx):
    producer = make_producer()

    assert client.get(f"/producers/{producer.slug}/payouts").headers["Location"].startswith("/login")
    auth.login(producer.user.email)
    assert client.get("/producers/no-such-farm/payouts").status_code == 404


def test_operators_see_totals_across_producers(client, auth, ctx):
    month_of_money()
    auth.login(make_user(is_operator=True).email)

    response = client.get("/operator/payouts?month=2025-06")

    assert response.status_code == 200
    rows = re.findall(r"<tr><td><a [^>]*>([^<]+)</a></td>(.*?)</tr>", response.text, re.S)
    figures = {name: re.findall(r'<td class="num">([^<]+)</td>', cells) for name, cells in rows}
    assert figures == {
        "Elm Valley Farm": ["₩53,776", "₩14,999", "₩1,163", "₩0", "₩37,614"],
        "Pine Hill Tea": ["₩50,000", "₩1,234", "₩1,463", "₩0", "₩47,303"],
    }
    total = re.search(r'<tr class="total"><td>Total</td>(.*?)</tr>', response.text).group(1)
    assert re.findall(r'<td class="num">([^<]+)</td>', total) == ["₩103,776", "₩16,233", "₩2,626", "₩0", "₩84,917"]


@pytest.mark.parametrize("who", ["producer", "buyer"])
def test_only_operators_see_totals_across_producers(client, auth, ctx, who):
    user = make_producer().user if who == "producer" else make_user()
    auth.login(user.email)

    assert client.get("/operator/payouts").status_code == 403


def test_a_farm_with_a_korean_name_downloads_its_csv_over_http(live_server, ctx):
    producer = make_producer(farm_name="느릅골 한우농장")
    payment = paid_payment(producer, 12_000, now=kst(2025, 6, 20))
    refund(payment, amount=2_000, reason="한 팩 파손", by=producer.user, now=kst(2025, 6, 21))
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    form = urllib.parse.urlencode({"email": producer.user.email, "password": PASSWORD}).encode()
    browser.open(f"{live_server}/login", data=form, timeout=10)

    url = f"{live_server}/producers/{urllib.parse.quote(producer.slug)}/payouts.csv?month=2025-06"
    with browser.open(url, timeout=10) as response:
        disposition, body = response.headers["Content-Disposition"], response.read().decode()

    assert "filename*=UTF-8''payouts-%EB%8A%90%EB%A6%85%EA%B3%A8-" in disposition
    assert body.splitlines()[-1] == f"정산액,,,,,,{12_000 - 360 - 2_000 + 60},"
