"""The facts an online food listing must state (전자상거래 등에서의 상품 등의 정보제공에 관한 고시):
checked when the producer saves them, and laid out as the product page's labelling panel.

Fresh produce, meat and fish (농축수산물) must state the item, the quantity per pack, the producer,
the origin, the packing date, the use-by or best-before date, what the law asks for that food (for
meat: the grade and the traceability number), storage and a consumer phone number. Processed food
(가공식품: tea, kimchi) states its food type and ingredients as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from farmstore.catalog.models import INGREDIENTS_MAX_LENGTH, ORIGIN_MAX_LENGTH, STORAGE_MAX_LENGTH, Product
from farmstore.errors import DomainError
from farmstore.trace import check_grade, check_product_number, display, is_lot_number, lookup_url

# Categories sold as processed food (가공식품) rather than fresh produce.
PROCESSED = {"tea", "preserves"}
# Categories whose grade the law asks to be shown (축산법 등급: meat; 계란 등급: eggs).
GRADED = {"meat", "dairy_eggs"}
MAX_GRAMS = 1_000_000


def check_label_facts(
    *, category: str, trace_number: str = "", grade: str = "", origin: str = "", storage: str = "",
    ingredients: str = "", packed_on: date | None = None, use_by: date | None = None,
    weight_grams: int | None = None, today: date,
) -> dict:  # fmt: skip
    """The label facts, trimmed and checked, as Product attributes. Any may be left empty. A packing
    date cannot be in the future and the use-by date cannot come before it."""
    facts = {
        "trace_number": check_product_number(trace_number),
        "grade": check_grade(grade, category=category),
        "origin": (origin or "").strip(),
        "storage": (storage or "").strip(),
        "ingredients": (ingredients or "").strip(),
        "packed_on": packed_on,
        "use_by": use_by,
        "weight_grams": weight_grams,
    }
    for field, limit in (
        ("origin", ORIGIN_MAX_LENGTH), ("storage", STORAGE_MAX_LENGTH), ("ingredients", INGREDIENTS_MAX_LENGTH),
    ):  # fmt: skip
        if len(facts[field]) > limit:
            raise DomainError(_l("Use at most %(n)d characters.", n=limit), field=field)
    if weight_grams is not None and not 1 <= weight_grams <= MAX_GRAMS:
        raise DomainError(_l("Give the weight in grams, from 1 to 1,000,000."), field="weight_grams")
    if packed_on and packed_on > today:
        raise DomainError(_l("This date is in the future."), field="packed_on")
    if packed_on and use_by and use_by < packed_on:
        raise DomainError(_l("The use-by date cannot come before the packing date."), field="use_by")
    return facts


@dataclass(frozen=True)
class Fact:
    """One line of the labelling panel: what it is, what the producer states (None: not stated) and,
    for traceability numbers, the official lookup."""

    label: str
    value: str | None
    link: str | None = None


def weight_text(grams: int) -> str:
    """1,500 g as "1.5 kg", 300 g as "300 g"."""
    if grams >= 1000:
        return f"{format_decimal(grams / 1000, format='#,##0.###')} kg"
    return f"{format_decimal(grams)} g"


def traced(product: Product) -> list[tuple[str, str | None]]:
    """The traceability numbers a buyer can look up for this product, each with the name of the
    animal it belongs to (None for the product's own number): its own (a lot or an animal number)
    first, then those of the animals it comes from."""
    numbers: list[tuple[str, str | None]] = [(product.trace_number, None)] if product.trace_number else []
    numbers += [
        (s.trace_number, s.name) for s in product.subjects if s.trace_number and s.trace_number != product.trace_number
    ]
    return numbers


def label_facts(product: Product, format_day) -> list[Fact]:
    """Every fact the listing rules require for this kind of food, in the order of the notice.
    `format_day` shows a date in the reader's language."""
    producer = product.producer
    quantity = product.unit
    if product.weight_grams:
        quantity = f"{weight_text(product.weight_grams)} · {product.unit}"
    facts = [Fact(_("Item"), product.name)]
    if product.category in PROCESSED:
        facts.append(Fact(_("Food type"), product.category_label))
    facts += [
        Fact(_("Quantity per pack"), quantity),
        Fact(_("Producer"), f"{producer.farm_name} · {producer.village.name}"),
        Fact(_("Origin"), product.origin or None),
    ]
    if product.category in PROCESSED:
        facts.append(Fact(_("Ingredients"), product.ingredients or None))
    facts += [
        Fact(_("Packed on"), format_day(product.packed_on) if product.packed_on else None),
        Fact(_("Use-by or best-before date"), format_day(product.use_by) if product.use_by else None),
    ]
    if product.category in GRADED:
        facts.append(Fact(_("Grade"), product.grade or None))
    elif product.grade:
        facts.append(Fact(_("Grade"), product.grade))
    numbers = traced(product)
    if product.category == "meat" and not numbers:
        facts.append(Fact(_("Traceability number"), None))
    for number, subject_name in numbers:
        if subject_name:
            label = _("Traceability number (%(name)s)", name=subject_name)
        else:
            label = _("Lot number") if is_lot_number(number) else _("Traceability number")
        facts.append(Fact(label, display(number), lookup_url(number)))
    facts += [
        Fact(_("Storage"), product.storage or None),
        Fact(_("Consumer contact"), producer.contact or None),
    ]
    return facts
