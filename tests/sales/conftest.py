"""Helpers for the sales tests: a farm with pickup points and products, sales made through the real
service at chosen times, orders placed as a buyer would, and a world of buyers around them.

Assertions are on the English source text, so these tests use the English-reading
`ctx` and `client`. Service tests run at the fixed NOW; view tests make their sales around the real
clock, because the views ask it for the time.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from farmstore.extensions import db
from farmstore.payments.models import LedgerEntry, Payment
from farmstore.producers.models import Producer
from farmstore.sales.models import Order, OrderLine, PickupPoint, Sale, SaleItem, WaitlistEntry
from farmstore.sales.services import ItemSpec, create_pickup_point, create_sale, place_order
from tests.catalog.conftest import make_product
from tests.english import client, ctx  # noqa: F401 (fixtures, found by pytest by name)
from tests.factories import make_producer, make_user, make_village

NOW = datetime(2025, 6, 2, 3, 0, tzinfo=UTC)  # Monday noon in Seoul
HOUR = timedelta(hours=1)
_keys = itertools.count(1)


def make_point(
    producer: Producer, *, name: str = "망원시장 동문", area: str = "마포구", now: datetime = NOW
) -> PickupPoint:
    """A pickup point of `producer` in `area`, saved by its owner."""
    return create_pickup_point(
        producer=producer, by=producer.user, name=name, address="서울 마포구 포은로 8길", area=area, now=now
    )


def make_sale(
    producer: Producer,
    items: list[tuple],
    *,
    point: PickupPoint | None = None,
    title: str = "토요일 김치",
    now: datetime = NOW,
    opens_in: timedelta = -HOUR,
    closes_in: timedelta = 2 * HOUR,
    pickup_in: timedelta = 3 * HOUR,
    pickup_hours: int = 2,
) -> Sale:
    """A sale of `producer` whose windows are placed relative to `now` (open at `now` by default).

    `items` are (product, price, quantity, per_buyer_limit) tuples."""
    return create_sale(
        producer=producer,
        by=producer.user,
        title=title,
        pickup_point_id=(point or make_point(producer)).id,
        opens_at=now + opens_in,
        closes_at=now + closes_in,
        pickup_starts_at=now + pickup_in,
        pickup_ends_at=now + pickup_in + timedelta(hours=pickup_hours),
        items=[
            ItemSpec(product_id=p.id, price=price, quantity=q, per_buyer_limit=limit) for p, price, q, limit in items
        ],
        now=now,
    )


def buy(
    sale: Sale, buyer, amounts: dict[SaleItem, int] | int = 1, *, now: datetime = NOW, key: str | None = None
) -> Order:
    """`buyer` orders from `sale`, paying at pickup: `amounts` per item, or a number of the first item."""
    if isinstance(amounts, int):
        amounts = {sale.items[0]: amounts}
    return place_order(
        sale=sale,
        buyer=buyer,
        quantities={item.id: quantity for item, quantity in amounts.items()},
        checkout_key=key or f"checkout-{next(_keys)}",
        now=now,
    )


def set_taken(item: SaleItem, taken: int) -> None:
    """Pretend `taken` units of `item` are held already (as if bought earlier)."""
    item.quantity_taken = taken
    db.session.commit()


def stock(item_id: int) -> tuple[int, int]:
    """(quantity, quantity_taken) of a sale item as the database has it now."""
    db.session.expire_all()
    item = db.session.get(SaleItem, item_id)
    return item.quantity, item.quantity_taken


def units_held(item_id: int) -> int:
    """Units of an item that active orders and open waitlist offers hold: what quantity_taken
    must always equal."""
    ordered = db.session.scalar(
        select(func.coalesce(func.sum(OrderLine.quantity), 0))
        .join(Order)
        .where(OrderLine.sale_item_id == item_id, Order.status.in_(("reserved", "confirmed", "picked_up", "no_show")))
    )
    offered = db.session.scalar(
        select(func.coalesce(func.sum(WaitlistEntry.quantity), 0)).where(
            WaitlistEntry.sale_item_id == item_id, WaitlistEntry.status == "offered"
        )
    )
    return ordered + offered


def payment_for(order: Order) -> Payment:
    """The (only) payment of an order."""
    return db.session.scalar(select(Payment).where(Payment.order_id == order.id))


def ledger_kinds(payment: Payment) -> list[tuple[str, int]]:
    """(kind, amount) of a payment's ledger rows, in the order written."""
    rows = db.session.scalars(select(LedgerEntry).where(LedgerEntry.payment_id == payment.id).order_by(LedgerEntry.id))
    return [(row.kind, row.amount) for row in rows]


def build_farm() -> SimpleNamespace:
    """느릅골 농장 (owner@example.com) with a pickup point in 마포구 and two products; another farm
    (other@example.com) with its own point and product; buyers buyer@ and second@example.com."""
    owner = make_user("owner@example.com", display_name="농부 김씨")
    producer = make_producer(owner, make_village("들꽃마을"), farm_name="느릅골 농장")
    other = make_producer(make_user("other@example.com"), farm_name="옆집 농장")
    return SimpleNamespace(
        producer=producer,
        point=make_point(producer),
        kimchi=make_product(producer, "배추김치"),
        radish=make_product(producer, "깍두기"),
        other=other,
        other_point=make_point(other, name="옆집 마당"),
        other_product=make_product(other, "옆집 된장"),
        buyer=make_user("buyer@example.com", display_name="이하나"),
        second=make_user("second@example.com", display_name="박두리"),
    )


@pytest.fixture
def shop(ctx) -> SimpleNamespace:  # noqa: F811 (the English ctx imported above)
    """The farm of `build_farm`, as objects, for service tests (inside an English app context)."""
    return build_farm()


@pytest.fixture
def farm(app) -> SimpleNamespace:
    """The farm of `build_farm`, as ids and slugs, for view tests."""
    with app.app_context():
        world = build_farm()
        return SimpleNamespace(
            slug=world.producer.slug,
            producer_id=world.producer.id,
            point_id=world.point.id,
            kimchi_id=world.kimchi.id,
            radish_id=world.radish.id,
            other_slug=world.other.slug,
            other_point_id=world.other_point.id,
            other_product_id=world.other_product.id,
            buyer_id=world.buyer.id,
            second_id=world.second.id,
        )
