"""The checkout's review step and the buyer's phone number (issue 13).

The sale page's form goes to /sales/<id>/review, which shows quantity, total, pickup place and
window and the way of paying, and takes nothing; only confirming (POST /sales/<id>/order) takes
the stock. The phone is asked there once, stored on the account normalised, shown to the producer
on the roster and the group-buy allocation sheet, never on a public page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from farmstore.accounts.models import User
from farmstore.accounts.services import normalise_phone
from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.sales.models import Order, SaleItem
from farmstore.sales.services import review_order
from tests.sales.conftest import NOW, make_sale
from tests.sales.test_views import live_sale, order_form, page


@pytest.fixture
def sale(app, farm):
    """A sale open now (see `live_sale`)."""
    with app.app_context():
        return live_sale(farm)


def buyer_phone(app, email: str = "buyer@example.com") -> str | None:
    with app.app_context():
        return db.session.scalar(select(User.phone).where(User.email == email))


def order_count(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(Order.id)).all())


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("010-1234-5678", "010-1234-5678"),
        ("01012345678", "010-1234-5678"),
        (" 010 1234 5678 ", "010-1234-5678"),
        ("010.1234.5678", "010-1234-5678"),
        ("+82 10-1234-5678", "010-1234-5678"),
        ("011-123-4567", "011-123-4567"),
        ("", None),
    ],
)
def test_phone_numbers_are_normalised(ctx, typed, stored):
    assert normalise_phone(typed) == stored


@pytest.mark.parametrize(
    "typed", ["02-123-4567", "010-1234", "010-1234-56789", "phone", "010-12a4-5678", "+1 555 1234"]
)
def test_anything_but_a_korean_mobile_number_is_refused(ctx, typed):
    with pytest.raises(DomainError) as error:
        normalise_phone(typed)
    assert error.value.field == "phone"


def test_the_review_computes_the_total_and_takes_nothing(shop):
    made = make_sale(shop.producer, [(shop.kimchi, 12_000, 5, 3), (shop.radish, 8_000, 5, 3)], point=shop.point)
    kimchi, radish = made.items
    review = review_order(sale=made, buyer=shop.buyer, quantities={kimchi.id: 2, radish.id: 1}, now=NOW)
    assert [(item.id, q, line) for item, q, line in review.lines] == [(kimchi.id, 2, 24_000), (radish.id, 1, 8_000)]
    assert (review.total, review.credit, review.to_pay, review.payment_method) == (32_000, 0, 32_000, "pickup")
    db.session.expire_all()
    assert db.session.get(SaleItem, kimchi.id).quantity_taken == 0
    with pytest.raises(DomainError):
        review_order(sale=made, buyer=shop.buyer, quantities={kimchi.id: 4}, now=NOW)  # over the limit
    with pytest.raises(DomainError):
        review_order(sale=made, buyer=shop.producer.user, quantities={kimchi.id: 1}, now=NOW)  # own sale


def test_the_review_page_shows_the_order_and_confirming_places_it(app, client, auth, sale):
    auth.login("buyer@example.com")
    response = client.post(f"{sale.url}/review", data=order_form(sale, kimchi=2, radish=1))
    assert response.status_code == 200
    html = page(response)
    assert "× 2" in html and "× 1" in html
    assert "₩32,000" in html  # 2 × 12,000 + 8,000
    assert "망원시장 동문" in html  # the pickup place
    assert "At pickup (cash or bank transfer)" in html
    assert 'name="phone"' in html  # asked: the account has no phone yet
    assert f'action="{sale.url}/order"' in html
    assert order_count(app) == 0

    confirm = order_form(sale, kimchi=2, radish=1) | {"phone": "010 2222 3333"}
    response = client.post(f"{sale.url}/order", data=confirm)
    assert response.status_code == 302 and "/orders/" in response.headers["Location"]
    assert order_count(app) == 1
    assert buyer_phone(app) == "010-2222-3333"

    auth.logout()
    auth.login("second@example.com")
    assert 'name="phone"' in page(client.post(f"{sale.url}/review", data=order_form(sale, kimchi=1)))
    auth.logout()
    auth.login("buyer@example.com")
    client.post(f"/orders/{orders_id(app)}/cancel")
    assert 'name="phone"' not in page(client.post(f"{sale.url}/review", data=order_form(sale, kimchi=1)))


def orders_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Order.id))


def test_a_bad_phone_keeps_the_review_with_a_message_and_orders_nothing(app, client, auth, sale):
    auth.login("buyer@example.com")
    response = client.post(f"{sale.url}/order", data=order_form(sale, kimchi=1) | {"phone": "02-123-4567"})
    assert response.status_code == 200
    assert "Enter a mobile number like 010-1234-5678." in page(response)
    assert order_count(app) == 0 and buyer_phone(app) is None


def test_a_review_with_bad_quantities_goes_back_to_the_sale_with_a_message(app, client, auth, sale):
    auth.login("buyer@example.com")
    response = client.post(f"{sale.url}/review", data=order_form(sale, kimchi=5), follow_redirects=True)
    assert "You can order at most 2 of 배추김치." in page(response)
    assert order_count(app) == 0


def test_the_review_needs_a_signed_in_buyer(client, sale):
    response = client.post(f"{sale.url}/review", data=order_form(sale, kimchi=1))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_phone_is_on_the_roster_for_the_producer_and_nowhere_public(app, client, auth, sale):
    auth.login("buyer@example.com")
    client.post(f"{sale.url}/order", data=order_form(sale, kimchi=1) | {"phone": "01055556666"})
    auth.logout()
    assert "010-5555-6666" not in page(client.get(sale.url))
    auth.login("owner@example.com")
    assert "010-5555-6666" in page(client.get(f"{sale.url}/roster"))
    assert "010-5555-6666" not in page(client.get(sale.url))


def test_the_phone_is_edited_in_the_account_settings(app, client, auth, farm):
    auth.login("buyer@example.com")
    response = client.post("/account", data={"display_name": "이하나", "locale": "", "phone": "010.7777.8888"})
    assert response.status_code == 302
    assert buyer_phone(app) == "010-7777-8888"
    assert "010-7777-8888" in page(client.get("/account"))
    response = client.post("/account", data={"display_name": "이하나", "locale": "", "phone": "12345"})
    assert "Enter a mobile number like 010-1234-5678." in page(response)
    assert buyer_phone(app) == "010-7777-8888"
    client.post("/account", data={"display_name": "이하나", "locale": "", "phone": ""})
    assert buyer_phone(app) is None
