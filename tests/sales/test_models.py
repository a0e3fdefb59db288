"""A sale's status follows from time and stock, and every predicate has a query filter that
selects exactly the sales the predicate accepts; orders know when they may be cancelled."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from farmstore.extensions import db
from farmstore.sales.models import Sale
from farmstore.sales.services import cancel_sale
from tests.sales.conftest import HOUR, NOW, buy, make_sale, set_taken

# Moments around the sales below: before everything, each window's edges, and after everything.
MOMENTS = [NOW + k * HOUR / 2 for k in range(-8, 12)]


@pytest.fixture
def sales(shop) -> dict[str, Sale]:
    """Sales whose ordering windows sit around NOW in different ways, one of each kind of stock:
    open now, later, earlier, sold out, partly sold out, cancelled, without stock."""
    kimchi, radish = shop.kimchi, shop.radish

    def sale(title, items=((kimchi, 10),), **windows):
        """A sale at the farm's point: 1,000 won and 1 per buyer for each (product, quantity)."""
        return make_sale(shop.producer, [(p, 1000, q, 1) for p, q in items], point=shop.point, title=title, **windows)

    made = {
        "now": sale("now"),
        "later": sale("later", opens_in=2 * HOUR, closes_in=4 * HOUR, pickup_in=5 * HOUR),
        "earlier": sale("earlier", now=NOW - 4 * HOUR, closes_in=3 * HOUR, pickup_in=3 * HOUR),
        "sold out": sale("sold out"),
        "half sold": sale("half sold", items=((kimchi, 3), (radish, 3))),
        "cancelled": sale("cancelled"),
    }
    set_taken(made["sold out"].items[0], 10)
    set_taken(made["half sold"].items[0], 3)
    cancel_sale(made["cancelled"], by=shop.producer.user, reason="비가 와요", now=NOW)
    return made


def selected(condition) -> list[str]:
    """Titles of the sales a SQL condition selects, sorted."""
    return sorted(db.session.scalars(select(Sale.title).where(condition)))


def accepted(sales: dict[str, Sale], predicate) -> list[str]:
    """Titles of the sales a Python predicate accepts, sorted."""
    return sorted(sale.title for sale in sales.values() if predicate(sale))


def test_status_at_noon_follows_time_stock_and_cancellation(sales):
    assert {title: sale.status(NOW) for title, sale in sales.items()} == {
        "now": "open",
        "later": "scheduled",
        "earlier": "closed",
        "sold out": "sold_out",
        "half sold": "open",
        "cancelled": "cancelled",
    }
    assert sales["sold out"].status_label(NOW) == "Sold out"


def test_a_sale_opens_at_opens_at_and_closes_at_closes_at(sales):
    later = sales["later"]

    assert later.status(later.opens_at - HOUR / 3600) == "scheduled"
    assert later.status(later.opens_at) == "open"
    assert later.status(later.closes_at - HOUR / 3600) == "open"
    assert later.status(later.closes_at) == "closed"


@pytest.mark.parametrize("moment", MOMENTS, ids=lambda m: f"{m:%H%M}")
def test_every_predicate_selects_what_its_filter_selects(sales, moment):
    assert selected(Sale.open_filter(moment)) == accepted(sales, lambda s: s.is_open(moment))
    assert selected(Sale.upcoming_filter(moment)) == accepted(sales, lambda s: s.is_upcoming(moment))
    assert selected(Sale.closed_filter(moment)) == accepted(sales, lambda s: s.status(moment) == "closed")


def test_the_filters_are_not_trivially_equal(sales):
    """Across the moments, each filter selects different sets, so the comparison above means something."""
    assert {tuple(selected(Sale.open_filter(m))) for m in MOMENTS} >= {(), ("half sold", "now")}
    assert selected(Sale.upcoming_filter(NOW)) == ["later"]
    assert selected(Sale.closed_filter(NOW)) == ["earlier"]


def test_an_order_can_be_cancelled_until_the_sale_closes(shop):
    sale = make_sale(shop.producer, [(shop.kimchi, 1000, 5, 1)], point=shop.point)
    order = buy(sale, shop.buyer)

    assert order.can_cancel(sale.closes_at - HOUR / 3600)
    assert not order.can_cancel(sale.closes_at)
    order.status = "picked_up"
    assert not order.can_cancel(NOW)
