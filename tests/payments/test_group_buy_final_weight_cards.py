"""Final weights of card pledges, against localstripe: a lighter share is refunded to the card
(never more than was paid), a heavier one is charged off-session to the saved card once, and a
declined extra is due at pickup instead, collected at check-in. The ledger still adds up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.groupbuys.models import Pledge
from farmstore.groupbuys.services import (
    check_in_pledge,
    create_group_buy,
    open_group_buy,
    pledge,
    settle_due_group_buys,
    settle_final_weight,
)
from farmstore.payments import stripe_flow
from farmstore.payments.models import Payment
from farmstore.payments.services import payout_report
from tests.factories import make_producer, make_user
from tests.payments.conftest import STRIPE_CONFIG, fee, ledger, outbox_to
from tests.stories.conftest import make_subject

pytestmark = STRIPE_CONFIG

PRICE, PER_KG = 420_000, 25_000


@pytest.fixture
def paid(ctx, now):
    """A hanwoo sold by weight (18 kg a share at 25,000 won per kg) whose deadline passed: one card
    pledge of 2 shares, charged off-session at settlement. Returns (producer, pledge, its payment)."""
    producer, buyer = make_producer(), make_user("weighed@example.com", locale="en")
    group_buy = create_group_buy(
        producer=producer, by=producer.user, subject_id=make_subject(producer, "누렁이", kind="animal").id,
        title="누렁이 나눔", unit_label="1/16 지분", unit_price=PRICE, total_units=16, min_units=1, per_buyer_max=4,
        deadline=now + timedelta(days=10), delivery_note="택배", price_per_kg=PER_KG, grams_per_unit=18_000, now=now,
    )  # fmt: skip
    open_group_buy(group_buy, by=producer.user, now=now)
    record = pledge(
        group_buy=group_buy, buyer=buyer, units=2, payment_method="stripe",
        card_payment_method_id=stripe_flow.save_card(buyer, "pm_card_visa"), now=now,
    )  # fmt: skip
    settle_due_group_buys(now=group_buy.deadline)
    db.session.expire_all()
    record = db.session.get(Pledge, record.id)
    payment = db.session.scalar(select(Payment).where(Payment.pledge_id == record.id))
    assert (record.status, payment.status, payment.amount) == ("paid", "succeeded", 2 * PRICE)
    return producer, record, payment


def succeeded_charges(stripe_api, payment: Payment) -> list[int]:
    intent = stripe_api.v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
    charges = stripe_api.v1.charges.list({"customer": intent.customer, "limit": 100}).data
    return sorted(c.amount for c in charges if c.status == "succeeded")


def settle_twice(record: Pledge, grams: int, *, by, now) -> Pledge:
    """Settle the share's weight, then try again with another weight (refused); the pledge, fresh."""
    settle_final_weight(record, grams=grams, by=by, now=now)
    with pytest.raises(DomainError, match="already settled"):
        settle_final_weight(record, grams=grams + 3_000, by=by, now=now)
    db.session.expire_all()
    return db.session.get(Pledge, record.id)


def test_a_lighter_card_share_is_refunded_to_the_card_once(paid, now, stripe_api):
    producer, record, payment = paid

    record = settle_twice(record, 34_000, by=producer.user, now=now)  # 2 kg lighter: 50,000 won

    payment = db.session.get(Payment, payment.id)
    assert (payment.refunded_amount, record.weight_difference) == (50_000, -50_000)
    refunds = stripe_api.v1.refunds.list({"payment_intent": payment.stripe_payment_intent_id}).data
    assert [r.amount for r in refunds] == [50_000]
    assert ledger(payment)[-2:] == [("refund", -50_000), ("fee_reversal", fee(2 * PRICE) - fee(2 * PRICE - 50_000))]
    assert "₩50,000 was refunded to your card." in outbox_to("weighed@example.com")[-1].body_text
    report = payout_report(producer, start=now - timedelta(days=1), end=now + timedelta(days=30))
    assert (report.gross, report.refunds) == (2 * PRICE, 50_000)


def test_a_refund_never_exceeds_what_was_paid(paid, now):
    producer, record, payment = paid

    settle_final_weight(record, grams=1, by=producer.user, now=now)

    db.session.expire_all()
    assert db.session.get(Payment, payment.id).refunded_amount == 2 * PRICE
    assert db.session.get(Pledge, record.id).weight_difference == -2 * PRICE


def test_a_heavier_card_share_is_charged_to_the_saved_card_once(paid, now, stripe_api):
    producer, record, payment = paid

    record = settle_twice(record, 37_500, by=producer.user, now=now)  # 1.5 kg heavier: 37,500 won

    extra = db.session.get(Payment, record.weight_payment_id)
    assert (extra.provider, extra.status, extra.amount, extra.pledge_id) == ("stripe", "succeeded", 37_500, None)
    assert succeeded_charges(stripe_api, payment) == [37_500, 2 * PRICE]
    assert ledger(extra) == [("payment", 37_500), ("fee", -fee(37_500))]
    assert "₩37,500 more was charged to your card." in outbox_to("weighed@example.com")[-1].body_text
    check_in_pledge(group_buy=record.group_buy, code=record.pickup_code, by=producer.user, now=now)
    report = payout_report(producer, start=now - timedelta(days=1), end=now + timedelta(days=30))
    assert report.gross == 2 * PRICE + 37_500
    assert succeeded_charges(stripe_api, payment) == [37_500, 2 * PRICE]  # check-in charged nothing more


def test_a_declined_extra_is_due_at_pickup_and_collected_at_check_in(paid, now, stripe_api):
    producer, record, payment = paid
    # The buyer's card on file now declines (a new card saved since, which the bank refuses).
    record.card_payment_method_id = stripe_flow.save_card(record.buyer, "pm_card_chargeCustomerFail")
    db.session.commit()

    settle_final_weight(record, grams=36_800, by=producer.user, now=now)  # 0.8 kg heavier: 20,000 won

    db.session.expire_all()
    record = db.session.get(Pledge, record.id)
    extra = db.session.get(Payment, record.weight_payment_id)
    assert (extra.provider, extra.status, extra.stripe_payment_intent_id) == ("pickup", "pending", None)
    assert record.extra_due == 20_000
    assert "₩20,000 more is due when you pick up your share." in outbox_to("weighed@example.com")[-1].body_text

    check_in_pledge(group_buy=record.group_buy, code=record.pickup_code, by=producer.user, now=now)

    db.session.expire_all()
    extra = db.session.get(Payment, extra.id)
    assert (extra.status, extra.marked_paid_by_id) == ("succeeded", producer.user.id)
    assert succeeded_charges(stripe_api, payment) == [2 * PRICE]
    report = payout_report(producer, start=now - timedelta(days=1), end=now + timedelta(days=30))
    assert report.gross == 2 * PRICE + 20_000
