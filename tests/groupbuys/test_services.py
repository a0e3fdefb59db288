"""Group-buy rules: the bad input the issue lists, exact pledged units, and settlement that is
exactly-once and resumable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.groupbuys import services
from farmstore.groupbuys.models import GroupBuy, Pledge
from farmstore.groupbuys.services import cancel_group_buy, change_terms, pledge, settle_due_group_buys, withdraw
from farmstore.notifications.models import OutboxMessage
from farmstore.payments.models import Payment
from farmstore.timeutil import utcnow
from tests.factories import make_user
from tests.groupbuys.conftest import DAY, NOW, emails_to, make_group_buy, payments_per_pledge, pledged, statuses

HOUR = timedelta(hours=1)


def refusal(call) -> str:
    """The English message of the DomainError `call` raises."""
    with pytest.raises(DomainError) as caught:
        call()
    return str(caught.value.message)


# (1) Bad input


def test_pledge_after_the_deadline_is_refused(world):
    group_buy = make_group_buy(world.producer)
    at_deadline = group_buy.deadline
    message = refusal(lambda: pledge(group_buy=group_buy, buyer=world.buyer, units=1, now=at_deadline))
    assert message == "This group-buy is not taking pledges."
    assert pledged(group_buy.id) == (0, 0)


def test_pledge_to_a_draft_is_refused(world):
    group_buy = make_group_buy(world.producer, opened=False)
    assert refusal(lambda: pledge(group_buy=group_buy, buyer=world.buyer, units=1, now=NOW)) == (
        "This group-buy is not taking pledges."
    )


def test_pledge_over_the_per_buyer_maximum_is_refused(world):
    group_buy = make_group_buy(world.producer, per_buyer_max=4)
    message = refusal(lambda: pledge(group_buy=group_buy, buyer=world.buyer, units=5, now=NOW))
    assert message == "One household can take at most 4."
    pledge(group_buy=group_buy, buyer=world.buyer, units=4, now=NOW)
    message = refusal(lambda: pledge(group_buy=group_buy, buyer=world.buyer, units=5, now=NOW))
    assert message == "One household can take at most 4."
    assert pledged(group_buy.id) == (4, 4)


def test_pledge_over_the_remaining_units_is_refused(world):
    group_buy = make_group_buy(world.producer, total=10, minimum=5, per_buyer_max=8)
    pledge(group_buy=group_buy, buyer=world.buyer, units=7, now=NOW)
    message = refusal(lambda: pledge(group_buy=group_buy, buyer=world.second, units=4, now=NOW))
    assert message == "Only 3 units are left."
    assert pledged(group_buy.id) == (7, 7)
    pledge(group_buy=group_buy, buyer=world.second, units=3, now=NOW)
    assert pledged(group_buy.id) == (10, 10)


def test_changing_a_pledge_counts_ones_own_units_as_available(world):
    group_buy = make_group_buy(world.producer, total=10, minimum=5, per_buyer_max=10)
    pledge(group_buy=group_buy, buyer=world.buyer, units=4, now=NOW)
    pledge(group_buy=group_buy, buyer=world.second, units=5, now=NOW)
    message = refusal(lambda: pledge(group_buy=group_buy, buyer=world.buyer, units=6, now=NOW))
    assert message == "Only 5 units are left."
    pledge(group_buy=group_buy, buyer=world.buyer, units=5, now=NOW)
    assert pledged(group_buy.id) == (10, 10)


@pytest.mark.parametrize("units", [0, -1, -50])
def test_zero_or_negative_units_are_refused(world, units):
    group_buy = make_group_buy(world.producer)
    pledge(group_buy=group_buy, buyer=world.second, units=3, now=NOW)
    message = refusal(lambda: pledge(group_buy=group_buy, buyer=world.buyer, units=units, now=NOW))
    assert message == "Pledge at least one unit."
    # changing an existing pledge to zero or less is refused too (withdrawing is the way out)
    message = refusal(lambda: pledge(group_buy=group_buy, buyer=world.second, units=units, now=NOW))
    assert message == "Pledge at least one unit."
    assert pledged(group_buy.id) == (3, 3)


def test_the_producer_cannot_pledge_to_their_own_group_buy(world):
    group_buy = make_group_buy(world.producer)
    message = refusal(lambda: pledge(group_buy=group_buy, buyer=world.producer.user, units=1, now=NOW))
    assert message == "You cannot pledge to your own group-buy."


def test_lowering_the_minimum_once_pledges_exist_is_refused(world):
    group_buy = make_group_buy(world.producer, minimum=80)
    change_terms(group_buy, by=world.producer.user, min_units=70, deadline=group_buy.deadline, now=NOW)
    assert group_buy.min_units == 70  # no pledges yet: allowed
    pledge(group_buy=group_buy, buyer=world.buyer, units=1, now=NOW)
    deadline = group_buy.deadline
    message = refusal(lambda: change_terms(group_buy, by=world.producer.user, min_units=69, deadline=deadline, now=NOW))
    assert message == "People have pledged: the minimum cannot go down."
    db.session.expire_all()
    assert db.session.get(GroupBuy, group_buy.id).min_units == 70
    change_terms(group_buy, by=world.producer.user, min_units=90, deadline=deadline, now=NOW)
    assert group_buy.min_units == 90  # raising it is fine


def test_moving_the_deadline_earlier_once_pledges_exist_is_refused(world):
    group_buy = make_group_buy(world.producer)
    original = group_buy.deadline
    change_terms(group_buy, by=world.producer.user, min_units=80, deadline=original - DAY, now=NOW)
    assert group_buy.deadline == original - DAY  # no pledges yet: allowed
    pledge(group_buy=group_buy, buyer=world.buyer, units=2, now=NOW)
    earlier = original - 2 * DAY
    message = refusal(lambda: change_terms(group_buy, by=world.producer.user, min_units=80, deadline=earlier, now=NOW))
    assert message == "People have pledged: the deadline cannot move earlier."
    db.session.expire_all()
    assert db.session.get(GroupBuy, group_buy.id).deadline == original - DAY
    change_terms(group_buy, by=world.producer.user, min_units=80, deadline=original + DAY, now=NOW)
    assert group_buy.deadline == original + DAY


def test_only_the_owner_changes_terms(world):
    group_buy = make_group_buy(world.producer)
    with pytest.raises(Exception) as caught:
        change_terms(group_buy, by=world.other.user, min_units=90, deadline=group_buy.deadline, now=NOW)
    assert type(caught.value).__name__ == "NotAllowed"


def test_a_deadline_in_the_past_is_refused(world):
    message = refusal(lambda: make_group_buy(world.producer, deadline=NOW - DAY))
    assert message == "The deadline must be in the future."
    assert refusal(lambda: make_group_buy(world.producer, deadline=NOW)) == "The deadline must be in the future."
    assert db.session.scalar(select(func.count()).select_from(GroupBuy)) == 0
    group_buy = make_group_buy(world.producer)
    message = refusal(
        lambda: change_terms(group_buy, by=world.producer.user, min_units=80, deadline=NOW - DAY, now=NOW)
    )
    assert message == "The deadline must be in the future."


def test_a_draft_whose_deadline_passed_cannot_open(world):
    group_buy = make_group_buy(world.producer, opened=False, deadline=NOW + DAY)
    later = NOW + 2 * DAY
    message = refusal(lambda: services.open_group_buy(group_buy, by=world.producer.user, now=later))
    assert message == "The deadline must be in the future."
    assert group_buy.status == "draft"


@pytest.mark.parametrize(
    ("total", "minimum", "per_buyer", "expected"),
    [
        (0, 1, 1, "Offer at least one unit."),
        (10, 11, 1, "The minimum must be between 1 and the total."),
        (10, 0, 1, "The minimum must be between 1 and the total."),
        (10, 5, 11, "The most one household can take must be between 1 and the total."),
    ],
)
def test_impossible_numbers_are_refused(world, total, minimum, per_buyer, expected):
    assert refusal(lambda: make_group_buy(world.producer, total=total, minimum=minimum, per_buyer_max=per_buyer)) == (
        expected
    )


# (2) units_pledged stays exact


def test_pledge_change_and_withdraw_keep_units_pledged_exact(world):
    group_buy = make_group_buy(world.producer, total=20, minimum=10, per_buyer_max=8)
    first = pledge(group_buy=group_buy, buyer=world.buyer, units=3, now=NOW)
    assert pledged(group_buy.id) == (3, 3)
    pledge(group_buy=group_buy, buyer=world.second, units=5, now=NOW)
    assert pledged(group_buy.id) == (8, 8)
    again = pledge(group_buy=group_buy, buyer=world.buyer, units=7, now=NOW)
    assert again.id == first.id  # changed in place, not a second pledge
    assert pledged(group_buy.id) == (12, 12)
    pledge(group_buy=group_buy, buyer=world.buyer, units=2, now=NOW)
    assert pledged(group_buy.id) == (7, 7)
    withdraw(db.session.get(Pledge, first.id), by=world.buyer, now=NOW)
    assert pledged(group_buy.id) == (5, 5)
    assert statuses(group_buy.id) == ["withdrawn", "active"]
    # a withdrawn buyer may pledge again: a new pledge, a new pickup code
    back = pledge(group_buy=group_buy, buyer=world.buyer, units=1, now=NOW)
    assert back.id != first.id
    assert pledged(group_buy.id) == (6, 6)


def test_withdrawing_twice_or_after_the_deadline_changes_nothing(world):
    group_buy = make_group_buy(world.producer)
    record = pledge(group_buy=group_buy, buyer=world.buyer, units=3, now=NOW)
    other = pledge(group_buy=group_buy, buyer=world.second, units=2, now=NOW)
    late = group_buy.deadline
    assert refusal(lambda: withdraw(other, by=world.second, now=late)) == "This pledge can no longer be withdrawn."
    withdraw(record, by=world.buyer, now=NOW)
    assert refusal(lambda: withdraw(record, by=world.buyer, now=NOW)) == "This pledge can no longer be withdrawn."
    assert pledged(group_buy.id) == (2, 2)


def test_nobody_withdraws_another_buyers_pledge(world):
    group_buy = make_group_buy(world.producer)
    record = pledge(group_buy=group_buy, buyer=world.buyer, units=3, now=NOW)
    with pytest.raises(Exception) as caught:
        withdraw(record, by=world.second, now=NOW)
    assert type(caught.value).__name__ == "NotAllowed"
    assert pledged(group_buy.id) == (3, 3)


# (4) Settlement


def pledge_many(group_buy: GroupBuy, count: int, *, units: int = 1) -> list[int]:
    """`count` new buyers pledge `units` each (paying at pickup); their pledge ids."""
    ids = []
    for n in range(count):
        buyer = make_user(f"pledger{n}@example.com", display_name=f"Pledger {n}", locale="en")
        ids.append(pledge(group_buy=group_buy, buyer=buyer, units=units, now=NOW).id)
    return ids


def pledger_addresses(count: int) -> dict[str, int]:
    """One email to each pledger of `pledge_many`."""
    return {f"pledger{n}@example.com": 1 for n in range(count)}


def test_a_group_buy_that_reached_its_minimum_makes_pickup_pledges_due(world):
    group_buy = make_group_buy(world.producer, total=10, minimum=4, per_buyer_max=2)
    ids = pledge_many(group_buy, 3, units=2)
    withdrawn = pledge(group_buy=group_buy, buyer=world.buyer, units=1, now=NOW)
    withdraw(withdrawn, by=world.buyer, now=NOW)
    assert settle_due_group_buys(now=group_buy.deadline - DAY) == 0  # not yet
    assert statuses(group_buy.id) == ["active"] * 3 + ["withdrawn"]

    assert settle_due_group_buys(now=group_buy.deadline) == 3
    db.session.expire_all()
    settled = db.session.get(GroupBuy, group_buy.id)
    assert (settled.status, settled.decided_at, settled.settled_at) == (
        "succeeded",
        group_buy.deadline,
        group_buy.deadline,
    )
    assert statuses(group_buy.id) == ["due"] * 3 + ["withdrawn"]
    assert payments_per_pledge(group_buy.id) == dict.fromkeys(ids, 1)
    amounts = db.session.execute(select(Payment.amount, Payment.provider, Payment.status).order_by(Payment.id)).all()
    assert [tuple(row) for row in amounts] == [(36_000, "pickup", "pending")] * 3
    assert emails_to() == pledger_addresses(3)
    subjects = set(db.session.scalars(select(OutboxMessage.subject)))
    assert subjects == {"It's on: 북쪽 밭 배추"}
    assert pledged(group_buy.id) == (6, 6)  # due pledges still hold their units


def test_a_group_buy_short_of_its_minimum_releases_everyone_and_charges_nobody(world):
    group_buy = make_group_buy(world.producer, total=10, minimum=8, per_buyer_max=2)
    pledge_many(group_buy, 3, units=2)
    assert settle_due_group_buys(now=group_buy.deadline + DAY) == 3
    db.session.expire_all()
    assert db.session.get(GroupBuy, group_buy.id).status == "failed"
    assert statuses(group_buy.id) == ["released"] * 3
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
    assert emails_to() == pledger_addresses(3)
    bodies = list(db.session.scalars(select(OutboxMessage.body_text)))
    assert all("did not reach its minimum" in body and "nothing was charged" in body for body in bodies)


def test_a_cancelled_group_buy_releases_everyone_with_the_reason(world):
    group_buy = make_group_buy(world.producer)
    pledge_many(group_buy, 2, units=3)
    cancel_group_buy(group_buy, by=world.producer.user, reason="  Hail flattened the field  ", now=NOW)
    message = refusal(lambda: pledge(group_buy=group_buy, buyer=world.buyer, units=1, now=NOW))
    assert message == "This group-buy is not taking pledges."
    assert settle_due_group_buys(now=NOW) == 2  # no need to wait for the deadline
    assert statuses(group_buy.id) == ["released"] * 2
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
    assert emails_to() == pledger_addresses(2)
    bodies = list(db.session.scalars(select(OutboxMessage.body_text)))
    assert all("cancelled this group-buy: Hail flattened the field" in body for body in bodies)
    cancel = lambda: cancel_group_buy(group_buy, by=world.producer.user, reason="again", now=NOW)  # noqa: E731
    assert refusal(cancel) == "This group-buy is decided; its terms are fixed."


def test_settlement_killed_halfway_resumes_and_settles_everyone_exactly_once(world, monkeypatch):
    group_buy = make_group_buy(world.producer, total=20, minimum=5, per_buyer_max=2)
    ids = pledge_many(group_buy, 11)
    real_charge = services._charge
    calls = []

    def dies_on_the_fifth(*args, **kwargs):
        """The real charge, except that the process 'dies' on the fifth pledge."""
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("killed")
        return real_charge(*args, **kwargs)

    monkeypatch.setattr(services, "_charge", dies_on_the_fifth)
    with pytest.raises(RuntimeError, match="killed"):
        settle_due_group_buys(now=group_buy.deadline, batch=3)
    db.session.rollback()
    # The first batch of three was committed; the second died halfway and is lost as a whole.
    assert statuses(group_buy.id) == ["due"] * 3 + ["active"] * 8
    assert db.session.get(GroupBuy, group_buy.id).settled_at is None

    monkeypatch.setattr(services, "_charge", real_charge)
    later = group_buy.deadline + DAY  # the next tick
    assert settle_due_group_buys(now=later, batch=3) == 8
    assert statuses(group_buy.id) == ["due"] * 11
    assert payments_per_pledge(group_buy.id) == dict.fromkeys(ids, 1)
    assert emails_to() == pledger_addresses(11)
    db.session.expire_all()
    settled = db.session.get(GroupBuy, group_buy.id)
    assert (settled.status, settled.decided_at, settled.settled_at) == ("succeeded", group_buy.deadline, later)

    assert settle_due_group_buys(now=later + DAY, batch=3) == 0  # and again: nothing changes
    assert statuses(group_buy.id) == ["due"] * 11
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 11
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 11
    assert db.session.get(GroupBuy, group_buy.id).settled_at == later


def test_a_failed_release_killed_halfway_resumes(world, monkeypatch):
    group_buy = make_group_buy(world.producer, total=20, minimum=15, per_buyer_max=1)
    pledge_many(group_buy, 7)
    real_release = services._release
    calls = []

    def dies_on_the_third(*args, **kwargs):
        """The real release, except that the process 'dies' on the third pledge."""
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("killed")
        return real_release(*args, **kwargs)

    monkeypatch.setattr(services, "_release", dies_on_the_third)
    with pytest.raises(RuntimeError):
        settle_due_group_buys(now=group_buy.deadline, batch=2)
    db.session.rollback()
    monkeypatch.setattr(services, "_release", real_release)
    assert settle_due_group_buys(now=group_buy.deadline, batch=2) == 5
    assert settle_due_group_buys(now=group_buy.deadline, batch=2) == 0
    assert statuses(group_buy.id) == ["released"] * 7
    assert emails_to() == pledger_addresses(7)
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_the_outcome_is_decided_once_even_if_units_change_afterwards(world):
    group_buy = make_group_buy(world.producer, total=10, minimum=3, per_buyer_max=3)
    pledge_many(group_buy, 1, units=2)
    settle_due_group_buys(now=group_buy.deadline)
    db.session.expire_all()
    assert db.session.get(GroupBuy, group_buy.id).status == "failed"
    group_buy = db.session.get(GroupBuy, group_buy.id)
    group_buy.units_pledged = 5  # whatever happens to the row later, the decision stands
    db.session.commit()
    settle_due_group_buys(now=group_buy.deadline + DAY)
    db.session.expire_all()
    assert db.session.get(GroupBuy, group_buy.id).status == "failed"


def test_the_tick_command_settles_group_buys_and_mails_the_pledgers(world, runner, mailbox):
    started = utcnow() - 2 * DAY
    group_buy = make_group_buy(world.producer, now=started, deadline=utcnow() - HOUR, minimum=1, per_buyer_max=2)
    pledge(group_buy=group_buy, buyer=world.buyer, units=2, now=started)
    group_buy_id = group_buy.id
    result = runner.invoke(args=["farm", "tick"])
    assert result.exit_code == 0, result.output
    assert statuses(group_buy_id) == ["due"]
    assert [m["To"] for m in mailbox.messages] == ["buyer@example.com"]
    assert mailbox.messages[0]["Subject"] == "It's on: 북쪽 밭 배추"
