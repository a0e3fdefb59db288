"""Animals sold by weight: each share's final weight is settled once before pickup, the difference
changing what is due at pickup (card pledges: tests/payments/test_group_buy_final_weight_cards.py),
and the ledger still adds up. Then the allocation sheet's weight input and the buyer's panel."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm.attributes import set_committed_value

from farmstore.errors import DomainError, NotAllowed
from farmstore.extensions import db
from farmstore.groupbuys.models import Pledge
from farmstore.groupbuys.services import (
    allocation,
    allocation_csv,
    check_in_pledge,
    create_group_buy,
    open_group_buy,
    pledge,
    settle_due_group_buys,
    settle_final_weight,
)
from farmstore.notifications.models import OutboxMessage
from farmstore.payments.models import LedgerEntry, Payment
from farmstore.payments.services import fee_for, payout_report
from farmstore.timeutil import utcnow
from tests.groupbuys.conftest import DAY, NOW, build_world, make_group_buy
from tests.stories.conftest import make_subject

PRICE = 420_000  # one share, assumed 18 kg
PER_KG = 25_000


def weighed_group_buy(world, *, now=NOW, units=(2, 1), settle=True):
    """A hanwoo of 16 shares at 420,000 won (about 18 kg each, 25,000 won per kg), delivered; the
    buyer and the second buyer pledge `units` to pay at pickup; settled unless `settle` is False."""
    cow = make_subject(world.producer, "누렁이", kind="animal")
    group_buy = create_group_buy(
        producer=world.producer, by=world.producer.user, subject_id=cow.id, title="누렁이 나눔",
        unit_label="1/16 지분 (약 18kg)", unit_price=PRICE, total_units=16, min_units=2, per_buyer_max=4,
        deadline=now + 10 * DAY, delivery_note="냉장 택배", price_per_kg=PER_KG, grams_per_unit=18_000, now=now,
    )  # fmt: skip
    open_group_buy(group_buy, by=world.producer.user, now=now)
    first = pledge(group_buy=group_buy, buyer=world.buyer, units=units[0], now=now)
    second = pledge(group_buy=group_buy, buyer=world.second, units=units[1], now=now)
    if settle:
        settle_due_group_buys(now=group_buy.deadline)
    db.session.expire_all()
    return group_buy, first, second


def amount_due(record: Pledge) -> int:
    return db.session.scalar(select(Payment.amount).where(Payment.pledge_id == record.id))


# ---------------------------------------------------------------- the terms


@pytest.mark.parametrize(
    ("price_per_kg", "grams_per_unit", "field", "message"),
    [
        (25_000, None, "grams_per_unit", "Give the weight one unit assumes"),
        (None, 18_000, "price_per_kg", "Give a price per kg above zero"),
        (0, 18_000, "price_per_kg", "Give a price per kg above zero"),
        (25_000, -5, "grams_per_unit", "Give the weight one unit assumes"),
    ],
)
def test_selling_by_weight_needs_both_the_price_per_kg_and_the_weight_of_a_unit(
    world, price_per_kg, grams_per_unit, field, message
):
    with pytest.raises(DomainError, match=message) as refused:
        create_group_buy(
            producer=world.producer, by=world.producer.user, subject_id=world.field.id, title="t", unit_label="u",
            unit_price=PRICE, total_units=16, min_units=2, per_buyer_max=4, deadline=NOW + DAY,
            delivery_note="택배", price_per_kg=price_per_kg, grams_per_unit=grams_per_unit, now=NOW,
        )  # fmt: skip
    assert refused.value.field == field


# ---------------------------------------------------------------- pay at pickup


def test_a_lighter_share_due_at_pickup_costs_less_and_the_buyer_is_told(world):
    group_buy, first, _second = weighed_group_buy(world)
    assert (first.status, amount_due(first)) == ("due", 2 * PRICE)

    settle_final_weight(first, grams=34_200, by=world.producer.user, now=group_buy.deadline + DAY)

    db.session.expire_all()
    record = db.session.get(Pledge, first.id)
    # 2 shares assumed 36 kg; 34.2 kg is 1.8 kg lighter: 45,000 won less
    assert (record.final_grams, record.weight_difference) == (34_200, -45_000)
    assert amount_due(first) == 2 * PRICE - 45_000
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == "buyer@example.com")).all()[-1]
    assert mail.subject == "Your share is weighed: 누렁이 나눔"
    assert "Final weight: 34.2 kg (the price assumed 36 kg)." in mail.body_text
    assert "You pay ₩795,000 at pickup, ₩45,000 less." in mail.body_text


def test_a_heavier_share_due_at_pickup_costs_more_and_check_in_collects_it(world):
    group_buy, _first, second = weighed_group_buy(world)
    later = group_buy.deadline + DAY

    settle_final_weight(second, grams=19_030, by=world.producer.user, now=later)
    check_in_pledge(group_buy=group_buy, code=second.pickup_code, by=world.producer.user, now=later)

    db.session.expire_all()
    payment = db.session.scalar(select(Payment).where(Payment.pledge_id == second.id))
    assert (payment.status, payment.amount) == ("succeeded", PRICE + 25_750)  # 1.03 kg × 25,000
    ledger = db.session.scalars(select(LedgerEntry.amount).where(LedgerEntry.payment_id == payment.id)).all()
    assert sorted(ledger) == [-fee_for(PRICE + 25_750), PRICE + 25_750]


def test_a_share_far_lighter_than_assumed_never_owes_less_than_nothing(world):
    group_buy, _first, second = weighed_group_buy(world)

    settle_final_weight(second, grams=1, by=world.producer.user, now=group_buy.deadline + DAY)

    db.session.expire_all()
    assert amount_due(second) == 0
    assert db.session.get(Pledge, second.id).weight_difference == -PRICE


def test_the_weight_is_settled_exactly_once(world):
    group_buy, first, _second = weighed_group_buy(world)
    later = group_buy.deadline + DAY
    settle_final_weight(first, grams=37_000, by=world.producer.user, now=later)
    mails = db.session.scalar(select(func.count()).select_from(OutboxMessage))

    with pytest.raises(DomainError, match="already settled"):
        settle_final_weight(first, grams=30_000, by=world.producer.user, now=later + DAY)
    stale = db.session.get(Pledge, first.id)  # as a simultaneous request loaded it, before the first settled
    set_committed_value(stale, "weight_settled_at", None)
    with pytest.raises(DomainError, match="already settled"):
        settle_final_weight(stale, grams=30_000, by=world.producer.user, now=later + DAY)

    db.session.expire_all()
    record = db.session.get(Pledge, first.id)
    assert (record.final_grams, record.weight_difference) == (37_000, 25_000)
    assert amount_due(first) == 2 * PRICE + 25_000
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == mails


def test_only_the_producer_weighs_a_share(world):
    group_buy, first, _second = weighed_group_buy(world)
    for someone in (world.other.user, world.buyer, None):
        with pytest.raises(NotAllowed):
            settle_final_weight(first, grams=36_000, by=someone, now=group_buy.deadline + DAY)
    assert db.session.get(Pledge, first.id).weight_settled_at is None


@pytest.mark.parametrize("grams", [0, -500, "18kg"])
def test_a_weight_must_be_grams_above_zero(world, grams):
    group_buy, first, _second = weighed_group_buy(world)
    with pytest.raises(DomainError, match="Enter the final weight in grams, above zero") as refused:
        settle_final_weight(first, grams=grams, by=world.producer.user, now=group_buy.deadline + DAY)
    assert refused.value.field == "grams"


def test_a_share_is_weighed_only_after_it_is_on_and_before_pickup(world):
    group_buy, first, second = weighed_group_buy(world, settle=False)
    with pytest.raises(DomainError, match="once the group-buy is on"):
        settle_final_weight(first, grams=36_000, by=world.producer.user, now=NOW + DAY)
    settle_due_group_buys(now=group_buy.deadline)
    check_in_pledge(group_buy=group_buy, code=second.pickup_code, by=world.producer.user, now=group_buy.deadline)
    with pytest.raises(DomainError, match="before pickup"):
        settle_final_weight(second, grams=18_000, by=world.producer.user, now=group_buy.deadline)


def test_a_group_buy_not_sold_by_weight_has_no_final_weight(world):
    group_buy = make_group_buy(world.producer, total=10, minimum=1)
    record = pledge(group_buy=group_buy, buyer=world.buyer, units=1, now=NOW)
    settle_due_group_buys(now=group_buy.deadline)
    with pytest.raises(DomainError, match="not sold by weight"):
        settle_final_weight(record, grams=3_000, by=world.producer.user, now=group_buy.deadline)


def test_the_payout_report_adds_up_after_weights_and_pickups(world):
    group_buy, first, second = weighed_group_buy(world)
    later = group_buy.deadline + DAY
    settle_final_weight(first, grams=35_000, by=world.producer.user, now=later)
    settle_final_weight(second, grams=18_500, by=world.producer.user, now=later)
    for record in (first, second):
        check_in_pledge(group_buy=group_buy, code=record.pickup_code, by=world.producer.user, now=later)

    csv_text = allocation_csv(group_buy, allocation(group_buy, by=world.producer.user))
    picked_up = later.astimezone(ZoneInfo("Asia/Seoul")).strftime("%Y-%m-%d %H:%M")
    assert f"{first.pickup_code},이하나,,2,1/16 지분 (약 18kg),815000,Paid,{picked_up},35000" in csv_text
    report = payout_report(world.producer, start=NOW, end=later + DAY)  # raises if it does not add up
    gross = 2 * PRICE - 25_000 + PRICE + 12_500
    assert (report.gross, report.refunds) == (gross, 0)
    assert report.fees == fee_for(2 * PRICE - 25_000) + fee_for(PRICE + 12_500)
    assert report.net == gross - report.fees


# ---------------------------------------------------------------- pages


@pytest.fixture
def sheet(app):
    """A weighed group-buy decided a day ago (deadline around the real clock), as ids and codes."""
    with app.app_context():
        world = build_world()
        group_buy, first, second = weighed_group_buy(world, now=utcnow() - 11 * DAY)
        return {"group_buy_id": group_buy.id, "first": first.id, "second": second.id, "code": first.pickup_code}


def text_of(response) -> str:
    html = response.get_data(as_text=True).replace("&#39;", "'")
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_producer_enters_a_final_weight_on_the_allocation_sheet(client, auth, sheet, app):
    auth.login("owner@example.com")
    page = client.get(f"/group-buys/{sheet['group_buy_id']}/allocation")
    assert f'action="/pledges/{sheet["first"]}/final-weight"' in page.get_data(as_text=True)

    response = client.post(f"/pledges/{sheet['first']}/final-weight", data={"grams": "34200"}, follow_redirects=True)

    text = text_of(response)
    assert f"Final weight saved for {sheet['code']}." in text
    assert "34.2 kg · difference −₩45,000" in text
    assert f'action="/pledges/{sheet["first"]}/final-weight"' not in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Pledge, sheet["first"]).final_grams == 34_200


@pytest.mark.parametrize("grams", ["", "0", "-3", "heavy"])
def test_a_bad_weight_from_the_sheet_gets_a_clear_message(client, auth, sheet, app, grams):
    auth.login("owner@example.com")
    response = client.post(f"/pledges/{sheet['first']}/final-weight", data={"grams": grams}, follow_redirects=True)
    assert "Enter the final weight in grams, above zero." in text_of(response)
    with app.app_context():
        assert db.session.get(Pledge, sheet["first"]).weight_settled_at is None


@pytest.mark.parametrize("email", ["other@example.com", "buyer@example.com"])
def test_nobody_else_settles_a_weight(client, auth, sheet, app, email):
    auth.login(email)
    assert client.post(f"/pledges/{sheet['first']}/final-weight", data={"grams": "1"}).status_code == 403
    with app.app_context():
        assert db.session.get(Pledge, sheet["first"]).weight_settled_at is None


def test_the_buyer_sees_the_final_weight_and_what_it_changed(client, auth, sheet):
    auth.login("buyer@example.com")
    before = text_of(client.get(f"/group-buys/{sheet['group_buy_id']}"))
    assert "Your share is weighed before pickup: at ₩25,000 per kg" in before
    client.post("/logout")
    auth.login("owner@example.com")
    client.post(f"/pledges/{sheet['first']}/final-weight", data={"grams": "37000"})
    client.post("/logout")
    auth.login("buyer@example.com")

    text = text_of(client.get(f"/group-buys/{sheet['group_buy_id']}"))

    assert "Final weight: 37 kg (the price assumed 36 kg)." in text
    assert "You pay ₩865,000 at pickup, ₩25,000 more." in text
    assert "Bring ₩865,000" in text or "Pay ₩865,000" in text


def test_the_group_buy_form_takes_the_weight_terms(client, auth, app):
    with app.app_context():
        world = build_world()
        slug, field_id = world.producer.slug, world.field.id
    auth.login("owner@example.com")
    form = {
        "subject_id": field_id, "title": "Hanwoo by weight", "unit_label": "one share", "unit_price": PRICE,
        "total_units": 16, "min_units": 8, "per_buyer_max": 2,
        "deadline": (utcnow() + 10 * DAY).strftime("%Y-%m-%dT%H:%M"), "pickup_point_id": 0,
        "delivery_note": "Chilled", "price_per_kg": PER_KG,
    }  # fmt: skip
    refused = client.post(f"/producers/{slug}/group-buys/new", data=form)
    assert "Give the weight one unit assumes, in grams, or leave both weight fields empty." in text_of(refused)

    assert client.post(f"/producers/{slug}/group-buys/new", data=form | {"grams_per_unit": 18_000}).status_code == 302
    with app.app_context():
        from farmstore.groupbuys.models import GroupBuy

        made = db.session.scalar(select(GroupBuy).where(GroupBuy.title == "Hanwoo by weight"))
        assert (made.price_per_kg, made.grams_per_unit) == (PER_KG, 18_000)
