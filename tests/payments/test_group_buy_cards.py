"""Group-buy settlement with saved cards, against localstripe: when it is on, every card pledge
is charged off-session once; a decline leaves the pledge unpaid and tells the buyer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from farmstore.extensions import db
from farmstore.groupbuys.models import Pledge
from farmstore.groupbuys.services import create_group_buy, open_group_buy, pledge, settle_due_group_buys
from farmstore.notifications.models import OutboxMessage
from farmstore.payments import stripe_flow, stripe_gateway
from farmstore.payments.models import LedgerEntry, Payment, StripeCustomer
from tests.factories import make_producer, make_user
from tests.payments.conftest import STRIPE_CONFIG
from tests.stories.conftest import make_subject

pytestmark = STRIPE_CONFIG


def test_card_pledges_are_charged_once_each_paid_or_unpaid(ctx, now, stripe_api):
    producer = make_producer()
    good_buyer, bad_buyer = make_user("good@example.com"), make_user("bad@example.com")
    group_buy = create_group_buy(
        producer=producer, by=producer.user, subject_id=make_subject(producer, "누렁이", kind="animal").id,
        title="누렁이 나눔", unit_label="1/16 지분", unit_price=50_000, total_units=16, min_units=2,
        per_buyer_max=4, deadline=now + timedelta(days=10), delivery_note="택배", now=now,
    )  # fmt: skip
    open_group_buy(group_buy, by=producer.user, now=now)
    good = pledge(
        group_buy=group_buy, buyer=good_buyer, units=2, payment_method="stripe",
        card_payment_method_id=stripe_flow.save_card(good_buyer, "pm_card_visa"), now=now,
    )  # fmt: skip
    bad = pledge(
        group_buy=group_buy, buyer=bad_buyer, units=1, payment_method="stripe",
        card_payment_method_id=stripe_flow.save_card(bad_buyer, "pm_card_chargeCustomerFail"), now=now,
    )  # fmt: skip
    deadline = group_buy.deadline

    assert settle_due_group_buys(now=deadline) == 2
    assert settle_due_group_buys(now=deadline + timedelta(days=1)) == 0  # settled once

    db.session.expire_all()
    assert [db.session.get(Pledge, p.id).status for p in (good, bad)] == ["paid", "unpaid"]
    paid = db.session.scalar(select(Payment).where(Payment.pledge_id == good.id))
    intent = stripe_api.v1.payment_intents.retrieve(paid.stripe_payment_intent_id)
    assert (paid.status, paid.amount, intent.amount) == ("succeeded", 100_000, 100_000)
    charges = stripe_api.v1.charges.list({"customer": intent.customer, "limit": 100}).data
    assert [c.amount for c in charges if c.status == "succeeded"] == [100_000]
    declined = db.session.scalar(select(Payment).where(Payment.pledge_id == bad.id))
    assert (declined.status, declined.failure_message) == ("failed", "Your card was declined.")
    subjects = {m.to_address: m.subject for m in db.session.scalars(select(OutboxMessage))}
    assert subjects == {"good@example.com": "성사: 누렁이 나눔", "bad@example.com": "카드 결제 거절: 누렁이 나눔"}


def test_a_crash_between_stripes_charge_and_our_commit_adopts_that_charge_on_resume(ctx, now, stripe_api, monkeypatch):
    producer, buyer = make_producer(), make_user("crash@example.com")
    group_buy = create_group_buy(
        producer=producer, by=producer.user, subject_id=make_subject(producer, "점박이", kind="animal").id,
        title="점박이 나눔", unit_label="1/16 지분", unit_price=50_000, total_units=16, min_units=1,
        per_buyer_max=4, deadline=now + timedelta(days=10), delivery_note="택배", now=now,
    )  # fmt: skip
    open_group_buy(group_buy, by=producer.user, now=now)
    record = pledge(
        group_buy=group_buy, buyer=buyer, units=3, payment_method="stripe",
        card_payment_method_id=stripe_flow.save_card(buyer, "pm_card_visa"), now=now,
    )  # fmt: skip
    deadline = group_buy.deadline
    real_create = stripe_gateway.create_payment_intent

    def charges_then_dies(**params):
        """Stripe charges the card; the process dies before our commit."""
        real_create(**params)
        raise RuntimeError("killed")

    monkeypatch.setattr(stripe_gateway, "create_payment_intent", charges_then_dies)
    with pytest.raises(RuntimeError, match="killed"):
        settle_due_group_buys(now=deadline)
    db.session.rollback()
    monkeypatch.setattr(stripe_gateway, "create_payment_intent", real_create)
    payment = db.session.scalar(select(Payment).where(Payment.pledge_id == record.id))
    assert (payment.status, payment.stripe_payment_intent_id, payment.charge_started_at) == ("pending", None, deadline)
    assert db.session.get(Pledge, record.id).status == "active"
    customer = db.session.get(StripeCustomer, buyer.id).customer_id
    assert [i.status for i in stripe_api.v1.payment_intents.list().data] == ["succeeded"]  # money taken, not recorded

    assert settle_due_group_buys(now=deadline + timedelta(minutes=1)) == 1  # the next tick resumes

    db.session.expire_all()
    intents = stripe_api.v1.payment_intents.list().data
    assert [(i.amount, i.customer, i.status) for i in intents] == [(150_000, customer, "succeeded")]
    charges = stripe_api.v1.charges.list({"customer": customer, "limit": 100}).data
    assert [c.amount for c in charges if c.status == "succeeded"] == [150_000]  # charged exactly once
    payment = db.session.get(Payment, payment.id)
    assert (payment.status, payment.stripe_payment_intent_id) == ("succeeded", intents[0].id)
    assert db.session.get(Pledge, record.id).status == "paid"
    kinds = db.session.scalars(select(LedgerEntry.kind).where(LedgerEntry.payment_id == payment.id)).all()
    assert sorted(kinds) == ["fee", "payment"]


def test_a_resumed_charge_after_a_lost_decline_tries_the_card_again(ctx, now, stripe_api, monkeypatch):
    producer, buyer = make_producer(), make_user("declined@example.com")
    group_buy = create_group_buy(
        producer=producer, by=producer.user, subject_id=make_subject(producer, "얼룩이", kind="animal").id,
        title="얼룩이 나눔", unit_label="1/16 지분", unit_price=50_000, total_units=16, min_units=1,
        per_buyer_max=4, deadline=now + timedelta(days=10), delivery_note="택배", now=now,
    )  # fmt: skip
    open_group_buy(group_buy, by=producer.user, now=now)
    record = pledge(
        group_buy=group_buy, buyer=buyer, units=1, payment_method="stripe",
        card_payment_method_id=stripe_flow.save_card(buyer, "pm_card_chargeCustomerFail"), now=now,
    )  # fmt: skip
    real_create = stripe_gateway.create_payment_intent

    def declined_then_dies(**params):
        """Stripe declines the card; the process dies before our commit."""
        with pytest.raises(stripe_gateway.CardDeclined):
            real_create(**params)
        raise RuntimeError("killed")

    monkeypatch.setattr(stripe_gateway, "create_payment_intent", declined_then_dies)
    with pytest.raises(RuntimeError, match="killed"):
        settle_due_group_buys(now=group_buy.deadline)
    db.session.rollback()
    monkeypatch.setattr(stripe_gateway, "create_payment_intent", real_create)

    settle_due_group_buys(now=group_buy.deadline)  # a declined intent is not adopted: the card is tried

    db.session.expire_all()
    assert db.session.get(Pledge, record.id).status == "unpaid"
    assert len(stripe_api.v1.payment_intents.list().data) == 2
    assert db.session.scalar(select(Payment.status).where(Payment.pledge_id == record.id)) == "failed"
