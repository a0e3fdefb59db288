"""Sale pages through the test client: announcing a sale, ordering with bad or tampered input,
the order page with its pickup code, QR code and calendar file, the roster with check-in and CSV,
cancelling, the waitlist, demand by area, and who may see what.

The views ask the real clock for the time, so these sales are placed around it."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from html import unescape
from types import SimpleNamespace
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from farmstore.accounts.models import User
from farmstore.catalog.models import Product
from farmstore.extensions import db
from farmstore.notifications.services import deliver_due_messages
from farmstore.producers.models import Producer
from farmstore.sales.models import Order, PickupPoint, Sale, SaleItem, WaitlistEntry
from farmstore.sales.services import cancel_order
from farmstore.timeutil import utcnow
from tests.sales.conftest import HOUR, buy, make_sale, payment_for, set_taken, stock

SEOUL = ZoneInfo("Asia/Seoul")


def live_sale(
    farm, *, quantity: int = 10, limit: int = 2, moved: timedelta = timedelta(0), **windows
) -> SimpleNamespace:
    """A sale of the farm placed around the real clock (open now unless `moved` or `windows` say
    otherwise): 배추김치 `quantity` × 12,000 won, `limit` per buyer, and 깍두기 5 × 8,000 won."""
    now = utcnow().replace(second=0, microsecond=0) + moved
    producer = db.session.get(Producer, farm.producer_id)
    sale = make_sale(
        producer,
        [
            (db.session.get(Product, farm.kimchi_id), 12_000, quantity, limit),
            (db.session.get(Product, farm.radish_id), 8_000, 5, 3),
        ],
        point=db.session.get(PickupPoint, farm.point_id),
        now=now,
        **windows,
    )
    return SimpleNamespace(id=sale.id, kimchi=sale.items[0].id, radish=sale.items[1].id, url=f"/sales/{sale.id}")


@pytest.fixture
def sale(app, farm) -> SimpleNamespace:
    """A sale open now (see `live_sale`)."""
    with app.app_context():
        return live_sale(farm)


def order_form(sale, *, kimchi=0, radish=0, key: str = "checkout-1", **extra) -> dict:
    """What the sale page's order form posts."""
    return {
        f"qty-{sale.kimchi}": kimchi,
        f"qty-{sale.radish}": radish,
        "checkout_key": key,
        "payment_method": "pickup",
    } | extra


def page(response) -> str:
    """The response body as text, entities unescaped."""
    return unescape(response.get_data(as_text=True))


def orders_of(app, email: str) -> list[Order]:
    """The orders of the user with this email (expunged, for reading outside a context)."""
    with app.app_context():
        buyer = db.session.scalar(select(User).where(User.email == email))
        orders = list(db.session.scalars(select(Order).where(Order.buyer_id == buyer.id)))
        for order in orders:
            order.lines  # noqa: B018 (loaded before the context ends)
        db.session.expunge_all()
        return orders


# ---------------------------------------------------------------- who may do what


def producer_only_pages(farm, sale) -> list[tuple[str, str, dict]]:
    """(method, url, data) of every page and action only the sale's producer may use."""
    return [
        ("get", f"/producers/{farm.slug}/sales/new", {}),
        ("post", f"/producers/{farm.slug}/sales/new", {"title": "가짜"}),
        ("get", f"/producers/{farm.slug}/pickup-points", {}),
        ("post", f"/producers/{farm.slug}/pickup-points", {"name": "가짜", "address": "어딘가", "area": "마포구"}),
        ("get", f"/producers/{farm.slug}/sales", {}),
        ("get", f"/sales/{sale.id}/roster", {}),
        ("post", f"/sales/{sale.id}/roster", {"code": "ACDEFG"}),
        ("get", f"/sales/{sale.id}/roster.csv", {}),
        ("post", f"/sales/{sale.id}/cancel", {"reason": "장난"}),
    ]


@pytest.mark.parametrize("who", ["other@example.com", "buyer@example.com"])
def test_another_producer_or_a_buyer_gets_403_on_the_producers_pages(app, client, auth, farm, sale, who):
    auth.login(who)

    for method, url, data in producer_only_pages(farm, sale):
        assert getattr(client, method)(url, data=data).status_code == 403, url
    with app.app_context():
        assert db.session.get(Sale, sale.id).cancelled_at is None
        assert db.session.scalar(select(func.count(Sale.id))) == 1
        assert db.session.scalar(select(func.count(PickupPoint.id))) == 2


def test_anonymous_visitors_are_sent_to_sign_in(client, farm, sale):
    pages = [*producer_only_pages(farm, sale), ("post", f"{sale.url}/order", order_form(sale, kimchi=1))]
    pages += [("get", "/orders", {}), ("post", f"/producers/{farm.slug}/area-requests", {"area": "마포구"})]

    for method, url, data in pages:
        response = getattr(client, method)(url, data=data)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login"), url


# ---------------------------------------------------------------- pickup points and announcing


def test_a_producer_saves_a_pickup_point(app, client, auth, farm):
    auth.login("owner@example.com")

    response = client.post(
        f"/producers/{farm.slug}/pickup-points",
        data={
            "name": "성미산 입구",
            "address": "서울 마포구 성미산로",
            "area": " 마포구 ",
            "latitude": "37.5665",
            "longitude": "126.9780",
        },
    )

    assert response.status_code == 302
    listing = page(client.get(f"/producers/{farm.slug}/pickup-points"))
    assert "성미산 입구" in listing and "mlat=37.566500&mlon=126.978000" in listing


def sale_form(farm, *, start=None, items=None, **fields) -> dict:
    """The new-sale form as the browser posts it: Seoul wall-clock times, one row per product."""
    start = start or utcnow().astimezone(SEOUL).replace(tzinfo=None, second=0, microsecond=0)
    moments = {"opens_at": start, "closes_at": start + 2 * HOUR, "pickup_starts_at": start + 3 * HOUR}
    moments["pickup_ends_at"] = start + 5 * HOUR
    data = {"title": "토요일 김치", "description": "", "pickup_point_id": farm.point_id}
    data |= {name: moment.strftime("%Y-%m-%dT%H:%M") for name, moment in moments.items()}
    rows = items if items is not None else [(farm.kimchi_id, "12000", "40", "2"), (farm.radish_id, "", "", "")]
    for n, (product_id, price, quantity, limit) in enumerate(rows):
        data |= {f"items-{n}-product_id": product_id, f"items-{n}-price": price}
        data |= {f"items-{n}-quantity": quantity, f"items-{n}-per_buyer_limit": limit}
    return data | fields


def test_a_producer_announces_a_sale_in_seoul_time(app, client, auth, farm):
    auth.login("owner@example.com")
    start = utcnow().astimezone(SEOUL).replace(tzinfo=None, second=0, microsecond=0)

    form = page(client.get(f"/producers/{farm.slug}/sales/new"))
    response = client.post(f"/producers/{farm.slug}/sales/new", data=sale_form(farm, start=start))

    assert "배추김치" in form and "깍두기" in form
    assert response.status_code == 302
    with app.app_context():
        sale = db.session.scalar(select(Sale))
        assert response.headers["Location"] == f"/sales/{sale.id}"
        assert sale.opens_at == start.replace(tzinfo=SEOUL)
        assert [(i.product_id, i.price, i.quantity, i.per_buyer_limit) for i in sale.items] == [
            (farm.kimchi_id, 12_000, 40, 2)
        ]


def test_a_producer_without_pickup_points_is_sent_to_add_one(app, client, auth, farm):
    with app.app_context():
        db.session.execute(PickupPoint.__table__.delete().where(PickupPoint.producer_id == farm.producer_id))
        db.session.commit()
    auth.login("owner@example.com")

    response = client.get(f"/producers/{farm.slug}/sales/new")

    assert response.status_code == 302
    assert response.headers["Location"].startswith(quote(f"/producers/{farm.slug}/pickup-points") + "?next=")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (lambda f, t: {"closes_at": t(-1)}, "Orders must close after they open."),
        (lambda f, t: {"opens_at": t(-5), "closes_at": t(-1)}, "Orders must close in the future."),
        (lambda f, t: {"pickup_starts_at": t(1)}, "Pickup starts after orders close."),
        (lambda f, t: {"pickup_point_id": f.other_point_id}, "Choose one of your pickup points."),
        (lambda f, t: {"items-0-product_id": f.other_product_id}, "Choose only your own products."),
        (lambda f, t: {"items-0-price": "-1"}, "Price (won): Number must be between 0 and 100000000."),
        (lambda f, t: {"items-0-price": ""}, "Give a price for every product you offer."),
        (lambda f, t: {"items-0-quantity": "0"}, "Add at least one product with a quantity."),
        (
            lambda f, t: {"items-0-per_buyer_limit": "41"},
            "The limit per buyer of 배추김치 must be between 1 and the quantity.",
        ),
    ],
    ids=[
        "windows in the wrong order",
        "closes in the past",
        "pickup before close",
        "someone else's point",
        "someone else's product",
        "negative price",
        "no price",
        "zero quantity",
        "limit over quantity",
    ],
)
def test_a_bad_sale_form_shows_why(app, client, auth, farm, changes, message):
    auth.login("owner@example.com")
    start = utcnow().astimezone(SEOUL).replace(tzinfo=None, second=0, microsecond=0)

    def at(hours: int) -> str:
        """The form's value for `hours` after the start."""
        return (start + hours * HOUR).strftime("%Y-%m-%dT%H:%M")

    response = client.post(f"/producers/{farm.slug}/sales/new", data=sale_form(farm, start=start) | changes(farm, at))

    assert response.status_code == 200
    assert message in page(response)
    with app.app_context():
        assert db.session.scalar(select(func.count(Sale.id))) == 0


# ---------------------------------------------------------------- the sale page and ordering


def test_an_open_sale_shows_its_items_a_countdown_to_the_close_and_an_order_form(app, client, auth, sale):
    auth.login("buyer@example.com")

    html = page(client.get(sale.url))

    with app.app_context():
        closes_at = db.session.get(Sale, sale.id).closes_at
    assert f'<time data-countdown datetime="{closes_at.isoformat()}">' in html
    assert '<script src="/static/js/countdown.js" defer></script>' in html
    assert "10 of 10 left · up to 2 per person" in html
    assert f'name="qty-{sale.kimchi}"' in html and '<button type="submit">Review my order</button>' in html


def test_an_upcoming_sale_counts_down_to_its_opening_without_an_order_button(app, client, farm):
    with app.app_context():
        later = live_sale(farm, opens_in=HOUR, closes_in=3 * HOUR, pickup_in=4 * HOUR)
        opens_at = db.session.get(Sale, later.id).opens_at

    html = page(client.get(later.url))

    assert "Opens soon" in html
    assert f'<time data-countdown datetime="{opens_at.isoformat()}">' in html
    assert '<button type="submit">Order</button>' not in html


def test_ordering_confirms_and_shows_the_pickup_code_qr_and_calendar_link(app, client, auth, sale):
    auth.login("buyer@example.com")

    response = client.post(f"{sale.url}/order", data=order_form(sale, kimchi=2, radish=1))

    [order] = orders_of(app, "buyer@example.com")
    assert response.status_code == 302 and response.headers["Location"] == f"/orders/{order.id}"
    html = page(client.get(f"/orders/{order.id}"))
    assert "Your order is confirmed. Show your pickup code when you collect it." in html
    assert f'<p class="pickup-code" aria-label="Pickup code">{order.pickup_code}</p>' in html
    assert re.search(r'<div class="qr small-qr"><svg[^>]*>.*</svg></div>', html, re.S)
    assert f'href="/orders/{order.id}/pickup.ics"' in html
    assert "₩32,000" in html
    assert order.pickup_code in page(client.get("/orders"))


def test_tampered_prices_and_totals_in_the_form_are_ignored(app, client, auth, sale):
    auth.login("buyer@example.com")
    tampered = {"total": "1", "price": "1", f"price-{sale.kimchi}": "1", "unit_price": "0", "amount": "1"}

    client.post(f"{sale.url}/order", data=order_form(sale, kimchi=2, **tampered))

    [order] = orders_of(app, "buyer@example.com")
    assert order.total == 24_000
    assert [(line.quantity, line.unit_price) for line in order.lines] == [(2, 12_000)]
    with app.app_context():
        assert payment_for(order).amount == 24_000


@pytest.mark.parametrize(
    ("quantities", "message"),
    [
        ({"kimchi": 0}, "Choose how many you want of at least one product."),
        ({"kimchi": "", "radish": ""}, "Choose how many you want of at least one product."),
        ({"kimchi": -1}, "Quantities must be whole numbers, zero or more."),
        ({"kimchi": "two"}, "Quantities must be whole numbers, zero or more."),
        ({"kimchi": "1.5"}, "Quantities must be whole numbers, zero or more."),
        ({"kimchi": "²"}, "Quantities must be whole numbers, zero or more."),
        ({"kimchi": 3}, "You can order at most 2 of 배추김치."),
        ({"kimchi": 99999999999999999999}, "You can order at most 2 of 배추김치."),
    ],
    ids=["zero", "empty", "negative", "words", "fraction", "superscript", "over the limit", "huge"],
)
def test_bad_quantities_are_refused_with_a_message(app, client, auth, sale, quantities, message):
    auth.login("buyer@example.com")

    response = client.post(f"{sale.url}/order", data=order_form(sale, **quantities), follow_redirects=True)

    assert response.status_code == 200
    assert message in page(response)
    assert orders_of(app, "buyer@example.com") == []
    with app.app_context():
        assert stock(sale.kimchi) == (10, 0)


def test_more_than_is_left_is_refused_with_what_is_left(app, client, auth, sale):
    with app.app_context():
        set_taken(db.session.get(SaleItem, sale.kimchi), 9)
    auth.login("buyer@example.com")

    response = client.post(f"{sale.url}/order", data=order_form(sale, kimchi=2), follow_redirects=True)

    assert "Sorry, only 1 of 배추김치 is left." in page(response)
    with app.app_context():
        assert stock(sale.kimchi) == (10, 9)


@pytest.mark.parametrize(
    ("placement", "message"),
    [
        ({"moved": -5 * HOUR}, "Orders for this sale are closed."),
        ({"opens_in": HOUR, "closes_in": 2 * HOUR}, "This sale has not opened yet."),
    ],
    ids=["closed", "future"],
)
def test_closed_and_future_sales_take_no_orders(app, client, auth, farm, placement, message):
    with app.app_context():
        elsewhen = live_sale(farm, **placement)
    auth.login("buyer@example.com")

    response = client.post(f"{elsewhen.url}/order", data=order_form(elsewhen, kimchi=1), follow_redirects=True)

    assert message in page(response)
    assert orders_of(app, "buyer@example.com") == []


def test_a_cancelled_sale_takes_no_orders_and_says_why(app, client, auth, sale):
    auth.login("owner@example.com")
    client.post(f"{sale.url}/cancel", data={"reason": "배추가 얼었어요"})
    auth.logout()
    auth.login("buyer@example.com")

    response = client.post(f"{sale.url}/order", data=order_form(sale, kimchi=1), follow_redirects=True)

    html = page(response)
    assert "This sale was cancelled." in html
    assert "This sale was cancelled: 배추가 얼었어요" in html
    assert orders_of(app, "buyer@example.com") == []


def test_a_double_submitted_checkout_leads_to_the_same_order_and_takes_stock_once(app, client, auth, sale):
    auth.login("buyer@example.com")

    first = client.post(f"{sale.url}/order", data=order_form(sale, kimchi=2, key="same-click"))
    second = client.post(f"{sale.url}/order", data=order_form(sale, kimchi=2, key="same-click"))

    assert first.headers["Location"] == second.headers["Location"]
    assert len(orders_of(app, "buyer@example.com")) == 1
    with app.app_context():
        assert stock(sale.kimchi) == (10, 2)


def test_a_second_checkout_is_refused_while_the_first_is_active(app, client, auth, sale):
    auth.login("buyer@example.com")
    client.post(f"{sale.url}/order", data=order_form(sale, kimchi=1, key="first"))

    response = client.post(f"{sale.url}/order", data=order_form(sale, kimchi=1, key="second"), follow_redirects=True)

    assert "You already have an order in this sale. Cancel it first to change it." in page(response)
    with app.app_context():
        assert stock(sale.kimchi) == (10, 1)


def test_a_checkout_without_its_key_is_refused(app, client, auth, sale):
    auth.login("buyer@example.com")

    response = client.post(f"{sale.url}/order", data=order_form(sale, kimchi=1, key=""), follow_redirects=True)

    assert "This form has expired. Please submit it again." in page(response)
    assert orders_of(app, "buyer@example.com") == []


def test_a_producer_cannot_buy_from_their_own_sale(app, client, auth, sale):
    auth.login("owner@example.com")

    response = client.post(f"{sale.url}/order", data=order_form(sale, kimchi=1), follow_redirects=True)

    assert "You cannot order from your own sale." in page(response)
    with app.app_context():
        assert stock(sale.kimchi) == (10, 0)


def test_the_buyer_cancels_before_the_close_and_the_stock_returns(app, client, auth, sale):
    auth.login("buyer@example.com")
    client.post(f"{sale.url}/order", data=order_form(sale, kimchi=2))
    [order] = orders_of(app, "buyer@example.com")

    response = client.post(f"/orders/{order.id}/cancel", follow_redirects=True)

    assert "Your order is cancelled." in page(response)
    assert "Cancel my order" not in page(response)
    with app.app_context():
        assert stock(sale.kimchi) == (10, 0)
    again = client.post(f"/orders/{order.id}/cancel", follow_redirects=True)
    assert "This order can no longer be cancelled." in page(again)


def test_after_the_close_an_order_cannot_be_cancelled(app, client, auth, farm):
    with app.app_context():
        placed_at = utcnow() - 2 * HOUR
        closed = live_sale(farm, moved=-3 * HOUR)
        order_id = buy(db.session.get(Sale, closed.id), db.session.get(User, farm.buyer_id), 1, now=placed_at).id
    auth.login("buyer@example.com")

    html = page(client.get(f"/orders/{order_id}"))
    response = client.post(f"/orders/{order_id}/cancel", follow_redirects=True)

    assert "Cancel my order" not in html
    assert "This order can no longer be cancelled." in page(response)
    with app.app_context():
        assert stock(closed.kimchi) == (10, 1)


def test_nobody_else_sees_or_cancels_an_order(app, client, auth, sale):
    auth.login("buyer@example.com")
    client.post(f"{sale.url}/order", data=order_form(sale, kimchi=1))
    [order] = orders_of(app, "buyer@example.com")
    auth.logout()

    auth.login("second@example.com")
    responses = [
        client.get(f"/orders/{order.id}"),
        client.get(f"/orders/{order.id}/pickup.ics"),
        client.post(f"/orders/{order.id}/cancel"),
        client.post(f"/orders/{order.id}/refund", data={"amount": "1000", "reason": "x"}),
    ]
    assert [r.status_code for r in responses] == [404] * 4
    assert order.pickup_code not in page(client.get("/orders"))
    auth.logout()

    auth.login("owner@example.com")
    assert order.pickup_code in page(client.get(f"/orders/{order.id}"))
    assert client.get("/orders/999999").status_code == 404


def test_the_buyer_cannot_refund_their_own_order(app, client, auth, sale):
    auth.login("buyer@example.com")
    client.post(f"{sale.url}/order", data=order_form(sale, kimchi=1))
    [order] = orders_of(app, "buyer@example.com")

    assert client.post(f"/orders/{order.id}/refund", data={"amount": "1000", "reason": "x"}).status_code == 403


# ---------------------------------------------------------------- calendar files


def parsed(response) -> list:
    """The VEVENTs of an .ics response."""
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    return Calendar.from_ical(response.data).walk("VEVENT")


def test_the_order_ics_has_the_pickup_window_in_utc_and_the_place(app, client, auth, sale):
    auth.login("buyer@example.com")
    client.post(f"{sale.url}/order", data=order_form(sale, kimchi=1))
    [order] = orders_of(app, "buyer@example.com")

    response = client.get(f"/orders/{order.id}/pickup.ics")

    [event] = parsed(response)
    with app.app_context():
        the_sale = db.session.get(Sale, sale.id)
        assert (event.decoded("dtstart"), event.decoded("dtend")) == (
            the_sale.pickup_starts_at,
            the_sale.pickup_ends_at,
        )
    assert event.decoded("dtstart").utcoffset() == timedelta(0)
    assert str(event["location"]) == "망원시장 동문, 서울 마포구 포은로 8길"
    assert order.pickup_code in str(event["description"])
    assert response.headers["Content-Disposition"] == f'attachment; filename="pickup-{order.pickup_code}.ics"'


def test_the_sale_ics_has_the_ordering_window_and_the_pickup(app, client, sale):
    events = parsed(client.get(f"{sale.url}/sale.ics"))

    with app.app_context():
        the_sale = db.session.get(Sale, sale.id)
        windows = [(e.decoded("dtstart"), e.decoded("dtend")) for e in events]
        assert windows == [
            (the_sale.opens_at, the_sale.closes_at),
            (the_sale.pickup_starts_at, the_sale.pickup_ends_at),
        ]
    assert str(events[1]["location"]) == "망원시장 동문, 서울 마포구 포은로 8길"
    assert str(events[1]["url"]) == f"http://farmstore.test/sales/{sale.id}"


# ---------------------------------------------------------------- roster and check-in


@pytest.fixture
def ordered(app, farm, sale) -> dict[str, SimpleNamespace]:
    """Orders by 이하나 (buyer@) and 박두리 (second@), a minute apart: their ids and pickup codes."""
    with app.app_context():
        the_sale = db.session.get(Sale, sale.id)
        now = utcnow()
        orders = {
            "이하나": buy(the_sale, db.session.get(User, farm.buyer_id), 2, now=now - 2 * timedelta(minutes=1)),
            "박두리": buy(the_sale, db.session.get(User, farm.second_id), 1, now=now - timedelta(minutes=1)),
        }
        return {name: SimpleNamespace(id=order.id, pickup_code=order.pickup_code) for name, order in orders.items()}


def pickup_under_way(app, sale) -> None:
    """Move the sale's windows so that its pickup has started (check-in opens with the pickup)."""
    now = utcnow()
    with app.app_context():
        row = db.session.get(Sale, sale.id)
        row.opens_at, row.closes_at = now - 4 * HOUR, now - 2 * HOUR
        row.pickup_starts_at, row.pickup_ends_at = now - HOUR, now + HOUR
        db.session.commit()


def test_check_in_by_code_hands_over_and_marks_the_payment_paid(app, client, auth, sale, ordered):
    pickup_under_way(app, sale)
    auth.login("owner@example.com")
    code = ordered["이하나"].pickup_code

    response = client.post(
        f"{sale.url}/roster?sort=code", data={"code": f" {code[:3].lower()} {code[3:].lower()}"}, follow_redirects=True
    )

    assert f"Handed over to 이하나 ({code})." in page(response)
    with app.app_context():
        order = db.session.get(Order, ordered["이하나"].id)
        assert order.status == "picked_up"
        assert payment_for(order).status == "succeeded"
    again = client.post(f"{sale.url}/roster", data={"code": code})
    assert "This order was already picked up." in page(again)


def test_a_wrong_code_is_shown_on_the_check_in_form(app, client, auth, sale, ordered):
    pickup_under_way(app, sale)
    auth.login("owner@example.com")

    response = client.post(f"{sale.url}/roster", data={"code": "zzz-999"})

    assert response.status_code == 200
    assert "No order in this sale has the code ZZZ999." in page(response)


def test_the_order_qr_code_opens_the_roster_with_the_code_filled_in(client, auth, sale, ordered):
    auth.login("owner@example.com")
    code = ordered["박두리"].pickup_code

    html = page(client.get(f"{sale.url}/roster?code={code}"))

    assert re.search(rf'<input[^>]*name="code"[^>]*value="{code}"', html)


@pytest.mark.parametrize(
    ("sort", "first"),
    [("name", "박두리"), ("time", "이하나"), ("status", "박두리")],
)
def test_the_roster_sorts_and_prints_every_order(app, client, auth, sale, ordered, sort, first):
    pickup_under_way(app, sale)
    auth.login("owner@example.com")
    client.post(f"{sale.url}/roster", data={"code": ordered["이하나"].pickup_code})

    html = page(client.get(f"{sale.url}/roster?sort={sort}"))

    names = re.findall(r"<td>(이하나|박두리)</td>", html)
    assert names[0] == first and sorted(names) == ["박두리", "이하나"]
    assert f'href="/sales/{sale.id}/roster.csv?sort={sort}"' in html


def test_the_roster_csv_has_every_order(client, auth, sale, ordered):
    auth.login("owner@example.com")

    response = client.get(f"{sale.url}/roster.csv?sort=time")

    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff"))))
    assert [row[:6] + row[7:] for row in rows] == [
        ["Pickup code", "Name", "Phone", "Status", "Payment", "Total", "배추김치", "깍두기"],
        [ordered["이하나"].pickup_code, "이하나", "", "Confirmed", "pickup", "24000", "2", "0"],
        [ordered["박두리"].pickup_code, "박두리", "", "Confirmed", "pickup", "12000", "1", "0"],
    ]


# ---------------------------------------------------------------- cancelling a sale


def test_the_producer_cancels_the_sale_and_every_buyer_is_told(app, client, auth, sale, ordered, mailbox):
    auth.login("owner@example.com")

    response = client.post(f"{sale.url}/cancel", data={"reason": "배추가 얼었어요"}, follow_redirects=True)

    assert "The sale is cancelled; 2 buyers were told and refunded." in page(response)
    assert "Cancel the sale and refund everyone" not in page(response)
    with app.app_context():
        assert {db.session.get(Order, o.id).status for o in ordered.values()} == {"cancelled"}
        assert stock(sale.kimchi) == (10, 0)
        deliver_due_messages(now=utcnow())
    told = {m["To"] for m in mailbox.messages if "배추가 얼었어요" in m.get_content()}
    assert told == {"buyer@example.com", "second@example.com"}


def test_a_sale_cannot_be_cancelled_without_a_reason(app, client, auth, sale):
    auth.login("owner@example.com")

    response = client.post(f"{sale.url}/cancel", data={"reason": ""}, follow_redirects=True)

    assert "Tell buyers why the sale is cancelled." in page(response)
    with app.app_context():
        assert db.session.get(Sale, sale.id).cancelled_at is None


# ---------------------------------------------------------------- waitlist


@pytest.fixture
def sold_out(app, farm) -> SimpleNamespace:
    """A sale of 2 배추김치 only, bought by 박두리 (second@)."""
    with app.app_context():
        producer = db.session.get(Producer, farm.producer_id)
        kimchi = db.session.get(Product, farm.kimchi_id)
        now = utcnow().replace(second=0, microsecond=0)
        the_sale = make_sale(
            producer, [(kimchi, 12_000, 2, 2)], point=db.session.get(PickupPoint, farm.point_id), now=now
        )
        order = buy(the_sale, db.session.get(User, farm.second_id), 2, now=now)
        return SimpleNamespace(
            id=the_sale.id, kimchi=the_sale.items[0].id, url=f"/sales/{the_sale.id}", order_id=order.id
        )


def test_a_buyer_joins_the_waitlist_of_a_sold_out_item_and_claims_freed_stock(app, client, auth, farm, sold_out):
    auth.login("buyer@example.com")
    assert "Sold out" in page(client.get(sold_out.url))

    joined = client.post(
        f"{sold_out.url}/items/{sold_out.kimchi}/waitlist", data={"quantity": "2"}, follow_redirects=True
    )
    assert "You are on the waitlist. We will email you if some become free." in page(joined)
    assert "You are on the waitlist for 배추김치." in page(joined)
    with app.app_context():
        order = db.session.get(Order, sold_out.order_id)
        cancel_order(order, by=order.buyer, now=utcnow())

    offer = page(client.get(sold_out.url))  # every unit is held for this buyer: sold out to anyone else
    assert "Sold out" in offer and "2 are held for you until" in offer
    assert f'name="qty-{sold_out.kimchi}"' in offer
    assert '<button type="submit">Review my order</button>' in offer
    claimed = client.post(
        f"{sold_out.url}/order",
        data={f"qty-{sold_out.kimchi}": "2", "checkout_key": "claim", "payment_method": "pickup"},
        follow_redirects=True,
    )
    assert "Your order is confirmed." in page(claimed)
    with app.app_context():
        assert db.session.scalar(select(WaitlistEntry.status)) == "claimed"
        assert stock(sold_out.kimchi) == (2, 2)


def test_the_waitlist_is_refused_while_there_is_stock(client, auth, sale):
    auth.login("buyer@example.com")

    response = client.post(f"{sale.url}/items/{sale.kimchi}/waitlist", data={"quantity": "1"}, follow_redirects=True)

    assert "There is still stock: you can order it now." in page(response)


def test_a_waitlist_url_with_an_item_of_another_sale_is_not_found(client, auth, sale, sold_out):
    auth.login("buyer@example.com")

    assert client.post(f"{sale.url}/items/{sold_out.kimchi}/waitlist", data={"quantity": "1"}).status_code == 404


def test_leaving_the_waitlist_and_nobody_else_can_make_you(app, client, auth, sold_out):
    auth.login("buyer@example.com")
    client.post(f"{sold_out.url}/items/{sold_out.kimchi}/waitlist", data={"quantity": "1"})
    with app.app_context():
        entry_id = db.session.scalar(select(WaitlistEntry.id))
    auth.logout()

    auth.login("other@example.com")
    assert client.post(f"/waitlist/{entry_id}/leave").status_code == 404
    auth.logout()
    auth.login("buyer@example.com")
    response = client.post(f"/waitlist/{entry_id}/leave", follow_redirects=True)

    assert "Join the waitlist" in page(response)
    with app.app_context():
        assert db.session.get(WaitlistEntry, entry_id).status == "left"


# ---------------------------------------------------------------- demand by area


def test_buyers_ask_for_their_area_and_only_the_producer_sees_the_counts(app, client, auth, farm):
    for email, area in [
        ("buyer@example.com", "Mapo  gu"),
        ("second@example.com", " Mapo gu "),
        ("buyer@example.com", "Mapo gu"),
    ]:
        auth.login(email)
        response = client.post(f"/producers/{farm.slug}/area-requests", data={"area": area}, follow_redirects=True)
        assert "will see that buyers in" in page(response)
        auth.logout()

    auth.login("owner@example.com")
    html = page(client.get(f"/producers/{farm.slug}/sales"))
    assert re.search(r"<td>Mapo gu</td><td class=\"num\">2 requests</td>", html)
    auth.logout()
    auth.login("buyer@example.com")
    assert client.get(f"/producers/{farm.slug}/sales").status_code == 403


def test_a_new_sale_in_an_asked_for_area_emails_those_buyers(app, client, auth, farm, mailbox):
    auth.login("buyer@example.com")
    client.post(f"/producers/{farm.slug}/area-requests", data={"area": "마포구"})
    auth.logout()
    auth.login("owner@example.com")

    client.post(f"/producers/{farm.slug}/sales/new", data=sale_form(farm))
    with app.app_context():
        deliver_due_messages(now=utcnow())
        sale_id = db.session.scalar(select(Sale.id))

    assert [m["To"] for m in mailbox.messages] == ["buyer@example.com"]
    assert f"http://farmstore.test/sales/{sale_id}" in mailbox.messages[0].get_content()


def test_the_producer_sales_page_lists_sales_with_their_status(client, auth, farm, sale):
    auth.login("owner@example.com")

    html = page(client.get(f"/producers/{farm.slug}/sales"))

    assert f'href="/sales/{sale.id}"' in html and "Open" in html
