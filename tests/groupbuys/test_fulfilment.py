"""After the deadline: the allocation sheet, check-in by pickup code, and stories sent to pledgers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from farmstore.errors import DomainError, NotAllowed
from farmstore.extensions import db
from farmstore.groupbuys.models import GroupBuy
from farmstore.groupbuys.services import (
    allocation,
    allocation_csv,
    check_in_pledge,
    pledge,
    send_story_to_pledgers,
    settle_due_group_buys,
)
from farmstore.payments.models import LedgerEntry, Payment
from farmstore.stories.services import write_post
from tests.groupbuys.conftest import DAY, NOW, emails_to, make_group_buy


@pytest.fixture
def decided(world):
    """A group-buy that reached its minimum and was settled: two pickup pledges, now due."""
    group_buy = make_group_buy(world.producer, total=10, minimum=3)
    pledge(group_buy=group_buy, buyer=world.buyer, units=2, now=NOW)
    pledge(group_buy=group_buy, buyer=world.second, units=1, now=NOW)
    settle_due_group_buys(now=group_buy.deadline + DAY)
    return group_buy


def test_the_allocation_sheet_lists_who_gets_how_many_with_codes(world, decided):
    sheet = allocation(decided, by=world.producer.user)

    assert [(p.buyer.display_name, p.units, p.status) for p in sorted(sheet, key=lambda p: p.units)] == [
        ("박두리", 1, "due"),
        ("이하나", 2, "due"),
    ]
    csv_text = allocation_csv(decided, sheet)
    assert all(p.pickup_code in csv_text for p in sheet)
    assert "36000" in csv_text  # 2 × 18,000


def test_only_the_producer_sees_the_allocation_sheet(world, decided):
    with pytest.raises(NotAllowed):
        allocation(decided, by=world.other.user)


def test_check_in_records_the_money_and_fulfils_when_everyone_has_their_share(world, decided):
    first, second = allocation(decided, by=world.producer.user)
    later = decided.deadline + 5 * DAY

    check_in_pledge(group_buy=decided, code=first.pickup_code.lower(), by=world.producer.user, now=later)
    assert db.session.get(GroupBuy, decided.id).status == "succeeded"
    check_in_pledge(group_buy=decided, code=f" {second.pickup_code} ", by=world.producer.user, now=later)

    db.session.expire_all()
    assert db.session.get(GroupBuy, decided.id).status == "fulfilled"
    paid = db.session.scalars(select(Payment.status).where(Payment.pledge_id.in_([first.id, second.id]))).all()
    assert paid == ["succeeded", "succeeded"]
    ledger = db.session.scalars(select(LedgerEntry.amount).where(LedgerEntry.kind == "payment")).all()
    assert sorted(ledger) == [18_000, 36_000]


def test_a_pledge_is_handed_over_once(world, decided):
    first = allocation(decided, by=world.producer.user)[0]
    check_in_pledge(group_buy=decided, code=first.pickup_code, by=world.producer.user, now=NOW + 40 * DAY)

    with pytest.raises(DomainError, match="already picked up"):
        check_in_pledge(group_buy=decided, code=first.pickup_code, by=world.producer.user, now=NOW + 40 * DAY)


def test_an_unknown_code_is_refused(world, decided):
    with pytest.raises(DomainError, match="No pledge to hand over"):
        check_in_pledge(group_buy=decided, code="ZZZZZZ", by=world.producer.user, now=NOW + 40 * DAY)


def test_a_story_on_the_subject_reaches_every_pledger_once(world):
    group_buy = make_group_buy(world.producer)
    pledge(group_buy=group_buy, buyer=world.buyer, units=2, now=NOW)
    pledge(group_buy=group_buy, buyer=world.second, units=1, now=NOW)
    post = write_post(
        group_buy.subject, by=world.producer.user, happened_on=None, title="첫 결구", body="속이 차기 시작했어요.",
        now=NOW,
    )  # fmt: skip

    sent = send_story_to_pledgers(post, by=world.producer.user, now=NOW)

    assert sent == 2
    counts = emails_to()
    assert counts["buyer@example.com"] == 1
    assert counts["second@example.com"] == 1


def test_only_the_producer_can_send_a_story_to_pledgers(world):
    group_buy = make_group_buy(world.producer)
    post = write_post(group_buy.subject, by=world.producer.user, happened_on=None, title="x", body="y", now=NOW)

    with pytest.raises(NotAllowed):
        send_story_to_pledgers(post, by=world.other.user, now=NOW)


def test_the_allocation_sheet_shows_the_pledgers_phone_to_the_producer_only(world, decided, client, auth):
    world.buyer.phone = "010-4321-8765"
    db.session.commit()
    auth.login("owner@example.com")
    assert "010-4321-8765" in client.get(f"/group-buys/{decided.id}/allocation").get_data(as_text=True)
    auth.logout()
    auth.login("other@example.com")
    response = client.get(f"/group-buys/{decided.id}/allocation")
    assert response.status_code in (403, 404)
    assert "010-4321-8765" not in client.get(f"/group-buys/{decided.id}").get_data(as_text=True)
