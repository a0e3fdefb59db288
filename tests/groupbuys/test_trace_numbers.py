"""A group-buy of an animal shows the animal's traceability number, linked to 축산물이력제, and every
share on the allocation sheet and in its CSV carries it (each pack cut from the animal must)."""

from __future__ import annotations

import csv
import io

import pytest

from farmstore.groupbuys.services import (
    allocation,
    allocation_csv,
    create_group_buy,
    open_group_buy,
    pledge,
    settle_due_group_buys,
)
from farmstore.timeutil import utcnow
from farmstore.trace import lookup_url
from tests.groupbuys.conftest import DAY, build_world, make_group_buy
from tests.stories.conftest import make_subject

COW = "002089461327"


def cow_group_buy(world, *, now, number: str = COW):
    """누렁이 (carrying `number`) in 16 shares, two buyers pledged, decided at its deadline."""
    cow = make_subject(world.producer, "누렁이", kind="animal", trace_number=number)
    group_buy = create_group_buy(
        producer=world.producer, by=world.producer.user, subject_id=cow.id, title="누렁이 나눔",
        unit_label="1/16 지분", unit_price=420_000, total_units=16, min_units=2, per_buyer_max=4,
        deadline=now + 10 * DAY, delivery_note="냉장 택배", now=now,
    )  # fmt: skip
    open_group_buy(group_buy, by=world.producer.user, now=now)
    pledge(group_buy=group_buy, buyer=world.buyer, units=2, now=now)
    pledge(group_buy=group_buy, buyer=world.second, units=1, now=now)
    settle_due_group_buys(now=group_buy.deadline)
    return group_buy


def test_every_row_of_the_allocation_csv_carries_the_animals_number(world):
    group_buy = cow_group_buy(world, now=utcnow() - 11 * DAY)

    sheet = allocation_csv(group_buy, allocation(group_buy, by=world.producer.user)).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(sheet)))

    assert len(rows) == 2
    assert [row["Traceability number"] for row in rows] == [COW, COW]


def test_the_csv_names_the_traceability_column_even_for_a_field(world):
    group_buy = make_group_buy(world.producer)

    header = allocation_csv(group_buy, []).splitlines()[0]

    assert header.endswith(",Traceability number")


@pytest.fixture
def sheet(app):
    with app.app_context():
        world = build_world()
        return cow_group_buy(world, now=utcnow() - 11 * DAY).id


def test_the_group_buy_page_shows_the_number_with_its_lookup(client, sheet):
    page = client.get(f"/group-buys/{sheet}").get_data(as_text=True)

    assert "Traceability number" in page
    assert "002 0894 6132 7" in page
    assert f'href="{lookup_url(COW)}"'.replace("&", "&amp;") in page


def test_each_share_on_the_allocation_sheet_carries_the_number(client, auth, sheet):
    auth.login("owner@example.com")

    page = client.get(f"/group-buys/{sheet}/allocation").get_data(as_text=True)

    assert "<th>Traceability number</th>" in page
    assert page.count('<td class="trace-number">002 0894 6132 7</td>') == 2
    csv_text = client.get(f"/group-buys/{sheet}/allocation.csv").get_data(as_text=True)
    assert csv_text.count(f",{COW}") == 2


@pytest.mark.parametrize("email", ["other@example.com", "buyer@example.com"])
def test_nobody_else_sees_the_sheet(client, auth, sheet, email):
    auth.login(email)

    assert client.get(f"/group-buys/{sheet}/allocation.csv").status_code == 403
