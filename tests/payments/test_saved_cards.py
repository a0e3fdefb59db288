"""Saved cards for group-buys: one Stripe Customer per account, a card saved to it, charged
later without the buyer (off-session). A decline marks the payment failed with a clear message;
trying again is a new attempt, and a payment is never charged twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.groupbuys.services import create_group_buy, open_group_buy, record_payment
from farmstore.groupbuys.services import pledge as make_pledge
from farmstore.payments import stripe_flow
from farmstore.payments.models import Payment, StripeCustomer
from farmstore.payments.signals import payment_failed
from tests.factories import make_producer, make_user
from tests.payments.conftest import STRIPE_CONFIG, card_order, ledger, open_sale, payment_for
from tests.stories.conftest import make_subject

pytestmark = STRIPE_CONFIG


@pytest.fixture
def pledge(ctx, now):
    """A buyer's one-unit card pledge in an open group-buy, and its pending 30,000 won payment."""
    producer, buyer = make_producer(), make_user("pledger@example.com")
    group_buy = create_group_buy(
        producer=producer, by=producer.user, subject_id=make_subject(producer, "북쪽 밭", kind="field").id,
        title="북쪽 밭 배추", unit_label="한 상자", unit_price=30_000, total_units=10, min_units=1, per_buyer_max=5,
        deadline=now + timedelta(days=30), delivery_note="택배", now=now,
    )  # fmt: skip
    open_group_buy(group_buy, by=producer.user, now=now)
    record = make_pledge(
        group_buy=group_buy, buyer=buyer, units=1, payment_method="stripe", card_payment_method_id="pm_card_visa",
        now=now,
    )  # fmt: skip
    return buyer, record_payment(record)


def successful_charges(stripe_api, customer_id: str) -> list[int]:
    """The amounts localstripe actually charged to the customer's cards."""
    charges = stripe_api.v1.charges.list({"customer": customer_id, "limit": 100}).data
    return [c.amount for c in charges if c.status == "succeeded"]


def test_an_account_gets_one_stripe_customer(pledge, stripe_api):
    buyer, _payment = pledge

    first = stripe_flow.save_card_customer(buyer)
    second = stripe_flow.save_card_customer(buyer)

    assert first == second == db.session.get(StripeCustomer, buyer.id).customer_id
    customers = stripe_api.v1.customers.list({"limit": 10}).data
    assert [(c.id, c.email) for c in customers] == [(first, "pledger@example.com")]


def test_a_saved_card_is_charged_off_session_once(pledge, now, stripe_api):
    buyer, payment = pledge
    card = stripe_flow.save_card(buyer, "pm_card_visa")
    customer = stripe_flow.save_card_customer(buyer)
    assert stripe_api.v1.payment_methods.retrieve(card).customer == customer

    assert stripe_flow.charge_saved_card(payment, card, now=now) is True
    assert stripe_flow.charge_saved_card(payment, card, now=now) is True  # already paid: no second charge

    payment = db.session.get(Payment, payment.id)
    intent = stripe_api.v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
    assert (intent.amount, intent.customer, intent.metadata["payment_id"]) == (30_000, customer, str(payment.id))
    assert payment.status == "succeeded"
    assert ledger(payment) == [("payment", 30_000), ("fee", -900)]
    assert successful_charges(stripe_api, customer) == [30_000]


def test_a_declined_off_session_charge_marks_the_payment_failed_with_a_clear_message(pledge, now, stripe_api):
    buyer, payment = pledge
    declining = stripe_flow.save_card(buyer, "pm_card_chargeCustomerFail")
    told = []

    with payment_failed.connected_to(lambda _sender, payment, now: told.append(payment.id)):
        collected = stripe_flow.charge_saved_card(payment, declining, now=now)

    payment = db.session.get(Payment, payment.id)
    assert collected is False
    assert (payment.status, payment.failure_message, payment.attempt) == ("failed", "Your card was declined.", 2)
    assert told == [payment.id]
    assert ledger(payment) == []


def test_after_a_decline_another_card_is_a_new_attempt_and_charged_once(pledge, now, stripe_api):
    buyer, payment = pledge
    stripe_flow.charge_saved_card(payment, stripe_flow.save_card(buyer, "pm_card_chargeCustomerFail"), now=now)

    assert stripe_flow.charge_saved_card(payment, stripe_flow.save_card(buyer, "pm_card_visa"), now=now) is True

    payment = db.session.get(Payment, payment.id)
    assert (payment.status, payment.failure_message, payment.attempt) == ("succeeded", "", 2)
    assert successful_charges(stripe_api, stripe_flow.save_card_customer(buyer)) == [30_000]


def test_a_card_stripe_will_not_save_is_refused_with_its_reason(pledge, stripe_api):
    buyer, _payment = pledge

    with pytest.raises(DomainError, match="Your card was declined"):
        stripe_flow.save_card(buyer, "pm_card_visa_chargeDeclined")

    saved = stripe_api.v1.payment_methods.list({"customer": stripe_flow.save_card_customer(buyer), "type": "card"})
    assert saved.data == []


def test_without_a_saved_card_nothing_is_charged(pledge, now):
    _buyer, payment = pledge

    with pytest.raises(DomainError, match="no saved card"):
        stripe_flow.charge_saved_card(payment, "pm_card_visa", now=now)

    assert db.session.get(Payment, payment.id).status == "pending"


def test_paying_now_can_keep_the_card_on_the_buyers_customer(ctx, now, stripe_api):
    buyer = make_user()
    order = card_order(open_sale(make_producer(), now=now), buyer, now=now)
    payment = payment_for(order.id)
    payment.stripe_payment_intent_id = None  # as if the intent had not been made yet
    db.session.commit()

    stripe_flow.start(payment, save_card=True)

    intent = stripe_api.v1.payment_intents.retrieve(payment_for(order.id).stripe_payment_intent_id)
    assert intent.customer == db.session.get(StripeCustomer, buyer.id).customer_id
    assert intent.amount == 24_000
