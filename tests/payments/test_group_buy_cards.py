"""Group-buy settlement with saved cards, against localstripe: when it is on, every card pledge
is charged off-session once; a decline leaves the pledge unpaid and tells the buyer."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from farmstore.extensions import db
from farmstore.groupbuys.models import Pledge
from farmstore.groupbuys.services import create_group_buy, open_group_buy, pledge, settle_due_group_buys
from farmstore.notifications.models import OutboxMessage
from farmstore.payments import stripe_flow
from farmstore.payments.models import Payment
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
