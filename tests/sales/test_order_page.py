"""The order page (issue 13): a cancelled order shows no pickup code, QR code or calendar link; the
producer reading a buyer's order sees producer wording; check-in waits for the pickup window."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.sales.models import Order, SaleItem
from farmstore.sales.services import check_in
from tests.sales.conftest import HOUR, NOW, buy, make_sale
from tests.sales.test_views import live_sale, order_form, page


@pytest.fixture
def sale(app, farm):
    with app.app_context():
        return live_sale(farm)


def the_order(app) -> Order:
    with app.app_context():
        order = db.session.scalar(select(Order))
        db.session.expunge(order)
        return order


def test_a_cancelled_order_shows_no_pickup_code_qr_or_calendar(app, client, auth, sale):
    auth.login("buyer@example.com")
    client.post(f"{sale.url}/order", data=order_form(sale, kimchi=1))
    order = the_order(app)
    html = page(client.get(f"/orders/{order.id}"))
    assert 'class="pickup-code"' in html and "pickup.ics" in html and "<svg" in html

    client.post(f"/orders/{order.id}/cancel")
    html = page(client.get(f"/orders/{order.id}"))
    assert order.pickup_code not in html
    assert 'class="pickup-code"' not in html and "pickup.ics" not in html and "<svg" not in html
    assert "Cancelled" in html
    assert client.get(f"/orders/{order.id}/pickup.ics").status_code == 404


def test_the_producer_reads_a_buyers_order_in_producer_words(app, client, auth, sale):
    auth.login("buyer@example.com")
    client.post(f"{sale.url}/order", data=order_form(sale, kimchi=1))
    assert "Your pickup code" in page(client.get(f"/orders/{the_order(app).id}"))
    auth.logout()
    auth.login("owner@example.com")
    html = page(client.get(f"/orders/{the_order(app).id}"))
    assert "Your pickup code" not in html and "Cancel my order" not in html
    assert "Order of 이하나" in html
    assert "pickup.ics" not in html
    korean = page(client.get(f"/orders/{the_order(app).id}", headers={"Accept-Language": "ko"}))
    assert "내 픽업 코드" not in korean


def test_check_in_before_the_pickup_window_is_refused_with_a_message(shop):
    sale = make_sale(shop.producer, [(shop.kimchi, 12_000, 5, 2)], point=shop.point)
    order = buy(sale, shop.buyer, 1)
    with pytest.raises(DomainError) as refused:
        check_in(sale=sale, code=order.pickup_code, by=shop.producer.user, now=sale.pickup_starts_at - HOUR)
    assert "check-in opens then" in str(refused.value.message)
    assert refused.value.field == "code"
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "confirmed"
    check_in(sale=sale, code=order.pickup_code, by=shop.producer.user, now=sale.pickup_starts_at)
    assert db.session.get(Order, order.id).status == "picked_up"
    assert sale.pickup_starts_at > NOW


def test_the_roster_refuses_an_early_check_in_on_the_form(app, client, auth, sale):
    auth.login("buyer@example.com")
    client.post(f"{sale.url}/order", data=order_form(sale, kimchi=1))
    auth.logout()
    auth.login("owner@example.com")
    response = client.post(f"{sale.url}/roster", data={"code": the_order(app).pickup_code})
    assert response.status_code == 200
    assert "check-in opens then" in page(response)
    assert the_order(app).status == "confirmed"


def test_the_sale_progress_json_says_what_is_left(app, client, sale):
    with app.app_context():
        db.session.get(SaleItem, sale.kimchi).quantity_taken = 4
        db.session.commit()
    data = client.get(f"{sale.url}/progress.json").get_json()
    assert data["remaining"][str(sale.kimchi)] == 6
    assert data["items"][str(sale.kimchi)] == "6 of 10 left · up to 2 per person"
    assert data["status"] == "open"
