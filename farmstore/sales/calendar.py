"""iCalendar files: a buyer's pickup, and a sale's ordering window and pickup."""

from __future__ import annotations

from icalendar import Calendar, Event

from farmstore.sales.models import Order, Sale
from farmstore.urls import external_url


def _calendar() -> Calendar:
    cal = Calendar()
    cal.add("prodid", "-//farmstore//sales//KO")
    cal.add("version", "2.0")
    return cal


def _pickup_event(sale: Sale, *, uid: str, summary: str, description: str, url: str) -> Event:
    point = sale.pickup_point
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", sale.created_at)
    event.add("dtstart", sale.pickup_starts_at)
    event.add("dtend", sale.pickup_ends_at)
    event.add("summary", summary)
    event.add("location", f"{point.name}, {point.address}")
    event.add("description", description)
    event.add("url", url)
    return event


def order_ics(order: Order) -> bytes:
    """One event: collecting this order, with the pickup code in the description."""
    sale = order.sale
    cal = _calendar()
    lines = "\n".join(f"{line.quantity} × {line.sale_item.product.name}" for line in order.lines)
    cal.add_component(
        _pickup_event(
            sale,
            uid=f"order-{order.id}@farmstore",
            summary=f"{sale.producer.farm_name}: {sale.title}",
            description=f"{order.pickup_code}\n{lines}\n{sale.pickup_point.directions}".strip(),
            url=external_url("sales.order", order_id=order.id),
        )
    )
    return cal.to_ical()


def sale_ics(sale: Sale) -> bytes:
    """Two events: when orders close (a reminder to order) and the pickup itself."""
    cal = _calendar()
    url = external_url("sales.show", sale_id=sale.id)
    closing = Event()
    closing.add("uid", f"sale-{sale.id}-orders@farmstore")
    closing.add("dtstamp", sale.created_at)
    closing.add("dtstart", sale.opens_at)
    closing.add("dtend", sale.closes_at)
    closing.add("summary", f"{sale.producer.farm_name}: {sale.title} (orders)")
    closing.add("url", url)
    cal.add_component(closing)
    cal.add_component(
        _pickup_event(
            sale,
            uid=f"sale-{sale.id}-pickup@farmstore",
            summary=f"{sale.producer.farm_name}: {sale.title}",
            description=sale.pickup_point.directions,
            url=url,
        )
    )
    return cal.to_ical()
