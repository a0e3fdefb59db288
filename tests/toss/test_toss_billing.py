"""Group-buy pledges by card through Toss billing keys, against the fake Toss: the pledge issues a
billing key and charges nothing; settlement charges each key once with an Idempotency-Key; a run
killed between Toss's charge and our commit adopts that charge when run again; a decline follows
the grace-period flow; keys of pledges never charged are deleted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.groupbuys.models import Pledge
from farmstore.groupbuys.services import create_group_buy, open_group_buy, pledge, release_cards, settle_due_group_buys
from farmstore.payments import toss_flow
from farmstore.payments.models import Payment
from tests.factories import make_producer, make_user
from tests.stories.conftest import make_subject
from tests.toss.conftest import TOSS_CONFIG, fee, ledger

pytestmark = TOSS_CONFIG


@pytest.fixture
def group_buy(ctx, now):
    """An open group-buy of 50,000 won shares that is on with two shares pledged."""
    producer = make_producer()
    record = create_group_buy(
        producer=producer, by=producer.user, subject_id=make_subject(producer, "누렁이", kind="animal").id,
        title="누렁이 나눔", unit_label="1/16 지분", unit_price=50_000, total_units=16, min_units=2,
        per_buyer_max=4, deadline=now + timedelta(days=10), delivery_note="택배", now=now,
    )  # fmt: skip
    open_group_buy(record, by=producer.user, now=now)
    return record


def billing_key_for(toss, buyer) -> str:
    """The buyer registers a card in Toss's billing window; our server issues its billing key."""
    auth_key = toss.billing_auth_key(customer_key=toss_flow.customer_key(buyer))
    return toss_flow.issue_billing_key(buyer, auth_key=auth_key, toss_customer_key=toss_flow.customer_key(buyer))


def toss_pledge(group_buy, buyer, toss, *, units: int, now) -> tuple[Pledge, str]:
    key = billing_key_for(toss, buyer)
    return pledge(
        group_buy=group_buy, buyer=buyer, units=units, payment_method="toss", card_payment_method_id=key, now=now
    ), key


def payment_of(record: Pledge) -> Payment:
    db.session.expire_all()
    return db.session.scalar(select(Payment).where(Payment.pledge_id == record.id))


def test_a_pledge_through_the_billing_window_saves_a_key_and_charges_nothing(client, auth, group_buy, toss):
    buyer = make_user("buyer@example.com", locale="en")
    auth.login(buyer.email)

    start = client.post(
        f"/group-buys/{group_buy.id}/pledge", data={"units": "2", "payment_method": "toss", "show_name": ""}
    )
    page = client.get(start.headers["Location"])
    customer_key = toss_flow.customer_key(buyer)
    auth_key = toss.billing_auth_key(customer_key=customer_key)
    saved = client.get(
        f"/group-buys/{group_buy.id}/card/toss/saved?units=2&show_name=0&customerKey={customer_key}&authKey={auth_key}"
    )

    record = db.session.scalar(select(Pledge))
    assert start.headers["Location"].startswith(f"/group-buys/{group_buy.id}/card/toss?units=2")
    assert f'data-customer-key="{customer_key}"' in page.get_data(as_text=True)
    assert "https://js.tosspayments.com" in page.headers["Content-Security-Policy"]
    assert saved.status_code == 302
    assert (record.status, record.payment_method, record.units) == ("active", "toss", 2)
    assert toss.billing(record.card_payment_method_id).customer_key == customer_key
    assert toss.count("POST", r"/v1/billing/(?!authorizations).*") == 0  # nothing charged yet


def test_an_auth_key_for_someone_elses_customer_key_pledges_nothing(client, auth, group_buy, toss):
    buyer, other = make_user("buyer@example.com", locale="en"), make_user("other@example.com")
    auth_key = toss.billing_auth_key(customer_key=toss_flow.customer_key(other))
    auth.login(buyer.email)

    client.get(
        f"/group-buys/{group_buy.id}/card/toss/saved?units=2&customerKey={toss_flow.customer_key(other)}&authKey={auth_key}"
    )

    assert db.session.scalar(select(Pledge)) is None
    assert toss.count("POST", "/v1/billing/authorizations/issue") == 0


def test_settlement_charges_each_billing_key_once(group_buy, now, toss):
    good, key = toss_pledge(group_buy, make_user("good@example.com"), toss, units=2, now=now)
    bad, bad_key = toss_pledge(group_buy, make_user("bad@example.com"), toss, units=1, now=now)
    toss.decline_billing(bad_key)

    assert settle_due_group_buys(now=group_buy.deadline) == 2
    assert settle_due_group_buys(now=group_buy.deadline + timedelta(days=1)) == 0

    paid, declined = payment_of(good), payment_of(bad)
    assert [db.session.get(Pledge, p.id).status for p in (good, bad)] == ["paid", "unpaid"]
    assert db.session.get(Pledge, bad.id).pay_by == group_buy.deadline + timedelta(hours=48)
    at_toss = toss.payment(paid.toss_payment_key)
    assert (at_toss["type"], at_toss["totalAmount"], at_toss["orderId"]) == (
        "BILLING",
        100_000,
        toss_flow.order_id(paid),
    )
    assert toss.billing(key).charges == 1
    assert ledger(paid) == [("payment", 100_000), ("fee", -fee(100_000))]
    assert (declined.status, declined.attempt, ledger(declined)) == ("failed", 2, [])
    assert "한도초과" in declined.failure_message


def test_a_settlement_killed_after_tosss_charge_adopts_that_charge_when_run_again(group_buy, now, toss):
    record, key = toss_pledge(group_buy, make_user("crash@example.com"), toss, units=3, now=now)
    toss.drop_after.add(f"/v1/billing/{key}")  # Toss charges; its answer never reaches us

    with pytest.raises(DomainError):
        settle_due_group_buys(now=group_buy.deadline)
    toss.drop_after.clear()
    assert payment_of(record).status == "pending"
    assert toss.billing(key).charges == 1

    settle_due_group_buys(now=group_buy.deadline + timedelta(minutes=1))

    payment = payment_of(record)
    assert (db.session.get(Pledge, record.id).status, payment.status) == ("paid", "succeeded")
    assert toss.billing(key).charges == 1  # found by its order id, never charged twice
    assert ledger(payment) == [("payment", 150_000), ("fee", -fee(150_000))]


def test_billing_keys_of_pledges_never_charged_are_deleted(ctx, now, toss):
    producer = make_producer()
    group_buy = create_group_buy(
        producer=producer, by=producer.user, subject_id=make_subject(producer, "흰둥이", kind="animal").id,
        title="흰둥이 나눔", unit_label="1/16 지분", unit_price=50_000, total_units=16, min_units=10,
        per_buyer_max=4, deadline=now + timedelta(days=10), delivery_note="택배", now=now,
    )  # fmt: skip
    open_group_buy(group_buy, by=producer.user, now=now)
    record, key = toss_pledge(group_buy, make_user("buyer@example.com"), toss, units=2, now=now)

    settle_due_group_buys(now=group_buy.deadline)  # the minimum was not reached
    assert release_cards(now=group_buy.deadline) == 1
    assert release_cards(now=group_buy.deadline) == 0

    assert db.session.get(Pledge, record.id).status == "released"
    assert toss.billing(key).deleted
    assert toss.billing(key).charges == 0
    assert toss.count("DELETE", f"/v1/billing/{key}") == 1


def test_a_declined_pledge_is_paid_in_the_widget_within_its_grace_period(client, auth, group_buy, now, toss):
    buyer = make_user("bad@example.com", locale="en")
    record, key = toss_pledge(group_buy, buyer, toss, units=2, now=now)
    toss.decline_billing(key)
    settle_due_group_buys(now=group_buy.deadline)
    auth.login(buyer.email)

    page = client.get(f"/pledges/{record.id}/pay")
    payment = payment_of(record)
    html = page.get_data(as_text=True)
    payment_key = toss.widget_payment(order_id=toss_flow.order_id(payment), amount=100_000)
    back = client.get(
        f"/pledges/{record.id}/pay/toss/success?paymentKey={payment_key}&orderId={toss_flow.order_id(payment)}"
        "&amount=100000"
    )

    payment = payment_of(record)
    assert f'data-order-id="{toss_flow.order_id(payment)}"' in html
    assert toss_flow.order_id(payment).endswith("-2")  # the declined attempt's order id is not reused
    assert "https://js.tosspayments.com" in page.headers["Content-Security-Policy"]
    assert back.status_code == 302
    assert (db.session.get(Pledge, record.id).status, payment.status) == ("paid", "succeeded")
    assert ledger(payment) == [("payment", 100_000), ("fee", -fee(100_000))]
    assert toss.billing(key).charges == 0
    other = make_user("other@example.com")
    auth.logout()
    auth.login(other.email)
    assert client.get(f"/pledges/{record.id}/pay/toss/success?paymentKey=x").status_code == 404
