"""Saved cards are let go when they will never be charged: a group-buy that failed or was
cancelled, or a pledge withdrawn, detaches its card at Stripe (localstripe), once; unfinished card
setups are canceled after a day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from farmstore.extensions import db
from farmstore.groupbuys.models import Pledge
from farmstore.groupbuys.services import cancel_group_buy, pledge, release_cards, settle_due_group_buys, withdraw
from farmstore.payments import stripe_flow
from farmstore.payments.models import Payment, SavedCard, StripeCustomer
from farmstore.tick import run_tick
from tests.factories import make_producer, make_user
from tests.groupbuys.conftest import make_group_buy
from tests.payments.conftest import STRIPE_CONFIG

pytestmark = STRIPE_CONFIG


@pytest.fixture
def farm(ctx, now):
    """An open group-buy (minimum 10 of 20) and three buyers."""
    producer = make_producer()
    group_buy = make_group_buy(producer, now=now - timedelta(days=1), total=20, minimum=10)
    return group_buy, [make_user(f"pledger{n}@example.com") for n in range(3)]


def card_pledge(group_buy, buyer, *, now, units: int = 1) -> Pledge:
    """`buyer` saves a test card and pledges `units` with it."""
    card = stripe_flow.save_card(buyer, "pm_card_visa")
    return pledge(
        group_buy=group_buy, buyer=buyer, units=units, payment_method="stripe", card_payment_method_id=card, now=now
    )


def customer_of(card: str, stripe_api) -> str | None:
    """The Customer a card is saved on at localstripe (None once detached)."""
    return stripe_api.v1.payment_methods.retrieve(card).customer


def test_a_failed_group_buy_releases_every_saved_card_once(farm, now, stripe_api):
    group_buy, buyers = farm
    cards = [card_pledge(group_buy, buyer, now=now).card_payment_method_id for buyer in buyers[:2]]
    pledge(group_buy=group_buy, buyer=buyers[2], units=1, now=now)  # pay at pickup: no card
    assert all(customer_of(card, stripe_api) for card in cards)

    settle_due_group_buys(now=group_buy.deadline)
    assert release_cards(now=group_buy.deadline) == 2

    assert [customer_of(card, stripe_api) for card in cards] == [None, None]
    db.session.expire_all()
    released_at = [p.card_released_at for p in db.session.scalars(select(Pledge).order_by(Pledge.id))]
    assert released_at == [group_buy.deadline, group_buy.deadline, None]
    assert db.session.scalar(select(Payment.id)) is None  # nothing was charged
    assert stripe_api.v1.payment_intents.list().data == []

    # Someone attaches the card again at Stripe: a second run does not touch it (released once).
    stripe_api.v1.payment_methods.attach(
        cards[0], {"customer": db.session.get(StripeCustomer, buyers[0].id).customer_id}
    )
    assert release_cards(now=group_buy.deadline + timedelta(hours=1)) == 0
    assert customer_of(cards[0], stripe_api) is not None


def test_a_cancelled_group_buy_releases_cards_through_the_tick(farm, now, stripe_api):
    group_buy, buyers = farm
    card = card_pledge(group_buy, buyers[0], now=now, units=3).card_payment_method_id
    cancel_group_buy(group_buy, by=group_buy.producer.user, reason="우박 피해", now=now)

    run_tick(now=now + timedelta(minutes=1))

    assert customer_of(card, stripe_api) is None
    db.session.expire_all()
    record = db.session.scalar(select(Pledge))
    assert (record.status, record.card_released_at) == ("released", now + timedelta(minutes=1))


def test_a_withdrawn_pledge_releases_its_card_unless_another_pledge_uses_it(ctx, now, stripe_api):
    producer, buyer = make_producer(), make_user()
    first = make_group_buy(producer, now=now - timedelta(days=1), title="첫째")
    second = make_group_buy(producer, now=now - timedelta(days=1), title="둘째")
    card = stripe_flow.save_card(buyer, "pm_card_visa")
    kept = pledge(group_buy=first, buyer=buyer, units=1, payment_method="stripe", card_payment_method_id=card, now=now)
    gone = pledge(group_buy=second, buyer=buyer, units=1, payment_method="stripe", card_payment_method_id=card, now=now)

    withdraw(gone, by=buyer, now=now)
    assert release_cards(now=now) == 1
    assert customer_of(card, stripe_api) is not None  # the first pledge still counts on it

    withdraw(kept, by=buyer, now=now)
    assert release_cards(now=now) == 1
    assert customer_of(card, stripe_api) is None


def test_a_card_is_not_released_while_stripe_is_unreachable_and_is_released_later(
    app, farm, now, localstripe, stripe_api
):
    group_buy, buyers = farm
    card = card_pledge(group_buy, buyers[0], now=now).card_payment_method_id
    settle_due_group_buys(now=group_buy.deadline)
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"

    assert release_cards(now=group_buy.deadline) == 0

    app.config["STRIPE_API_BASE"] = localstripe
    assert customer_of(card, stripe_api) is not None
    assert release_cards(now=group_buy.deadline) == 1
    assert customer_of(card, stripe_api) is None


def test_a_card_saved_through_the_card_page_is_marked_released(farm, now, stripe_api):
    group_buy, buyers = farm
    secret = stripe_flow.start_card_setup(buyers[0], now=now)
    setup_intent = stripe_api.v1.setup_intents.confirm(secret.split("_secret_")[0], {"payment_method": "pm_card_visa"})
    card = stripe_flow.finish_card_setup(buyers[0], setup_intent.id, now=now)
    pledge(group_buy=group_buy, buyer=buyers[0], units=1, payment_method="stripe", card_payment_method_id=card, now=now)
    settle_due_group_buys(now=group_buy.deadline)

    release_cards(now=group_buy.deadline)

    assert customer_of(card, stripe_api) is None
    assert db.session.scalar(select(SavedCard.released_at)) == group_buy.deadline


def test_unfinished_card_setups_are_canceled_after_a_day(ctx, now, stripe_api):
    buyer, other = make_user(), make_user()
    abandoned = stripe_flow.start_card_setup(buyer, now=now - timedelta(days=2)).split("_secret_")[0]
    saved_unused = stripe_flow.start_card_setup(other, now=now - timedelta(days=2)).split("_secret_")[0]
    unused_card = stripe_api.v1.setup_intents.confirm(saved_unused, {"payment_method": "pm_card_visa"}).payment_method
    stripe_api.v1.payment_methods.attach(
        unused_card, {"customer": db.session.get(StripeCustomer, other.id).customer_id}
    )
    recent = stripe_flow.start_card_setup(make_user(), now=now - timedelta(hours=2)).split("_secret_")[0]

    assert stripe_flow.cancel_abandoned_card_setups(now=now) == 2
    assert stripe_flow.cancel_abandoned_card_setups(now=now) == 0

    assert stripe_api.v1.setup_intents.retrieve(abandoned).status == "canceled"
    assert customer_of(unused_card, stripe_api) is None
    assert stripe_api.v1.setup_intents.retrieve(recent).status == "requires_payment_method"
