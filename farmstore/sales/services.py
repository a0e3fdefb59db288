"""Sale rules: announce a sale, take orders without ever overselling, hand over at pickup.

Stock is taken with one conditional UPDATE per item (`quantity_taken + q <= quantity`), which
the database serialises: on PostgreSQL a racing UPDATE waits for the row lock and re-checks the
condition, on SQLite writers queue. Whatever loses the race gets a clear "sold out" and its
transaction is rolled back, so no order is ever half-written.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from farmstore.catalog.models import Product, ProductPhoto
from farmstore.csvfile import csv_text, local_time
from farmstore.errors import DomainError, NotAllowed, NotFound
from farmstore.extensions import db
from farmstore.i18n import format_when
from farmstore.notifications.services import queue_email
from farmstore.payments import services as payments
from farmstore.payments.models import Payment
from farmstore.payments.providers import CARD_PROVIDERS, provider_for
from farmstore.payments.signals import payment_failed, payment_succeeded
from farmstore.producers.models import Producer
from farmstore.referrals import services as referrals
from farmstore.sales.models import (
    ACTIVE_ORDER_STATUSES,
    AreaRequest,
    Order,
    OrderLine,
    PickupPoint,
    Sale,
    SaleItem,
    WaitlistEntry,
)
from farmstore.stories.services import require_owner
from farmstore.urls import external_url

PICKUP_CODE_ALPHABET = "ACDEFGHJKLMNPQRTUVWXY34679"  # no look-alikes: 0/O, 1/I, 2/Z, 5/S, 8/B
PICKUP_CODE_LENGTH = 6
MAX_ITEMS = 20


# ---------------------------------------------------------------- pickup points


def _clean_point(*, name: str, address: str, area: str, latitude, longitude) -> tuple:
    name, address, area = name.strip(), address.strip(), normalise_area(area)
    if not name:
        raise DomainError(_l("Name the place, like Mangwon market east gate."), field="name")
    if not address:
        raise DomainError(_l("Give the address buyers will go to."), field="address")
    if not area:
        raise DomainError(_l("Give the district, like Mapo-gu."), field="area")
    coordinates = []
    for value, low, high, fieldname in ((latitude, -90, 90, "latitude"), (longitude, -180, 180, "longitude")):
        if value in (None, ""):
            coordinates.append(None)
            continue
        try:
            number = Decimal(str(value)).quantize(Decimal("0.000001"))
        except (InvalidOperation, ValueError):
            raise DomainError(_l("Enter a number like 37.556."), field=fieldname) from None
        if not low <= number <= high:
            raise DomainError(_l("This coordinate is out of range."), field=fieldname)
        coordinates.append(number)
    if (coordinates[0] is None) != (coordinates[1] is None):
        raise DomainError(_l("Give both latitude and longitude, or neither."), field="longitude")
    return name, address, area, coordinates[0], coordinates[1]


def normalise_area(area: str) -> str:
    """One spelling per district: trimmed, single spaces, at most 40 characters."""
    return re.sub(r"\s+", " ", area or "").strip()[:40]


def create_pickup_point(
    *, producer: Producer, by, name: str, address: str, area: str, latitude=None, longitude=None,
    directions: str = "", now: datetime,
) -> PickupPoint:  # fmt: skip
    """A producer saves a place to meet buyers, for this and later sales."""
    require_owner(producer, by)
    name, address, area, lat, lng = _clean_point(
        name=name, address=address, area=area, latitude=latitude, longitude=longitude
    )
    point = PickupPoint(
        producer=producer, name=name, address=address, area=area, latitude=lat, longitude=lng,
        directions=directions.strip(), created_at=now,
    )  # fmt: skip
    db.session.add(point)
    db.session.commit()
    return point


def pickup_points_of(producer: Producer) -> list[PickupPoint]:
    return list(
        db.session.scalars(select(PickupPoint).where(PickupPoint.producer_id == producer.id).order_by(PickupPoint.name))
    )


# ---------------------------------------------------------------- sales


@dataclass
class ItemSpec:
    """One line of a new sale, as the producer entered it."""

    product_id: int
    price: int
    quantity: int
    per_buyer_limit: int


def create_sale(
    *, producer: Producer, by, title: str, description: str = "", pickup_point_id: int | None,
    opens_at: datetime, closes_at: datetime, pickup_starts_at: datetime, pickup_ends_at: datetime,
    items: list[ItemSpec], reservation_minutes: int | None = None, reward_bps: int = 0, now: datetime,
) -> Sale:  # fmt: skip
    """Announce a sale. Orders are taken from opens_at to closes_at; pickup happens after the
    ordering window closes. Buyers who asked for a sale in the pickup point's area are told."""
    require_owner(producer, by)
    title = title.strip()
    if not title:
        raise DomainError(_l("Give the sale a title, like Saturday kimchi at Mangwon."), field="title")
    point = db.session.get(PickupPoint, pickup_point_id) if pickup_point_id else None
    if point is None or point.producer_id != producer.id:
        raise DomainError(_l("Choose one of your pickup points."), field="pickup_point_id")
    if closes_at <= opens_at:
        raise DomainError(_l("Orders must close after they open."), field="closes_at")
    if closes_at <= now:
        raise DomainError(_l("Orders must close in the future."), field="closes_at")
    if pickup_starts_at < closes_at:
        raise DomainError(_l("Pickup starts after orders close."), field="pickup_starts_at")
    if pickup_ends_at <= pickup_starts_at:
        raise DomainError(_l("Pickup must end after it starts."), field="pickup_ends_at")
    sale = Sale(
        producer=producer, pickup_point=point, title=title, description=description.strip(),
        opens_at=opens_at, closes_at=closes_at, pickup_starts_at=pickup_starts_at, pickup_ends_at=pickup_ends_at,
        reservation_minutes=reservation_minutes or current_app.config["RESERVATION_MINUTES"], created_at=now,
        reward_bps=referrals.checked_reward_bps(reward_bps),
    )  # fmt: skip
    sale.items = _checked_items(producer, items)
    db.session.add(sale)
    db.session.flush()
    _notify_area_requests(sale, now=now)
    db.session.commit()
    return sale


def _checked_items(producer: Producer, items: list[ItemSpec]) -> list[SaleItem]:
    if not items:
        raise DomainError(_l("Add at least one product with a quantity."), field="items")
    if len(items) > MAX_ITEMS:
        raise DomainError(_l("A sale can have at most %(n)d products.", n=MAX_ITEMS), field="items")
    product_ids = [spec.product_id for spec in items]
    if len(set(product_ids)) != len(product_ids):
        raise DomainError(_l("Each product can appear once in a sale."), field="items")
    products = {p.id: p for p in db.session.scalars(select(Product).where(Product.id.in_(product_ids)))}
    result = []
    for spec in items:
        product = products.get(spec.product_id)
        if product is None or product.producer_id != producer.id:
            raise DomainError(_l("Choose only your own products."), field="items")
        if spec.price < 0:
            raise DomainError(_l("A price cannot be negative."), field="items")
        if spec.quantity < 1:
            raise DomainError(_l("Offer at least one unit of %(name)s.", name=product.name), field="items")
        if not 1 <= spec.per_buyer_limit <= spec.quantity:
            raise DomainError(
                _l("The limit per buyer of %(name)s must be between 1 and the quantity.", name=product.name),
                field="items",
            )
        result.append(
            SaleItem(product=product, price=spec.price, quantity=spec.quantity, per_buyer_limit=spec.per_buyer_limit)
        )
    return result


def get_sale(sale_id: int) -> Sale:
    """The sale with its items, products and pickup point."""
    sale = db.session.scalar(
        select(Sale)
        .where(Sale.id == sale_id)
        .options(
            selectinload(Sale.items).selectinload(SaleItem.product),
            selectinload(Sale.pickup_point),
            selectinload(Sale.producer).selectinload(Producer.village),
        )
    )
    if sale is None:
        raise NotFound(_l("No such sale."))
    return sale


def _sales_query():
    return select(Sale).options(
        selectinload(Sale.items)
        .selectinload(SaleItem.product)
        .selectinload(Product.photos)
        .selectinload(ProductPhoto.photo),
        selectinload(Sale.pickup_point),
        selectinload(Sale.producer),
    )


def open_sales(*, now: datetime, limit: int = 12, producer_ids=None) -> list[Sale]:
    """Sales taking orders now, closing soonest first."""
    query = _sales_query().where(Sale.open_filter(now))
    if producer_ids is not None:
        query = query.where(Sale.producer_id.in_(producer_ids))
    return list(db.session.scalars(query.order_by(Sale.closes_at, Sale.id).limit(limit)))


def upcoming_sales(*, now: datetime, limit: int = 12, producer_ids=None) -> list[Sale]:
    """Announced sales that open later, soonest first."""
    query = _sales_query().where(Sale.upcoming_filter(now))
    if producer_ids is not None:
        query = query.where(Sale.producer_id.in_(producer_ids))
    return list(db.session.scalars(query.order_by(Sale.opens_at, Sale.id).limit(limit)))


def sales_of(producer: Producer) -> list[Sale]:
    """All of a producer's sales, newest first."""
    query = _sales_query().where(Sale.producer_id == producer.id).order_by(Sale.opens_at.desc(), Sale.id.desc())
    return list(db.session.scalars(query))


def sales_for_product(product: Product, *, now: datetime) -> list[Sale]:
    """Where a product can be bought now or soon: open and upcoming sales that include it."""
    query = (
        _sales_query()
        .join(SaleItem)
        .where(SaleItem.product_id == product.id, Sale.cancelled_at.is_(None), Sale.closes_at > now)
        .order_by(Sale.opens_at, Sale.id)
    )
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class LowestPrice:
    """The cheapest open offer of a product in won; `several` when its open offers differ in price
    (one price reads "25,000원", several "25,000원부터")."""

    price: int
    several: bool


def lowest_prices(product_ids, *, now: datetime) -> dict[int, LowestPrice]:
    """The lowest price of each product among the items with stock left in sales open at `now`,
    in one query whatever the number of products. Products not on sale are absent."""
    ids = {int(i) for i in product_ids}
    if not ids:
        return {}
    rows = db.session.execute(
        select(SaleItem.product_id, func.min(SaleItem.price), func.count(func.distinct(SaleItem.price)))
        .join(Sale, Sale.id == SaleItem.sale_id)
        .where(
            SaleItem.product_id.in_(ids),
            SaleItem.quantity_taken < SaleItem.quantity,
            Sale.cancelled_at.is_(None),
            Sale.opens_at <= now,
            Sale.closes_at > now,
        )
        .group_by(SaleItem.product_id)
    )
    return {product_id: LowestPrice(price=price, several=count > 1) for product_id, price, count in rows}


def cancel_sale(sale: Sale, *, by, reason: str, now: datetime) -> int:
    """The producer calls a sale off: every active order is cancelled, unpaid payments are
    dropped, paid ones refunded in full, and every buyer is told. Returns the orders cancelled."""
    require_owner(sale.producer, by)
    reason = reason.strip()
    if not reason:
        raise DomainError(_l("Tell buyers why the sale is cancelled."), field="reason")
    if sale.cancelled_at is not None:
        raise DomainError(_l("This sale is already cancelled."))
    if now >= sale.pickup_ends_at:
        raise DomainError(_l("This sale is over; refund single orders instead."))
    sale.cancelled_at, sale.cancel_reason = now, reason[:300]
    candidates = db.session.scalars(
        select(Order).where(Order.sale_id == sale.id, Order.status.in_(("reserved", "confirmed")))
    ).all()
    orders = [order for order in candidates if _give_back(order, status="cancelled", now=now)]
    for order in orders:
        _queue_to_buyer(order, "sale_cancelled", now=now, reason=reason)
    db.session.execute(
        update(WaitlistEntry)
        .where(
            WaitlistEntry.sale_item_id.in_([i.id for i in sale.items]), WaitlistEntry.status.in_(("waiting", "offered"))
        )
        .values(status="lapsed")
    )
    db.session.commit()
    for order in orders:
        _settle_money(order, reason=_l("Sale cancelled by the producer"), now=now)
    return len(orders)


# ---------------------------------------------------------------- ordering


def _check_sale_takes_orders(sale: Sale, now: datetime) -> None:
    if sale.cancelled_at is not None:
        raise DomainError(_l("This sale was cancelled."))
    if now < sale.opens_at:
        raise DomainError(_l("This sale has not opened yet."))
    if now >= sale.closes_at:
        raise DomainError(_l("Orders for this sale are closed."))


def _new_pickup_code(sale_id: int) -> str:
    while True:
        code = "".join(secrets.choice(PICKUP_CODE_ALPHABET) for _ in range(PICKUP_CODE_LENGTH))
        if db.session.scalar(select(Order.id).where(Order.sale_id == sale_id, Order.pickup_code == code)) is None:
            return code


def _take(item: SaleItem, quantity: int) -> bool:
    """Atomically take `quantity` units of an item; False when not enough are left."""
    if quantity <= 0:
        return True
    result = db.session.execute(
        update(SaleItem)
        .where(SaleItem.id == item.id, SaleItem.quantity_taken + quantity <= SaleItem.quantity)
        .values(quantity_taken=SaleItem.quantity_taken + quantity)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _put_back(item_id: int, quantity: int) -> None:
    if quantity > 0:
        db.session.execute(
            update(SaleItem)
            .where(SaleItem.id == item_id)
            .values(quantity_taken=SaleItem.quantity_taken - quantity)
            .execution_options(synchronize_session=False)
        )


def place_order(
    *, sale: Sale, buyer, quantities: dict[int, int], payment_method: str = "pickup", checkout_key: str,
    use_credit: bool = False, now: datetime,
) -> Order:  # fmt: skip
    """Order from one sale. Stock is taken atomically; prices and the total are computed here,
    never taken from the form. Submitting the same checkout twice returns the first order.
    Pay at pickup confirms at once; a card order holds its stock for `reservation_minutes`.
    With `use_credit` the buyer's store credit pays first (a credit payment beside the other one):
    gift certificates of the producer's market, then general credit.
    The chain of recommendations that brought the buyer is recorded with the order."""
    checkout_key = (checkout_key or "").strip()[:64]
    if not checkout_key:
        raise DomainError(_l("This form has expired. Please submit it again."))
    existing = db.session.scalar(select(Order).where(Order.buyer_id == buyer.id, Order.checkout_key == checkout_key))
    if existing is not None:
        return existing
    _check_sale_takes_orders(sale, now)
    if sale.producer.user_id == buyer.id:
        raise DomainError(_l("You cannot order from your own sale."))
    wanted = _checked_quantities(sale, quantities)
    if active_order_of(sale, buyer) is not None:
        raise DomainError(_l("You already have an order in this sale. Cancel it first to change it."))
    offers = {
        entry.sale_item_id: entry
        for entry in db.session.scalars(
            select(WaitlistEntry).where(
                WaitlistEntry.buyer_id == buyer.id,
                WaitlistEntry.status == "offered",
                WaitlistEntry.offer_expires_at > now,
                WaitlistEntry.sale_item_id.in_([i.id for i, _q in wanted]),
            )
        )
    }
    # Everything else is written first and the stock is taken last, just before the commit, so
    # the row locks on the sale's items are held for as short a time as possible.
    ordered = sorted(wanted, key=lambda pair: pair[0].id)  # one lock order for everyone: no deadlocks
    lines = [OrderLine(sale_item_id=item.id, quantity=quantity, unit_price=item.price) for item, quantity in ordered]
    total = sum(line.quantity * line.unit_price for line in lines)
    spendable = referrals.balance_of(buyer, producer_id=sale.producer_id, now=now) if use_credit else 0
    credit = min(referrals.claim_balance(buyer, producer_id=sale.producer_id, now=now), total) if spendable else 0
    if credit == total:
        payment_method = "pickup"  # nothing left to pay: confirmed at once
    card = payment_method in CARD_PROVIDERS
    order = Order(
        sale=sale, buyer=buyer, lines=lines, total=total,
        currency=current_app.config["CURRENCY"], payment_method=payment_method,
        status="reserved" if card else "confirmed", checkout_key=checkout_key,
        pickup_code=_new_pickup_code(sale.id), created_at=now, confirmed_at=None if card else now,
        reserved_until=now + timedelta(minutes=sale.reservation_minutes) if card else None,
    )  # fmt: skip
    db.session.add(order)
    try:
        payment = payments.new_payment(
            producer_id=sale.producer_id, buyer_id=buyer.id, amount=total - credit, provider=payment_method, order=order
        )
        from_credit = payments.new_payment(
            producer_id=sale.producer_id, buyer_id=buyer.id, amount=credit, provider="credit", order=order
        ) if credit else None  # fmt: skip
        db.session.flush()
        if from_credit is not None:
            referrals.spend_credit(from_credit, now=now)
            payments._succeed(from_credit, now=now)
    except DomainError:  # an unknown way of paying, or the credit was spent meanwhile: nothing is kept
        db.session.rollback()
        raise
    except IntegrityError:  # the same buyer's simultaneous second checkout got there first
        db.session.rollback()
        return _the_winning_checkout(buyer, checkout_key)
    referrals.record_chain(
        buyer=buyer, producer_id=sale.producer_id, now=now, order=order, sale_id=sale.id, reward_bps=sale.reward_bps
    )
    if not card:
        _queue_to_buyer(order, "order_confirmed", now=now)
    passed_on = []
    for item, quantity in ordered:
        held = offers.get(item.id)
        # The offer counts only if this request claims it: the tick may have lapsed it since.
        held_quantity = held.quantity if held and _move_entry(held, from_status="offered", to="claimed") else 0
        if not _take(item, quantity - held_quantity):
            db.session.rollback()
            left = db.session.scalar(select(SaleItem.quantity - SaleItem.quantity_taken).where(SaleItem.id == item.id))
            if left <= 0:
                raise DomainError(_l("Sorry, %(name)s just sold out.", name=item.product.name), field="items")
            raise DomainError(
                lazy_ngettext(
                    "Sorry, only %(num)d of %(name)s is left.",
                    "Sorry, only %(num)d of %(name)s are left.",
                    left,
                    name=item.product.name,
                ),
                field="items",
            )
        if held_quantity > quantity:
            _put_back(item.id, held_quantity - quantity)
            passed_on.append(item)
    for item in passed_on:
        _offer_freed_stock(item, now=now)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return _the_winning_checkout(buyer, checkout_key)
    provider_for(payment).start(payment)
    return order


@dataclass(frozen=True)
class OrderReview:
    """What a buyer is about to order, shown before anything is taken: the lines (item, quantity,
    line total), the total, how much store credit pays, what is left to pay and how."""

    lines: list[tuple[SaleItem, int, int]]
    total: int
    credit: int
    to_pay: int
    payment_method: str


def review_order(
    *, sale: Sale, buyer, quantities: dict[int, int], payment_method: str = "pickup", use_credit: bool = False,
    now: datetime,
) -> OrderReview:  # fmt: skip
    """The checkout's review step: the same checks as `place_order` (open sale, not one's own,
    quantities within the limits, no order yet), the total and the credit computed here, and no
    stock taken and nothing written: that happens only when the buyer confirms."""
    _check_sale_takes_orders(sale, now)
    if sale.producer.user_id == buyer.id:
        raise DomainError(_l("You cannot order from your own sale."))
    wanted = _checked_quantities(sale, quantities)
    if active_order_of(sale, buyer) is not None:
        raise DomainError(_l("You already have an order in this sale. Cancel it first to change it."))
    lines = [(item, quantity, item.price * quantity) for item, quantity in sorted(wanted, key=lambda p: p[0].id)]
    total = sum(line_total for _item, _quantity, line_total in lines)
    credit = min(referrals.balance_of(buyer), total) if use_credit else 0
    method = "pickup" if credit == total else payment_method
    return OrderReview(lines=lines, total=total, credit=credit, to_pay=total - credit, payment_method=method)


def _the_winning_checkout(buyer, checkout_key: str) -> Order:
    """After losing a race to a simultaneous checkout: the same form's order, or a clear refusal."""
    existing = db.session.scalar(select(Order).where(Order.buyer_id == buyer.id, Order.checkout_key == checkout_key))
    if existing is not None:
        return existing
    raise DomainError(_l("You already have an order in this sale. Cancel it first to change it."))


def active_order_of(sale: Sale, buyer) -> Order | None:
    """The buyer's order in this sale that still holds stock, if any."""
    return db.session.scalar(
        select(Order).where(
            Order.sale_id == sale.id, Order.buyer_id == buyer.id, Order.status.in_(ACTIVE_ORDER_STATUSES)
        )
    )


def waitlist_places(sale: Sale, buyer) -> dict[int, WaitlistEntry]:
    """The buyer's open waitlist places in this sale, by sale item."""
    return {
        entry.sale_item_id: entry
        for entry in db.session.scalars(
            select(WaitlistEntry).where(
                WaitlistEntry.buyer_id == buyer.id,
                WaitlistEntry.status.in_(("waiting", "offered")),
                WaitlistEntry.sale_item_id.in_([item.id for item in sale.items]),
            )
        )
    }


def _checked_quantities(sale: Sale, quantities: dict[int, int]) -> list[tuple[SaleItem, int]]:
    items = {item.id: item for item in sale.items}
    wanted = []
    for item_id, quantity in quantities.items():
        item = items.get(item_id)
        if item is None:
            raise DomainError(_l("That product is not part of this sale."), field="items")
        if not isinstance(quantity, int) or quantity < 0:
            raise DomainError(_l("Quantities must be whole numbers, zero or more."), field="items")
        if quantity > item.per_buyer_limit:
            raise DomainError(
                _l("You can order at most %(n)d of %(name)s.", n=item.per_buyer_limit, name=item.product.name),
                field="items",
            )
        if quantity:
            wanted.append((item, quantity))
    if not wanted:
        raise DomainError(_l("Choose how many you want of at least one product."), field="items")
    return wanted


@payment_succeeded.connect
def _confirm_paid_order(_sender, payment: Payment, now: datetime, **_extra) -> None:
    """A card payment arrived: confirm its order. Money that arrives for an order already
    expired or cancelled is left to `refund_late_payments` (tick), which gives it back."""
    order = payment.order
    if order is not None and order.status == "reserved" and payment.provider != "credit":
        order.status, order.confirmed_at, order.reserved_until = "confirmed", now, None
        _queue_to_buyer(order, "order_confirmed", now=now)


@payment_failed.connect
def _release_unpaid_order(_sender, payment: Payment, now: datetime, **_extra) -> None:
    """A card payment failed or was canceled at Stripe: the reserved order expires now instead of
    at the end of its reservation, its stock goes back (first to the waitlist) and the buyer is
    told. Runs inside the payment layer's transaction, which commits."""
    order = payment.order
    if order is not None and order.status == "reserved" and _give_back(order, status="expired", now=now):
        _queue_to_buyer(order, "order_expired", now=now)


def refund_late_payments(*, now: datetime) -> int:
    """Refund card payments that arrived for orders already given up (see _confirm_paid_order)."""
    late = db.session.scalars(
        select(Payment)
        .join(Order, Payment.order_id == Order.id)
        .where(
            Payment.status == "succeeded",
            Payment.refunded_amount < Payment.amount,
            Order.status.in_(("cancelled", "expired")),
        )
    ).all()
    for payment in late:
        payments.refund_everything(payment, reason=str(_l("Paid after the order had ended")), now=now)
    return len(late)


def cancel_order(order: Order, *, by, now: datetime) -> None:
    """The buyer cancels before the sale closes: stock returns (first to the waitlist) and the
    money is released or refunded."""
    if by is None or order.buyer_id != by.id:
        raise NotAllowed(_l("Only the buyer can cancel this order."))
    if not order.can_cancel(now):
        raise DomainError(_l("This order can no longer be cancelled."))
    if not _give_back(order, status="cancelled", now=now):
        db.session.rollback()  # ended by another request meanwhile; end the transaction (SQLite's write lock)
        raise DomainError(_l("This order can no longer be cancelled."))
    db.session.commit()
    _settle_money(order, reason=_l("Cancelled by the buyer"), now=now)


def _give_back(order: Order, *, status: str, now: datetime) -> bool:
    """End a reserved or confirmed order: its units go back and are offered to the waitlist.
    The status moves by a conditional UPDATE, so when two requests end the same order (two
    tabs, two ticks) only the first gives its units back; the other gets False. Caller commits."""
    ended = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status.in_(("reserved", "confirmed")))
        .values(status=status, cancelled_at=now, reserved_until=None)
        .execution_options(synchronize_session="fetch")
    )
    if ended.rowcount == 0:
        db.session.refresh(order)
        return False
    for line in order.lines:
        _put_back(line.sale_item_id, line.quantity)
    db.session.flush()
    for line in order.lines:
        _offer_freed_stock(db.session.get(SaleItem, line.sale_item_id), now=now)
    return True


def _settle_money(order: Order, *, reason, now: datetime) -> None:
    """After an order ended: drop an unpaid payment, refund a paid one."""
    for payment in db.session.scalars(select(Payment).where(Payment.order_id == order.id)):
        if payment.status == "succeeded":
            payments.refund_everything(payment, reason=str(reason), now=now)
        else:
            payments.cancel_unpaid(payment, now=now)
            db.session.commit()


def expire_reservations(*, now: datetime) -> int:
    """Give back the stock of card orders left unpaid past their reservation. A payment that
    did reach Stripe is reconciled first, so a paid order is never expired."""
    expired = 0
    due = db.session.scalars(select(Order).where(Order.status == "reserved", Order.reserved_until <= now)).all()
    for order in due:
        payment = payment_of(order)
        if payment is not None:
            provider_for(payment).reconcile(payment, now=now)
            db.session.refresh(order)
            if order.status != "reserved":
                continue
        if not _give_back(order, status="expired", now=now):
            db.session.rollback()  # another tick or the buyer ended it first
            continue
        _queue_to_buyer(order, "order_expired", now=now)
        db.session.commit()
        _settle_money(order, reason=_l("Reservation expired"), now=now)
        expired += 1
    return expired


# ---------------------------------------------------------------- waitlist


def join_waitlist(*, item: SaleItem, buyer, quantity: int, now: datetime) -> WaitlistEntry:
    """Wait for a sold-out item; freed units are offered in the order people joined."""
    _check_sale_takes_orders(item.sale, now)
    if item.remaining > 0:
        raise DomainError(_l("There is still stock: you can order it now."))
    # Units offered to someone who cannot order would only keep them from the next in line.
    if item.sale.producer.user_id == buyer.id:
        raise DomainError(_l("You cannot order from your own sale."))
    if active_order_of(item.sale, buyer) is not None:
        raise DomainError(_l("You already have an order in this sale. Cancel it first to change it."))
    if not 1 <= quantity <= item.per_buyer_limit:
        raise DomainError(_l("You can wait for 1 to %(n)d.", n=item.per_buyer_limit), field="quantity")
    entry = WaitlistEntry(sale_item=item, buyer=buyer, quantity=quantity, created_at=now)
    db.session.add(entry)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise DomainError(_l("You are already on the waitlist for this.")) from None
    return entry


def leave_waitlist(entry: WaitlistEntry, *, by, now: datetime) -> None:
    """Leave the waitlist; units held for this buyer are offered to the next one."""
    if by is None or entry.buyer_id != by.id:
        raise NotAllowed(_l("This is not your place on the waitlist."))
    held = entry.status == "offered"
    if entry.status not in ("waiting", "offered"):
        return
    if not _move_entry(entry, from_status=entry.status, to="left"):
        db.session.rollback()  # claimed or lapsed meanwhile
        return
    if held:
        _put_back(entry.sale_item_id, entry.quantity)
        _offer_freed_stock(entry.sale_item, now=now)
    db.session.commit()


def _move_entry(entry: WaitlistEntry, *, from_status: str, to: str, **values) -> bool:
    """Move a waitlist entry to status `to` only if it is still `from_status`: a buyer leaving,
    claiming and the tick lapsing the same offer must not all move its units. Caller commits."""
    moved = db.session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.id == entry.id, WaitlistEntry.status == from_status)
        .values(status=to, **values)
        .execution_options(synchronize_session="fetch")
    )
    if moved.rowcount == 0:
        db.session.refresh(entry)
    return moved.rowcount == 1


def _offer_freed_stock(item: SaleItem, *, now: datetime) -> None:
    """Hold freed units for the waitlist, first come first served, and tell each buyer. Caller commits."""
    if now >= item.sale.closes_at or item.sale.cancelled_at is not None:
        return
    claim_minutes = current_app.config["WAITLIST_CLAIM_MINUTES"]
    while True:
        db.session.refresh(item)
        if item.remaining <= 0:
            return
        entry = db.session.scalar(
            select(WaitlistEntry)
            .where(WaitlistEntry.sale_item_id == item.id, WaitlistEntry.status == "waiting")
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
            .limit(1)
        )
        if entry is None:
            return
        quantity = min(entry.quantity, item.remaining)
        if not _take(item, quantity):
            return
        expires = min(now + timedelta(minutes=claim_minutes), item.sale.closes_at)
        if not _move_entry(
            entry, from_status="waiting", to="offered", quantity=quantity, offered_at=now, offer_expires_at=expires
        ):
            _put_back(item.id, quantity)  # they left the line meanwhile: try the next one
            continue
        queue_email(
            to=entry.buyer.email, template="waitlist_offer", locale=entry.buyer.locale, now=now, entry=entry,
            sale=item.sale, link=external_url("sales.show", sale_id=item.sale_id),
        )  # fmt: skip


def lapse_waitlist_offers(*, now: datetime) -> int:
    """Offers not claimed in time lapse; their units go to the next in line."""
    lapsed = db.session.scalars(
        select(WaitlistEntry).where(WaitlistEntry.status == "offered", WaitlistEntry.offer_expires_at <= now)
    ).all()
    count = 0
    for entry in lapsed:
        if not _move_entry(entry, from_status="offered", to="lapsed"):
            db.session.rollback()  # claimed, left or lapsed by another request since it was loaded
            continue
        _put_back(entry.sale_item_id, entry.quantity)
        _offer_freed_stock(entry.sale_item, now=now)
        db.session.commit()
        count += 1
    return count


# ---------------------------------------------------------------- pickup


def check_in(*, sale: Sale, code: str, by, now: datetime, paid: bool = True) -> Order:
    """The producer hands over an order by its pickup code; a pay-at-pickup order is marked paid.
    Not before the pickup window opens: until then the buyer may still cancel."""
    require_owner(sale.producer, by)
    if now < sale.pickup_starts_at:
        raise DomainError(
            _l("Pickup starts %(when)s: check-in opens then.", when=format_when(sale.pickup_starts_at, "short")),
            field="code",
        )
    code = re.sub(r"[\s-]", "", code or "").upper()
    order = db.session.scalar(select(Order).where(Order.sale_id == sale.id, Order.pickup_code == code))
    if order is None:
        raise DomainError(_l("No order in this sale has the code %(code)s.", code=code or "—"), field="code")
    if order.status == "picked_up":
        raise DomainError(_l("This order was already picked up."), field="code")
    if order.status not in ("confirmed", "no_show"):
        raise DomainError(
            _l("This order is %(status)s and cannot be handed over.", status=order.status_label), field="code"
        )
    payment = payment_of(order)
    if payment is not None and payment.provider == "pickup" and payment.status == "pending" and paid:
        payments._succeed(payment, now=now, by=by)
    order.status, order.picked_up_at = "picked_up", now
    db.session.flush()
    referrals.settle_rewards_of(order=order, now=now)
    db.session.commit()
    return order


def mark_no_shows(*, now: datetime) -> int:
    """After the pickup window, confirmed orders nobody collected become no-shows (once per sale)."""
    marked = 0
    for sale in db.session.scalars(
        select(Sale).where(Sale.pickup_ends_at <= now, Sale.no_shows_marked_at.is_(None), Sale.cancelled_at.is_(None))
    ).all():
        result = db.session.execute(
            update(Order).where(Order.sale_id == sale.id, Order.status == "confirmed").values(status="no_show")
        )
        sale.no_shows_marked_at = now
        marked += result.rowcount
        db.session.commit()
    return marked


ROSTER_SORTS = {
    "name": lambda order: ((order.buyer.display_name if order.buyer else "").lower(), order.id),
    "code": lambda order: (order.pickup_code, order.id),
    "status": lambda order: (order.status, order.id),
    "time": lambda order: (order.created_at, order.id),
}


def roster(sale: Sale, *, by, sort: str = "name") -> list[Order]:
    """Every order of a sale with its lines and payment, for the producer at pickup."""
    require_owner(sale.producer, by)
    orders = list(
        db.session.scalars(
            select(Order)
            .where(Order.sale_id == sale.id)
            .options(selectinload(Order.buyer), selectinload(Order.lines).selectinload(OrderLine.sale_item))
        )
    )
    return sorted(orders, key=ROSTER_SORTS.get(sort, ROSTER_SORTS["name"]))


def roster_csv(sale: Sale, orders: list[Order]) -> str:
    """The roster as CSV (see farmstore.csvfile): one row per order, a column per product."""
    items = sale.items
    header = [
        _l("Pickup code"), _l("Name"), _l("Phone"), _l("Status"), _l("Payment"), _l("Total"), _l("Ordered at"),
        *[i.product.name for i in items],
    ]  # fmt: skip
    rows = []
    for order in orders:
        quantities = {line.sale_item_id: line.quantity for line in order.lines}
        rows.append(
            [
                order.pickup_code,
                order.buyer.display_name if order.buyer else "",
                order.buyer.phone if order.buyer else "",
                order.status_label,
                order.payment_method,
                order.total,
                local_time(order.created_at),
                *[quantities.get(i.id, 0) for i in items],
            ]
        )
    return csv_text(header, rows)


def get_order(order_id: int) -> Order:
    order = db.session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .options(selectinload(Order.lines).selectinload(OrderLine.sale_item).selectinload(SaleItem.product))
    )
    if order is None:
        raise NotFound(_l("No such order."))
    return order


def orders_of(buyer) -> list[Order]:
    """A buyer's orders, newest first."""
    return list(
        db.session.scalars(
            select(Order)
            .where(Order.buyer_id == buyer.id)
            .options(selectinload(Order.sale).selectinload(Sale.pickup_point), selectinload(Order.lines))
            .order_by(Order.created_at.desc(), Order.id.desc())
        )
    )


def payment_of(order: Order) -> Payment | None:
    """The order's pickup or card payment (a part paid from store credit is a payment of its own)."""
    return db.session.scalar(
        select(Payment).where(Payment.order_id == order.id, Payment.provider != "credit").order_by(Payment.id.desc())
    )


def credit_paid(order: Order) -> int:
    """How much of the order the buyer paid from store credit."""
    return db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.order_id == order.id, Payment.provider == "credit", Payment.status == "succeeded"
        )
    )


# ---------------------------------------------------------------- demand by area


def request_area(*, producer: Producer, buyer, area: str, now: datetime) -> AreaRequest:
    """A buyer asks the producer for a sale in their district; asking twice changes nothing."""
    area = normalise_area(area)
    if not area:
        raise DomainError(_l("Say which district, like Mapo-gu."), field="area")
    if producer.user_id == buyer.id:
        raise DomainError(_l("This is your own farm."), field="area")
    existing = db.session.scalar(
        select(AreaRequest).where(
            AreaRequest.producer_id == producer.id, AreaRequest.buyer_id == buyer.id, AreaRequest.area == area
        )
    )
    if existing is not None:
        return existing
    request = AreaRequest(producer_id=producer.id, buyer=buyer, area=area, created_at=now)
    db.session.add(request)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
    return request


def demand_by_area(producer: Producer, *, by) -> list[tuple[str, int]]:
    """How many buyers asked for each district, most asked first (the producer only)."""
    require_owner(producer, by)
    rows = db.session.execute(
        select(AreaRequest.area, func.count())
        .where(AreaRequest.producer_id == producer.id)
        .group_by(AreaRequest.area)
        .order_by(func.count().desc(), AreaRequest.area)
    ).all()
    return [(area, count) for area, count in rows]


def _notify_area_requests(sale: Sale, *, now: datetime) -> None:
    """Tell buyers who asked for this district that a sale is coming (once per request)."""
    requests = db.session.scalars(
        select(AreaRequest)
        .where(
            AreaRequest.producer_id == sale.producer_id,
            AreaRequest.area == sale.pickup_point.area,
            AreaRequest.notified_sale_id.is_(None),
        )
        .options(selectinload(AreaRequest.buyer))
    ).all()
    for request in requests:
        request.notified_sale_id = sale.id
        queue_email(
            to=request.buyer.email, template="area_sale", locale=request.buyer.locale, now=now, sale=sale,
            link=external_url("sales.show", sale_id=sale.id),
        )  # fmt: skip


def _queue_to_buyer(order: Order, template: str, *, now: datetime, **context) -> None:
    buyer = order.buyer
    if buyer is None:
        return
    queue_email(
        to=buyer.email, template=template, locale=buyer.locale, now=now, order=order, sale=order.sale,
        link=external_url("sales.order", order_id=order.id), **context,
    )  # fmt: skip
