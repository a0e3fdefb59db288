"""Gift certificates on the pages: the credit page, the order form at a market stall, the order."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import force_locale, format_date
from sqlalchemy import select

from farmstore.extensions import db
from farmstore.referrals import services
from farmstore.referrals.models import CreditCertificate
from farmstore.sales.models import Order
from farmstore.timeutil import utcnow
from tests.catalog.conftest import make_product
from tests.factories import make_producer, make_user, make_village
from tests.sales.conftest import make_point, make_sale


def market_stall():
    """강릉 중앙시장 with one stall selling 10,000원 boxes now, and a stall at another market."""
    market = make_village("강릉 중앙시장", kind="market")
    stall = make_producer(make_user("fish@example.com"), market, farm_name="바다 건어물")
    sale = make_sale(stall, [(make_product(stall, "오징어채"), 10_000, 20, 5)], point=make_point(stall), now=utcnow())
    other = make_producer(make_user("squid@example.com"), make_village("속초 시장", kind="market"), farm_name="순대")
    other_sale = make_sale(other, [(make_product(other, "순대"), 8_000, 20, 5)], point=make_point(other), now=utcnow())
    return market, sale, other_sale


def holder(market, amount: int = 3_000, *, issued=None):
    buyer = make_user("jiyeon@example.com", display_name="지연")
    services.grant_credit(buyer, amount=amount, key=f"gift-{amount}", now=issued or utcnow(), market_id=market.id)
    return buyer


def last_day(certificate, locale: str) -> str:
    with force_locale(locale):
        return format_date(certificate.valid_through, "long")


def test_the_credit_page_shows_the_certificate_with_its_market_and_last_day(client, auth, ctx):
    market, _sale, _other = market_stall()
    buyer = holder(market)
    services.grant_credit(buyer, amount=1_000, key="old", now=utcnow() - timedelta(days=120), market_id=market.id)
    services.expire_certificates(now=utcnow())
    live, expired = sorted(db.session.scalars(select(CreditCertificate)), key=lambda c: c.expires_at, reverse=True)
    auth.login(buyer.email)

    page = client.get("/me/recommendations").text
    with force_locale("ko"):  # the English fixtures force English on the test's context
        korean = client.get("/me/recommendations").text

    assert f"강릉 중앙시장 gift certificate ₩3,000 · until {last_day(live, 'en')}" in page
    assert f"강릉 중앙시장 gift certificate · expired on {last_day(expired, 'en')}" in page
    assert f"강릉 중앙시장 상품권 3,000원 · {last_day(live, 'ko')}까지" in korean
    assert "년" in last_day(live, "ko")  # e.g. 2027년 3월 4일
    assert "상품권 유효기간 만료 · 강릉 중앙시장 상품권" in korean  # the expiry in the history


def test_the_order_form_at_the_market_offers_the_certificate_and_elsewhere_not(client, auth, ctx):
    market, sale, other_sale = market_stall()
    buyer = holder(market)
    auth.login(buyer.email)

    here = client.get(f"/sales/{sale.id}").text
    elsewhere = client.get(f"/sales/{other_sale.id}").text

    assert "Use my store credit (₩3,000)" in here
    assert "Includes 강릉 중앙시장 gift certificate ₩3,000" in here
    assert "Use my store credit" not in elsewhere


def test_paying_with_a_certificate_shows_on_the_order(client, auth, ctx):
    market, sale, _other = market_stall()
    buyer = holder(market)
    auth.login(buyer.email)
    data = {f"qty-{sale.items[0].id}": "1", "payment_method": "pickup", "checkout_key": "c1", "use_credit": "y"}

    client.post(f"/sales/{sale.id}/order", data=data)

    order = db.session.scalar(select(Order).where(Order.buyer_id == buyer.id))
    page = client.get(f"/orders/{order.id}").text
    assert "Paid from store credit" in page and "− ₩3,000" in page
    assert "of which 강릉 중앙시장 gift certificate" in page
    assert services.balance_of(buyer, producer_id=sale.producer_id, now=utcnow()) == 0


def test_an_other_member_cannot_see_my_certificates(client, auth, ctx):
    market, _sale, _other = market_stall()
    holder(market)
    someone = make_user("minho@example.com")
    auth.login(someone.email)

    assert "강릉 중앙시장" not in client.get("/me/recommendations").text
