"""Sale rules through the services: announcing a sale, ordering without overselling, pickup and
check-in, cancelling a sale, the waitlist and demand by area."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from farmstore.errors import DomainError, NotAllowed
from farmstore.extensions import db
from farmstore.notifications.models import OutboxMessage
from farmstore.notifications.services import deliver_due_messages
from farmstore.payments.services import mark_paid_at_pickup
from farmstore.sales.models import AreaRequest, Order, OrderLine, Sale, SaleItem, WaitlistEntry
from farmstore.sales.services import (
    PICKUP_CODE_ALPHABET,
    ItemSpec,
    cancel_order,
    cancel_sale,
    check_in,
    create_sale,
    demand_by_area,
    expire_reservations,
    join_waitlist,
    lapse_waitlist_offers,
    leave_waitlist,
    mark_no_shows,
    place_order,
    request_area,
    roster,
    roster_csv,
)
from tests.factories import make_user
from tests.sales.conftest import (
    HOUR,
    NOW,
    buy,
    ledger_kinds,
    make_point,
    make_sale,
    payment_for,
    set_taken,
    stock,
    units_held,
)

MINUTE = timedelta(minutes=1)


def refused(message: str, exception=DomainError):
    """Expect a service to refuse with exactly this (English) message."""
    return pytest.raises(exception, match=f"^{re.escape(message)}$")


def outbox_to(address: str) -> list[str]:
    """Subjects of the emails queued for `address`, oldest first."""
    query = select(OutboxMessage.subject).where(OutboxMessage.to_address == address).order_by(OutboxMessage.id)
    return list(db.session.scalars(query))


@pytest.fixture
def sale(shop) -> Sale:
    """Open at NOW: 배추김치 10 × 12,000 won (2 per buyer) and 깍두기 5 × 8,000 won (3 per buyer)."""
    return make_sale(shop.producer, [(shop.kimchi, 12_000, 10, 2), (shop.radish, 8_000, 5, 3)], point=shop.point)


@pytest.fixture
def kimchi(sale) -> SaleItem:
    """The sale's 배추김치: 10 at 12,000 won, 2 per buyer."""
    return sale.items[0]


@pytest.fixture
def radish(sale) -> SaleItem:
    """The sale's 깍두기: 5 at 8,000 won, 3 per buyer."""
    return sale.items[1]


# ---------------------------------------------------------------- announcing a sale


def announce(shop, **changes) -> Sale:
    """Create a sale for the farm with valid fields, some replaced by `changes`."""
    fields = {
        "producer": shop.producer,
        "by": shop.producer.user,
        "title": "토요일 김치",
        "pickup_point_id": shop.point.id,
        "opens_at": NOW,
        "closes_at": NOW + 2 * HOUR,
        "pickup_starts_at": NOW + 3 * HOUR,
        "pickup_ends_at": NOW + 5 * HOUR,
        "items": [ItemSpec(product_id=shop.kimchi.id, price=12_000, quantity=40, per_buyer_limit=2)],
        "now": NOW,
    }
    return create_sale(**(fields | changes))


def test_a_producer_announces_a_sale_with_its_items(shop, app):
    sale = announce(shop, reservation_minutes=None)

    assert (sale.title, sale.pickup_point, sale.producer) == ("토요일 김치", shop.point, shop.producer)
    assert [(i.product, i.price, i.quantity, i.per_buyer_limit, i.quantity_taken) for i in sale.items] == [
        (shop.kimchi, 12_000, 40, 2, 0)
    ]
    assert sale.reservation_minutes == app.config["RESERVATION_MINUTES"]
    assert sale.status(NOW) == "open"


def kimchi_spec(shop, **changes) -> list[ItemSpec]:
    """One item of 배추김치 with valid fields, some replaced."""
    return [
        ItemSpec(**({"product_id": shop.kimchi.id, "price": 12_000, "quantity": 40, "per_buyer_limit": 2} | changes))
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (lambda s: {"title": "  "}, "Give the sale a title, like Saturday kimchi at Mangwon."),
        (lambda s: {"closes_at": NOW}, "Orders must close after they open."),
        (lambda s: {"closes_at": NOW - HOUR}, "Orders must close after they open."),
        (
            lambda s: {"opens_at": NOW - 3 * HOUR, "closes_at": NOW - HOUR},
            "Orders must close in the future.",
        ),
        (lambda s: {"pickup_starts_at": NOW + HOUR}, "Pickup starts after orders close."),
        (lambda s: {"pickup_ends_at": NOW + 3 * HOUR}, "Pickup must end after it starts."),
        (lambda s: {"pickup_point_id": s.other_point.id}, "Choose one of your pickup points."),
        (lambda s: {"pickup_point_id": None}, "Choose one of your pickup points."),
        (lambda s: {"items": kimchi_spec(s, product_id=s.other_product.id)}, "Choose only your own products."),
        (lambda s: {"items": kimchi_spec(s, price=-1)}, "A price cannot be negative."),
        (lambda s: {"items": kimchi_spec(s, quantity=0)}, "Offer at least one unit of 배추김치."),
        (
            lambda s: {"items": kimchi_spec(s, per_buyer_limit=41)},
            "The limit per buyer of 배추김치 must be between 1 and the quantity.",
        ),
        (lambda s: {"items": []}, "Add at least one product with a quantity."),
        (lambda s: {"items": kimchi_spec(s) * 2}, "Each product can appear once in a sale."),
    ],
    ids=[
        "no title",
        "closes when it opens",
        "closes before it opens",
        "closes in the past",
        "pickup before close",
        "pickup ends before it starts",
        "someone else's point",
        "no point",
        "someone else's product",
        "negative price",
        "zero quantity",
        "limit over quantity",
        "no items",
        "a product twice",
    ],
)
def test_a_bad_sale_is_refused_with_a_message(shop, changes, message):
    with refused(message):
        announce(shop, **changes(shop))

    assert db.session.scalar(select(func.count(Sale.id))) == 0


def test_only_the_owner_announces_or_cancels_a_sale(shop, sale):
    with refused("Only the producer can change this.", NotAllowed):
        announce(shop, by=shop.buyer)
    with refused("Only the producer can change this.", NotAllowed):
        announce(shop, by=shop.other.user)
    with refused("Only the producer can change this.", NotAllowed):
        cancel_sale(sale, by=shop.other.user, reason="장난", now=NOW)

    assert sale.cancelled_at is None


def test_a_free_item_is_allowed_and_a_pickup_may_start_as_orders_close(shop):
    sale = announce(shop, pickup_starts_at=NOW + 2 * HOUR, items=kimchi_spec(shop, price=0, per_buyer_limit=40))

    assert (sale.items[0].price, sale.pickup_starts_at) == (0, sale.closes_at)


# ---------------------------------------------------------------- ordering


def test_an_order_takes_stock_and_the_server_computes_prices_and_total(shop, sale, kimchi, radish):
    order = buy(sale, shop.buyer, {kimchi: 2, radish: 1})

    assert order.status == "confirmed" and order.confirmed_at == NOW
    assert [(line.sale_item, line.quantity, line.unit_price) for line in order.lines] == [
        (kimchi, 2, 12_000),
        (radish, 1, 8_000),
    ]
    assert order.total == 32_000
    payment = payment_for(order)
    assert (payment.provider, payment.status, payment.amount) == ("pickup", "pending", 32_000)
    assert stock(kimchi.id) == (10, 2) and stock(radish.id) == (5, 1)
    assert len(outbox_to("buyer@example.com")) == 1


@pytest.mark.parametrize(
    ("amounts", "message"),
    [
        ({"kimchi": 0}, "Choose how many you want of at least one product."),
        ({"kimchi": 0, "radish": 0}, "Choose how many you want of at least one product."),
        ({"kimchi": -1}, "Quantities must be whole numbers, zero or more."),
        ({"kimchi": 1.5}, "Quantities must be whole numbers, zero or more."),
        ({"kimchi": "2"}, "Quantities must be whole numbers, zero or more."),
        ({"kimchi": 3}, "You can order at most 2 of 배추김치."),
        ({"kimchi": 1, "radish": 4}, "You can order at most 3 of 깍두기."),
    ],
    ids=["zero", "zero of each", "negative", "fraction", "text", "over the limit", "over the limit of one"],
)
def test_bad_quantities_are_refused_and_take_nothing(shop, sale, kimchi, radish, amounts, message):
    items = {"kimchi": kimchi, "radish": radish}

    with refused(message):
        place_order(
            sale=sale,
            buyer=shop.buyer,
            quantities={items[name].id: q for name, q in amounts.items()},
            checkout_key="k1",
            now=NOW,
        )

    db.session.commit()  # nothing half-done is left in the session to be committed later
    assert stock(kimchi.id) == (10, 0) and stock(radish.id) == (5, 0)
    assert db.session.scalar(select(func.count(Order.id))) == 0


def test_an_item_of_another_sale_is_refused(shop, sale):
    elsewhere = make_sale(shop.producer, [(shop.kimchi, 1, 5, 1)], point=shop.point)

    with refused("That product is not part of this sale."):
        place_order(sale=sale, buyer=shop.buyer, quantities={elsewhere.items[0].id: 1}, checkout_key="k", now=NOW)


def test_more_than_is_left_is_refused_with_what_is_left(shop, sale, kimchi, radish):
    set_taken(kimchi, 9)

    with refused("Sorry, only 1 of 배추김치 is left."):
        buy(sale, shop.buyer, {kimchi: 2, radish: 1})
    set_taken(kimchi, 10)
    with refused("Sorry, 배추김치 just sold out."):
        buy(sale, shop.buyer, {kimchi: 1})

    assert stock(kimchi.id) == (10, 10)
    assert stock(radish.id) == (5, 0)  # the radish taken before the kimchi failed went back


def test_an_unknown_payment_method_is_refused_before_any_stock_is_taken(shop, sale, kimchi):
    with refused("This way of paying is not available."):
        place_order(
            sale=sale, buyer=shop.buyer, quantities={kimchi.id: 2}, payment_method="cheque", checkout_key="k1", now=NOW
        )
    buy(sale, shop.second, 1)

    assert stock(kimchi.id) == (10, 1)
    assert units_held(kimchi.id) == 1


@pytest.mark.parametrize(
    ("moment", "message"),
    [
        (lambda s: s.opens_at - MINUTE, "This sale has not opened yet."),
        (lambda s: s.closes_at, "Orders for this sale are closed."),
        (lambda s: s.pickup_ends_at + HOUR, "Orders for this sale are closed."),
    ],
    ids=["future", "closed", "long over"],
)
def test_no_order_outside_the_ordering_window(shop, sale, kimchi, moment, message):
    with refused(message):
        buy(sale, shop.buyer, now=moment(sale))

    assert stock(kimchi.id) == (10, 0)


def test_no_order_from_a_cancelled_sale(shop, sale, kimchi):
    cancel_sale(sale, by=shop.producer.user, reason="비가 와요", now=NOW)

    with refused("This sale was cancelled."):
        buy(sale, shop.buyer)
    assert stock(kimchi.id) == (10, 0)


def test_a_producer_cannot_buy_from_their_own_sale(shop, sale, kimchi):
    with refused("You cannot order from your own sale."):
        buy(sale, shop.producer.user)

    assert stock(kimchi.id) == (10, 0)


def test_a_double_submitted_checkout_returns_the_first_order_and_takes_stock_once(shop, sale, kimchi):
    first = buy(sale, shop.buyer, 2, key="same")
    again = buy(sale, shop.buyer, 1, key="same", now=NOW + MINUTE)

    assert again.id == first.id and again.total == 24_000
    assert stock(kimchi.id) == (10, 2)
    assert db.session.scalar(select(func.count(Order.id))) == 1


def test_a_second_checkout_is_refused_while_the_first_order_is_active(shop, sale, kimchi):
    first = buy(sale, shop.buyer, 1)

    with refused("You already have an order in this sale. Cancel it first to change it."):
        buy(sale, shop.buyer, 1)
    cancel_order(first, by=shop.buyer, now=NOW)
    second = buy(sale, shop.buyer, 2)

    assert second.id != first.id and second.status == "confirmed"
    assert stock(kimchi.id) == (10, 2)


def test_the_same_checkout_key_of_another_buyer_is_another_order(shop, sale, kimchi):
    mine = buy(sale, shop.buyer, 1, key="shared")
    theirs = buy(sale, shop.second, 1, key="shared")

    assert mine.id != theirs.id
    assert stock(kimchi.id) == (10, 2)


def test_cancelling_before_the_close_returns_stock_and_releases_the_payment(shop, sale, kimchi, radish):
    order = buy(sale, shop.buyer, {kimchi: 2, radish: 3})

    cancel_order(order, by=shop.buyer, now=sale.closes_at - MINUTE)

    assert (order.status, order.cancelled_at) == ("cancelled", sale.closes_at - MINUTE)
    assert stock(kimchi.id) == (10, 0) and stock(radish.id) == (5, 0)
    assert payment_for(order).status == "canceled"


def test_cancelling_is_refused_after_the_close_twice_or_by_someone_else(shop, sale, kimchi):
    order = buy(sale, shop.buyer, 2)

    with refused("Only the buyer can cancel this order.", NotAllowed):
        cancel_order(order, by=shop.second, now=NOW)
    with refused("Only the buyer can cancel this order.", NotAllowed):
        cancel_order(order, by=shop.producer.user, now=NOW)
    with refused("This order can no longer be cancelled."):
        cancel_order(order, by=shop.buyer, now=sale.closes_at)
    cancel_order(order, by=shop.buyer, now=NOW)
    with refused("This order can no longer be cancelled."):
        cancel_order(order, by=shop.buyer, now=NOW)

    assert stock(kimchi.id) == (10, 0)


def test_cancelling_an_order_already_ended_elsewhere_gives_nothing_back_twice(shop, sale, kimchi):
    """Two tabs: the order was cancelled by another request after this one loaded it."""
    order = buy(sale, shop.buyer, 2)
    other = buy(sale, shop.second, 1)
    db.session.execute(update(Order).where(Order.id == order.id).values(status="cancelled"))
    db.session.execute(update(SaleItem).where(SaleItem.id == kimchi.id).values(quantity_taken=1))
    db.session.commit()
    set_committed_value(order, "status", "confirmed")  # what the slower request still believes

    with refused("This order can no longer be cancelled."):
        cancel_order(order, by=shop.buyer, now=NOW)

    assert order.status == "cancelled"
    assert stock(kimchi.id) == (10, 1) == (10, units_held(kimchi.id))
    assert db.session.get(Order, other.id).status == "confirmed"


def test_the_database_never_lets_stock_go_below_zero_or_past_the_quantity(shop, kimchi):
    for taken in (-1, 11):
        with pytest.raises(IntegrityError):
            db.session.execute(update(SaleItem).where(SaleItem.id == kimchi.id).values(quantity_taken=taken))
            db.session.flush()
        db.session.rollback()

    assert stock(kimchi.id) == (10, 0)


def test_a_card_order_is_reserved_until_its_time_then_expires_and_gives_stock_back(shop, sale, kimchi):
    order = Order(
        sale=sale, buyer=shop.buyer, status="reserved", total=12_000, pickup_code="ACDEFG", checkout_key="card",
        payment_method="stripe", reserved_until=NOW + 30 * MINUTE, created_at=NOW,
    )  # fmt: skip
    order.lines = [OrderLine(sale_item_id=kimchi.id, quantity=1, unit_price=12_000)]
    db.session.add(order)
    set_taken(kimchi, 1)

    assert expire_reservations(now=NOW + 29 * MINUTE) == 0
    assert expire_reservations(now=NOW + 30 * MINUTE) == 1
    assert expire_reservations(now=NOW + 31 * MINUTE) == 0

    assert (order.status, order.reserved_until) == ("expired", None)
    assert stock(kimchi.id) == (10, 0)
    assert len(outbox_to("buyer@example.com")) == 1


# ---------------------------------------------------------------- pickup


def test_pickup_codes_are_short_unique_within_the_sale_and_free_of_look_alikes(shop):
    big = make_sale(shop.producer, [(shop.kimchi, 1000, 60, 1)], point=shop.point)
    codes = [buy(big, make_user()).pickup_code for _ in range(40)]

    assert len(set(codes)) == 40
    assert all(re.fullmatch(f"[{PICKUP_CODE_ALPHABET}]{{6}}", code) for code in codes)
    assert not set("".join(codes)) & set("0O1I2Z5S8B")


def test_check_in_by_code_hands_over_and_records_the_pickup_payment(shop, sale, kimchi):
    order = buy(sale, shop.buyer, 2)
    typed = f"  {order.pickup_code[:3].lower()} {order.pickup_code[3:].lower()} "

    handed = check_in(sale=sale, code=typed, by=shop.producer.user, now=sale.pickup_starts_at)

    assert handed.id == order.id
    assert (order.status, order.picked_up_at) == ("picked_up", sale.pickup_starts_at)
    payment = payment_for(order)
    assert (payment.status, payment.marked_paid_by_id) == ("succeeded", shop.producer.user_id)
    assert ledger_kinds(payment) == [("payment", 24_000), ("fee", -720)]


def test_check_in_with_a_dash_in_the_code(shop, sale):
    order = buy(sale, shop.buyer, 1)

    typed = f"{order.pickup_code[:3]}-{order.pickup_code[3:]}"
    check_in(sale=sale, code=typed, by=shop.producer.user, now=sale.pickup_starts_at)

    assert order.status == "picked_up"


def test_check_in_refuses_wrong_codes_repeats_and_ended_orders(shop, sale):
    order = buy(sale, shop.buyer, 1)
    cancelled = buy(sale, shop.second, 1)
    cancel_order(cancelled, by=shop.second, now=NOW)
    elsewhere = buy(make_sale(shop.producer, [(shop.radish, 1, 5, 1)], point=shop.point), shop.buyer)

    with refused("No order in this sale has the code XXXXXX."):
        check_in(sale=sale, code="xxxxxx", by=shop.producer.user, now=sale.pickup_starts_at)
    with refused("No order in this sale has the code —."):
        check_in(sale=sale, code="  ", by=shop.producer.user, now=sale.pickup_starts_at)
    with refused(f"No order in this sale has the code {elsewhere.pickup_code}."):
        check_in(sale=sale, code=elsewhere.pickup_code, by=shop.producer.user, now=sale.pickup_starts_at)
    with refused("This order is Cancelled and cannot be handed over."):
        check_in(sale=sale, code=cancelled.pickup_code, by=shop.producer.user, now=sale.pickup_starts_at)
    check_in(sale=sale, code=order.pickup_code, by=shop.producer.user, now=sale.pickup_starts_at)
    with refused("This order was already picked up."):
        check_in(sale=sale, code=order.pickup_code, by=shop.producer.user, now=sale.pickup_starts_at + MINUTE)

    assert ledger_kinds(payment_for(order)) == [("payment", 12_000), ("fee", -360)]


def test_only_the_owner_checks_buyers_in_or_reads_the_roster(shop, sale):
    order = buy(sale, shop.buyer, 1)

    for someone in (shop.other.user, shop.buyer):
        with refused("Only the producer can change this.", NotAllowed):
            check_in(sale=sale, code=order.pickup_code, by=someone, now=sale.pickup_starts_at)
        with refused("Only the producer can change this.", NotAllowed):
            roster(sale, by=someone)
    assert order.status == "confirmed"


def test_orders_not_collected_by_the_end_of_pickup_become_no_shows_once(shop, sale):
    collected, forgotten = buy(sale, shop.buyer, 1), buy(sale, shop.second, 1)
    check_in(sale=sale, code=collected.pickup_code, by=shop.producer.user, now=sale.pickup_starts_at)

    assert mark_no_shows(now=sale.pickup_ends_at - MINUTE) == 0
    assert mark_no_shows(now=sale.pickup_ends_at) == 1
    db.session.expire_all()
    assert (collected.status, forgotten.status) == ("picked_up", "no_show")
    assert sale.no_shows_marked_at == sale.pickup_ends_at
    assert mark_no_shows(now=sale.pickup_ends_at + HOUR) == 0


def test_a_no_show_who_turns_up_late_can_still_be_checked_in(shop, sale):
    order = buy(sale, shop.buyer, 1)
    mark_no_shows(now=sale.pickup_ends_at)

    check_in(sale=sale, code=order.pickup_code, by=shop.producer.user, now=sale.pickup_ends_at + HOUR)

    assert order.status == "picked_up"


@pytest.fixture
def crowd(shop, sale, kimchi, radish) -> dict[str, Order]:
    """Three orders placed a minute apart, by 최, 강 and 나; 강 has picked up."""
    orders = {}
    for minute, (name, amounts) in enumerate(
        [("최민수", {kimchi: 1}), ("강지우", {kimchi: 2, radish: 1}), ("나은비", {radish: 3})]
    ):
        orders[name] = buy(sale, make_user(display_name=name), amounts, now=NOW + minute * MINUTE)
    check_in(sale=sale, code=orders["강지우"].pickup_code, by=shop.producer.user, now=sale.pickup_starts_at)
    return orders


@pytest.mark.parametrize("sort", ["name", "code", "status", "time", "nonsense"])
def test_the_roster_sorts_by_name_code_status_or_time(shop, sale, crowd, sort):
    names = [order.buyer.display_name for order in roster(sale, by=shop.producer.user, sort=sort)]

    expected = {
        "name": sorted(crowd),
        "code": sorted(crowd, key=lambda name: crowd[name].pickup_code),
        "status": ["최민수", "나은비", "강지우"],  # confirmed, confirmed, picked_up
        "time": ["최민수", "강지우", "나은비"],
        "nonsense": sorted(crowd),
    }
    assert names == expected[sort]


def test_the_roster_csv_has_a_row_per_order_and_a_column_per_product(shop, sale, crowd):
    text = roster_csv(sale, roster(sale, by=shop.producer.user, sort="time"))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))

    seoul = [f"2025-06-02 12:0{minute}" for minute in range(3)]  # NOW is noon in Seoul
    assert rows == [
        ["Pickup code", "Name", "Phone", "Status", "Payment", "Total", "Ordered at", "배추김치", "깍두기"],
        [crowd["최민수"].pickup_code, "최민수", "", "Confirmed", "pickup", "12000", seoul[0], "1", "0"],
        [crowd["강지우"].pickup_code, "강지우", "", "Picked up", "pickup", "32000", seoul[1], "2", "1"],
        [crowd["나은비"].pickup_code, "나은비", "", "Confirmed", "pickup", "24000", seoul[2], "0", "3"],
    ]


# ---------------------------------------------------------------- cancelling a sale


def test_cancelling_a_sale_cancels_every_order_refunds_the_paid_and_tells_every_buyer(shop, sale, kimchi, mailbox):
    unpaid = buy(sale, shop.buyer, 2)
    paid = buy(sale, shop.second, 1)
    mark_paid_at_pickup(payment_for(paid), by=shop.producer.user, now=NOW)
    later = NOW + HOUR

    assert cancel_sale(sale, by=shop.producer.user, reason="  배추가 얼었어요  ", now=later) == 2

    assert (sale.cancelled_at, sale.cancel_reason, sale.status(later)) == (later, "배추가 얼었어요", "cancelled")
    db.session.expire_all()
    assert [unpaid.status, paid.status] == ["cancelled", "cancelled"]
    assert stock(kimchi.id) == (10, 0)
    assert payment_for(unpaid).status == "canceled"
    refunded = payment_for(paid)
    assert (refunded.status, refunded.refunded_amount) == ("succeeded", 12_000)
    assert ledger_kinds(refunded) == [("payment", 12_000), ("fee", -360), ("refund", -12_000), ("fee_reversal", 360)]
    assert [r.reason for r in refunded.refunds] == ["Sale cancelled by the producer"]

    deliver_due_messages(now=later)
    cancellations = [m for m in mailbox.messages if "배추가 얼었어요" in m.get_content()]
    assert sorted(m["To"] for m in cancellations) == ["buyer@example.com", "second@example.com"]
    assert unpaid.pickup_code in next(m for m in cancellations if m["To"] == "buyer@example.com").get_content()


def test_a_sale_is_cancelled_once_with_a_reason_and_not_after_pickup(shop, sale):
    with refused("Tell buyers why the sale is cancelled."):
        cancel_sale(sale, by=shop.producer.user, reason="  ", now=NOW)
    with refused("This sale is over; refund single orders instead."):
        cancel_sale(sale, by=shop.producer.user, reason="늦었어요", now=sale.pickup_ends_at)
    cancel_sale(sale, by=shop.producer.user, reason="비가 와요", now=NOW)
    with refused("This sale is already cancelled."):
        cancel_sale(sale, by=shop.producer.user, reason="또", now=NOW)

    assert sale.cancel_reason == "비가 와요"


def test_cancelling_a_sale_leaves_picked_up_orders_and_closes_the_waitlist(shop, sale, kimchi):
    handed = buy(sale, shop.buyer, 2)
    check_in(sale=sale, code=handed.pickup_code, by=shop.producer.user, now=sale.pickup_starts_at)
    set_taken(kimchi, 10)
    waiting = join_waitlist(item=kimchi, buyer=shop.second, quantity=1, now=NOW)

    assert cancel_sale(sale, by=shop.producer.user, reason="비가 와요", now=NOW) == 0

    db.session.expire_all()
    assert (handed.status, waiting.status) == ("picked_up", "lapsed")


# ---------------------------------------------------------------- waitlist


@pytest.fixture
def sold_out(shop, sale, kimchi) -> dict[str, Order]:
    """배추김치 sold out to five buyers, two each; named a to e."""
    orders = {name: buy(sale, make_user(f"{name}@example.com"), 2) for name in "abcde"}
    assert stock(kimchi.id) == (10, 10)
    return orders


def waiter(name: str):
    """A new buyer named for the waitlist tests."""
    return make_user(f"{name}@example.com", display_name=name)


def test_joining_the_waitlist_only_when_sold_out(shop, sale, kimchi):
    with refused("There is still stock: you can order it now."):
        join_waitlist(item=kimchi, buyer=shop.buyer, quantity=1, now=NOW)


def test_joining_the_waitlist_is_refused_for_bad_quantities_twice_and_when_closed(shop, sale, kimchi, sold_out):
    for quantity in (0, 3):
        with refused("You can wait for 1 to 2."):
            join_waitlist(item=kimchi, buyer=shop.buyer, quantity=quantity, now=NOW)
    with refused("Orders for this sale are closed."):
        join_waitlist(item=kimchi, buyer=shop.buyer, quantity=1, now=sale.closes_at)
    join_waitlist(item=kimchi, buyer=shop.buyer, quantity=1, now=NOW)
    with refused("You are already on the waitlist for this."):
        join_waitlist(item=kimchi, buyer=shop.buyer, quantity=2, now=NOW)


def test_waiting_is_refused_to_whom_could_never_claim(shop, sale, kimchi, sold_out):
    """The producer cannot buy, and a buyer with an order cannot place a second one: units
    held for them would only block the next in line."""
    a = db.session.get(Order, sold_out["a"].id).buyer

    with refused("You cannot order from your own sale."):
        join_waitlist(item=kimchi, buyer=shop.producer.user, quantity=1, now=NOW)
    with refused("You already have an order in this sale. Cancel it first to change it."):
        join_waitlist(item=kimchi, buyer=a, quantity=1, now=NOW)


def test_freed_stock_is_offered_in_order_of_joining_and_held(shop, sale, kimchi, sold_out, app):
    first, second, third = waiter("first"), waiter("second-in-line"), waiter("third")
    entries = [join_waitlist(item=kimchi, buyer=b, quantity=q, now=NOW + i * MINUTE)
               for i, (b, q) in enumerate([(first, 1), (second, 2), (third, 2)])]  # fmt: skip
    later = NOW + 10 * MINUTE

    cancel_order(sold_out["a"], by=sold_out["a"].buyer, now=later)

    db.session.expire_all()
    assert [(e.status, e.quantity) for e in entries] == [("offered", 1), ("offered", 1), ("waiting", 2)]
    claim = timedelta(minutes=app.config["WAITLIST_CLAIM_MINUTES"])
    assert entries[0].offer_expires_at == later + claim and entries[0].offered_at == later
    assert stock(kimchi.id) == (10, 10) == (10, units_held(kimchi.id))
    assert len(outbox_to("first@example.com")) == len(outbox_to("second-in-line@example.com")) == 1
    assert outbox_to("third@example.com") == []
    with refused("Sorry, 배추김치 just sold out."):
        buy(sale, shop.buyer, 1, now=later)


def test_an_offer_is_claimed_by_ordering_within_the_time_limit(shop, sale, kimchi, sold_out):
    entry = join_waitlist(item=kimchi, buyer=shop.buyer, quantity=2, now=NOW)
    cancel_order(sold_out["a"], by=sold_out["a"].buyer, now=NOW)

    order = buy(sale, shop.buyer, 2, now=NOW + 59 * MINUTE)

    assert (order.status, order.total) == ("confirmed", 24_000)
    assert entry.status == "claimed"
    assert stock(kimchi.id) == (10, 10) == (10, units_held(kimchi.id))


@pytest.fixture
def in_line(shop, kimchi, sold_out) -> tuple[WaitlistEntry, WaitlistEntry]:
    """buyer@ and then second@ wait for two 배추김치 each; a's order is cancelled at NOW, so the
    first is offered both units and the second still waits."""
    first = join_waitlist(item=kimchi, buyer=shop.buyer, quantity=2, now=NOW)
    second = join_waitlist(item=kimchi, buyer=shop.second, quantity=2, now=NOW + MINUTE)
    cancel_order(sold_out["a"], by=sold_out["a"].buyer, now=NOW)
    db.session.expire_all()
    assert (first.status, second.status) == ("offered", "waiting")
    return first, second


def test_claiming_fewer_than_held_passes_the_rest_on(shop, sale, kimchi, in_line):
    first, second = in_line

    buy(sale, shop.buyer, 1, now=NOW + 5 * MINUTE)

    db.session.expire_all()
    assert (first.status, second.status, second.quantity) == ("claimed", "offered", 1)
    assert stock(kimchi.id) == (10, 10) == (10, units_held(kimchi.id))


def test_a_lapsed_offer_goes_to_the_next_in_line(shop, sale, kimchi, in_line, app):
    first, second = in_line
    expires = first.offer_expires_at

    assert lapse_waitlist_offers(now=expires - MINUTE) == 0
    assert lapse_waitlist_offers(now=expires) == 1

    db.session.expire_all()
    assert (first.status, second.status) == ("lapsed", "offered")
    assert second.offer_expires_at == min(
        expires + timedelta(minutes=app.config["WAITLIST_CLAIM_MINUTES"]), sale.closes_at
    )
    assert stock(kimchi.id) == (10, 10) == (10, units_held(kimchi.id))
    with refused("Sorry, 배추김치 just sold out."):
        buy(sale, shop.buyer, 2, now=expires)


def test_an_offer_never_outlives_the_ordering_window(shop, sale, kimchi, sold_out):
    entry = join_waitlist(item=kimchi, buyer=shop.buyer, quantity=1, now=NOW)

    cancel_order(sold_out["a"], by=sold_out["a"].buyer, now=sale.closes_at - 5 * MINUTE)

    assert db.session.get(WaitlistEntry, entry.id).offer_expires_at == sale.closes_at


def test_leaving_the_waitlist_releases_held_units_to_the_next_or_back_to_sale(shop, kimchi, in_line):
    first, second = in_line

    with refused("This is not your place on the waitlist.", NotAllowed):
        leave_waitlist(first, by=shop.second, now=NOW)
    leave_waitlist(first, by=shop.buyer, now=NOW + MINUTE)

    db.session.expire_all()
    assert (first.status, second.status, second.quantity) == ("left", "offered", 2)
    assert stock(kimchi.id) == (10, 10) == (10, units_held(kimchi.id))
    leave_waitlist(second, by=shop.second, now=NOW + 2 * MINUTE)
    leave_waitlist(second, by=shop.second, now=NOW + 2 * MINUTE)  # a second click changes nothing
    assert stock(kimchi.id) == (10, 8) == (10, units_held(kimchi.id))


def test_an_expired_reservation_is_offered_to_the_waitlist(shop, sale, kimchi, sold_out):
    order = sold_out["a"]
    order.status, order.payment_method, order.reserved_until = "reserved", "stripe", NOW + 30 * MINUTE
    db.session.commit()
    entry = join_waitlist(item=kimchi, buyer=shop.buyer, quantity=2, now=NOW)

    assert expire_reservations(now=NOW + 30 * MINUTE) == 1

    db.session.expire_all()
    assert (order.status, entry.status, entry.quantity) == ("expired", "offered", 2)
    assert stock(kimchi.id) == (10, 10) == (10, units_held(kimchi.id))


def test_an_offer_lapsing_while_its_claim_is_under_way_is_not_handed_out_twice(app, shop, sale, kimchi, in_line):
    """The tick lapses the offer (and passes it on) after the checkout has read it as still held."""
    entry, next_in_line = in_line
    expires = entry.offer_expires_at
    ticked = []

    def tick_after_reading_offers(state):
        """Once, right after the checkout read the buyer's offers, run the tick in another session."""
        if state.is_select and state.statement.column_descriptions[0]["entity"] is WaitlistEntry and not ticked:
            rows = state.invoke_statement().freeze()
            with app.app_context():  # another request, with its own session
                ticked.append(lapse_waitlist_offers(now=expires))
            return rows()
        return None

    event.listen(db.session(), "do_orm_execute", tick_after_reading_offers)
    with refused("Sorry, 배추김치 just sold out."):
        buy(sale, shop.buyer, 2, now=expires - MINUTE)

    assert ticked == [1]
    db.session.expire_all()
    assert (entry.status, next_in_line.status) == ("lapsed", "offered")
    assert stock(kimchi.id) == (10, 10) == (10, units_held(kimchi.id))


def test_a_buyer_leaving_the_line_as_units_are_offered_to_them_passes_them_on(shop, kimchi, sold_out):
    """Their "leave" commits after the offer picked them as next in line but before it held the units."""
    leaving = join_waitlist(item=kimchi, buyer=shop.buyer, quantity=2, now=NOW)
    next_in_line = join_waitlist(item=kimchi, buyer=shop.second, quantity=2, now=NOW + MINUTE)
    left = []

    def leave_after_being_picked(state):
        """Once, right after the offer read who is next, mark that entry left (as another request would)."""
        if state.is_select and state.statement.column_descriptions[0]["entity"] is WaitlistEntry and not left:
            rows = state.invoke_statement().freeze()
            left.append(leaving.id)
            state.session.execute(
                update(WaitlistEntry).where(WaitlistEntry.id == leaving.id).values(status="left"),
                execution_options={"synchronize_session": False},
            )
            return rows()
        return None

    event.listen(db.session(), "do_orm_execute", leave_after_being_picked)
    cancel_order(sold_out["a"], by=sold_out["a"].buyer, now=NOW)

    db.session.expire_all()
    assert left == [leaving.id]
    assert (leaving.status, next_in_line.status, next_in_line.quantity) == ("left", "offered", 2)
    assert stock(kimchi.id) == (10, 10) == (10, units_held(kimchi.id))
    assert outbox_to("buyer@example.com") == []


# ---------------------------------------------------------------- demand by area


def test_requests_are_counted_by_area_and_asking_twice_changes_nothing(shop):
    for buyer, area in [(shop.buyer, " 마포구 "), (shop.buyer, "마포구"), (shop.second, "마포구"),
                        (shop.second, "Mapo  gu"), (shop.buyer, "Mapo gu"), (make_user(), "강남구")]:  # fmt: skip
        request_area(producer=shop.producer, buyer=buyer, area=area, now=NOW)

    assert demand_by_area(shop.producer, by=shop.producer.user) == [("Mapo gu", 2), ("마포구", 2), ("강남구", 1)]
    assert db.session.scalar(select(func.count(AreaRequest.id))) == 5


def test_area_requests_are_refused_blank_or_for_ones_own_farm_and_private(shop):
    with refused("Say which district, like Mapo-gu."):
        request_area(producer=shop.producer, buyer=shop.buyer, area="   ", now=NOW)
    with refused("This is your own farm."):
        request_area(producer=shop.producer, buyer=shop.producer.user, area="마포구", now=NOW)
    for someone in (shop.buyer, shop.other.user):
        with refused("Only the producer can change this.", NotAllowed):
            demand_by_area(shop.producer, by=someone)


def test_a_sale_in_a_requested_area_emails_those_buyers_once(shop, mailbox):
    for buyer, area in [(shop.buyer, "마포구"), (shop.second, "강남구")]:
        request_area(producer=shop.producer, buyer=buyer, area=area, now=NOW)
    request_area(producer=shop.other, buyer=shop.second, area="마포구", now=NOW)  # asked another farm

    first = make_sale(shop.producer, [(shop.kimchi, 1000, 5, 1)], point=make_point(shop.producer, area=" 마포구"))
    make_sale(shop.producer, [(shop.kimchi, 1000, 5, 1)], point=shop.point, title="또 마포구")
    deliver_due_messages(now=NOW)

    assert [m["To"] for m in mailbox.messages] == ["buyer@example.com"]
    assert f"http://farmstore.test/sales/{first.id}" in mailbox.messages[0].get_content()
    assert db.session.scalar(select(AreaRequest.notified_sale_id).where(AreaRequest.buyer_id == shop.buyer.id)) == (
        first.id
    )
