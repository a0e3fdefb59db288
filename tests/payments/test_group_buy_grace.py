"""The grace period of a pledge whose card was declined when the group-buy went ahead: the buyer is
emailed a pay link and a deadline, may pay on the pledge's pay page (Stripe at localstripe), and
if they do not, the tick frees the units and offers them to the group-buy's waitlist."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from types import SimpleNamespace

import pytest
import stripe
from sqlalchemy import select

from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.groupbuys import services
from farmstore.groupbuys.models import GroupBuy, GroupBuyWaitlistEntry, Pledge
from farmstore.payments import stripe_flow
from farmstore.payments.models import Payment
from farmstore.timeutil import utcnow
from tests.factories import make_producer, make_user
from tests.groupbuys.conftest import make_group_buy
from tests.payments.conftest import STRIPE_CONFIG, as_dict, deliver, event, outbox_to, pay_in_browser

pytestmark = STRIPE_CONFIG
GRACE = timedelta(hours=48)


@pytest.fixture
def full(ctx):
    """A group-buy of 4 units (minimum 1) filled by a card pledge of 3 whose card will be declined
    and a pickup pledge of 1; two neighbours wait for 2 units each. Settled at its deadline."""
    started = utcnow() - timedelta(days=2)
    producer = make_producer()
    group_buy = make_group_buy(
        producer, now=started, deadline=utcnow() - timedelta(minutes=1), total=4, minimum=1, per_buyer_max=4
    )
    late, cash = make_user("late@example.com", locale="en"), make_user("cash@example.com")
    card = stripe_flow.save_card(late, "pm_card_chargeCustomerFail")
    record = services.pledge(
        group_buy=group_buy, buyer=late, units=3, payment_method="stripe", card_payment_method_id=card, now=started
    )
    services.pledge(group_buy=group_buy, buyer=cash, units=1, now=started)
    waiters = [make_user(f"wait{n}@example.com", locale="en") for n in range(2)]
    for n, waiter in enumerate(waiters):
        services.join_waitlist(group_buy=group_buy, buyer=waiter, units=2, now=started + timedelta(minutes=n))
    settled_at = group_buy.deadline
    services.settle_due_group_buys(now=settled_at)
    db.session.expire_all()
    return SimpleNamespace(
        group_buy_id=group_buy.id, pledge_id=record.id, late=late, waiters=waiters, settled_at=settled_at
    )


def fresh(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def payment_of(pledge_id: int) -> Payment:
    db.session.expire_all()
    return db.session.scalar(select(Payment).where(Payment.pledge_id == pledge_id))


def places(group_buy_id: int) -> list[tuple[str, int]]:
    """(status, units) of each waitlist entry, in order of joining."""
    db.session.expire_all()
    query = select(GroupBuyWaitlistEntry).where(GroupBuyWaitlistEntry.group_buy_id == group_buy_id)
    return [(e.status, e.units) for e in db.session.scalars(query.order_by(GroupBuyWaitlistEntry.id))]


def test_a_declined_pledge_keeps_its_units_and_the_buyer_gets_a_pay_link_and_a_deadline(full):
    record = fresh(Pledge, full.pledge_id)
    assert (record.status, record.pay_by) == ("unpaid", full.settled_at + GRACE)
    [mail] = outbox_to("late@example.com")
    assert mail.subject.startswith("Your card was declined")
    assert f"http://farmstore.test/pledges/{record.id}/pay" in mail.body_text
    assert "Please pay on the page below by" in mail.body_text
    assert fresh(GroupBuy, full.group_buy_id).units_pledged == 4  # still held during the grace period
    assert services.free_unpaid_pledges(now=record.pay_by - timedelta(seconds=1)) == 0


@pytest.mark.app_config(**STRIPE_CONFIG.kwargs, GROUP_BUY_GRACE_HOURS=6)
def test_the_grace_period_is_a_setting(full):
    assert fresh(Pledge, full.pledge_id).pay_by == full.settled_at + timedelta(hours=6)


def test_paying_on_the_pay_page_makes_the_pledge_paid_and_keeps_its_units(full, client, auth, stripe_api, now):
    auth.login("late@example.com")
    [declined] = stripe_api.v1.payment_intents.list().data  # the off-session charge
    page = client.get(f"/pledges/{full.pledge_id}/pay")

    assert page.status_code == 200
    assert "script-src 'self' https://js.stripe.com" in page.headers["Content-Security-Policy"]
    secret = re.search(r'data-client-secret="([^"]+)"', page.text)[1]
    payment = payment_of(full.pledge_id)
    assert payment.stripe_payment_intent_id != declined.id  # a new intent for the new attempt
    intent = stripe_api.v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
    assert (intent.client_secret, intent.amount, intent.metadata["payment_id"]) == (secret, 3 * 18_000, str(payment.id))
    assert "Pay ₩54,000" in unescape(page.text)

    paid = pay_in_browser(stripe_api, intent.id)
    assert deliver(client, event("payment_intent.succeeded", as_dict(paid))).status_code == 200

    assert fresh(Pledge, full.pledge_id).status == "paid"
    assert payment_of(full.pledge_id).status == "succeeded"
    assert outbox_to("late@example.com")[-1].subject.startswith("It's on")
    assert services.free_unpaid_pledges(now=full.settled_at + GRACE) == 0
    assert fresh(GroupBuy, full.group_buy_id).units_pledged == 4
    assert client.get(f"/pledges/{full.pledge_id}/pay").status_code == 302  # nothing left to pay


def test_money_that_arrived_without_its_webhook_is_found_by_the_tick_and_wins(full, client, auth, stripe_api):
    auth.login("late@example.com")
    client.get(f"/pledges/{full.pledge_id}/pay")
    pay_in_browser(stripe_api, payment_of(full.pledge_id).stripe_payment_intent_id)  # the webhook is lost

    assert services.free_unpaid_pledges(now=full.settled_at + GRACE) == 0

    assert fresh(Pledge, full.pledge_id).status == "paid"
    assert payment_of(full.pledge_id).status == "succeeded"
    assert places(full.group_buy_id) == [("waiting", 2), ("waiting", 2)]


def test_unpaid_after_the_grace_period_frees_the_units_for_the_waitlist(full, client, auth, stripe_api):
    auth.login("late@example.com")
    client.get(f"/pledges/{full.pledge_id}/pay")  # started paying, never finished
    intent_id = payment_of(full.pledge_id).stripe_payment_intent_id
    pay_by = fresh(Pledge, full.pledge_id).pay_by

    assert services.free_unpaid_pledges(now=pay_by) == 1
    assert services.free_unpaid_pledges(now=pay_by) == 0  # once

    assert fresh(Pledge, full.pledge_id).status == "lapsed"
    assert payment_of(full.pledge_id).status == "canceled"
    assert stripe_api.v1.payment_intents.retrieve(intent_id).status == "canceled"  # can no longer be paid
    assert places(full.group_buy_id) == [("offered", 2), ("offered", 1)]  # 3 units: 2 for the first, 1 next
    assert fresh(GroupBuy, full.group_buy_id).units_pledged == 4  # 1 pledged + 3 held for the waitlist
    assert outbox_to("late@example.com")[-1].subject.startswith("Not paid in time")
    offer = outbox_to("wait0@example.com")[-1]
    assert offer.subject.startswith("Units are free for you")
    assert "2 × 배추 3포기 한 상자 are held for you until" in offer.body_text
    with pytest.raises(stripe.InvalidRequestError):  # the buyer's page is too late now
        pay_in_browser(stripe_api, intent_id)
    page = client.get(f"/pledges/{full.pledge_id}/pay")
    assert page.headers["Location"] == f"/group-buys/{full.group_buy_id}"
    shown = unescape(client.get(page.headers["Location"]).text)
    assert "Your pledge was not paid in time, so its units went to others." in shown


def test_an_offer_is_taken_at_pickup_or_by_card_and_lapses_to_the_next(full, client, auth, stripe_api):
    services.free_unpaid_pledges(now=full.settled_at + GRACE)
    first, second = db.session.scalars(select(GroupBuyWaitlistEntry).order_by(GroupBuyWaitlistEntry.id)).all()

    auth.login("wait0@example.com")
    shown = unescape(client.get(f"/group-buys/{full.group_buy_id}").text)
    assert "2 × 배추 3포기 한 상자 are held for you until" in shown
    response = client.post(f"/group-buy-waitlist/{first.id}/claim", data={"payment_method": "stripe"})
    taken = db.session.scalar(select(Pledge).where(Pledge.buyer_id == full.waiters[0].id))
    assert response.headers["Location"] == f"/pledges/{taken.id}/pay"
    assert (taken.units, taken.status, taken.payment_method) == (2, "unpaid", "stripe")
    assert 'id="payment-element"' in client.get(response.headers["Location"]).text

    # The second offer (1 unit) is not taken in time: it lapses and nobody else is waiting.
    expires = fresh(GroupBuyWaitlistEntry, second.id).offer_expires_at
    assert services.lapse_waitlist_offers(now=expires - timedelta(seconds=1)) == 0
    assert services.lapse_waitlist_offers(now=expires) == 1
    assert places(full.group_buy_id) == [("claimed", 2), ("lapsed", 1)]
    assert fresh(GroupBuy, full.group_buy_id).units_pledged == 3  # 1 + 2; one unit is free
    auth.logout()
    auth.login("wait1@example.com")
    response = client.post(f"/group-buy-waitlist/{second.id}/claim", data={"payment_method": "pickup"})
    assert "This offer has ended." in unescape(client.get(response.headers["Location"]).text)
    assert fresh(GroupBuy, full.group_buy_id).units_pledged == 3


def test_an_offer_taken_at_pickup_is_due(full, client, auth):
    services.free_unpaid_pledges(now=full.settled_at + GRACE)
    first = db.session.scalars(select(GroupBuyWaitlistEntry).order_by(GroupBuyWaitlistEntry.id)).first()
    auth.login("wait0@example.com")
    client.post(f"/group-buy-waitlist/{first.id}/claim", data={"payment_method": "pickup"})
    taken = db.session.scalar(select(Pledge).where(Pledge.buyer_id == full.waiters[0].id))
    assert (taken.units, taken.status, payment_of(taken.id).amount) == (2, "due", 36_000)
    auth.logout()
    auth.login("wait1@example.com")  # not this buyer's place
    assert client.post(f"/group-buy-waitlist/{first.id}/claim", data={"payment_method": "pickup"}).status_code == 404


def test_leaving_with_an_offer_passes_it_on(full, client, auth):
    services.free_unpaid_pledges(now=full.settled_at + GRACE)
    first = db.session.scalars(select(GroupBuyWaitlistEntry).order_by(GroupBuyWaitlistEntry.id)).first()
    auth.login("wait0@example.com")
    client.post(f"/group-buy-waitlist/{first.id}/leave")
    # The next one already holds an offer of 1 (all that was left then); offers are not topped up.
    assert places(full.group_buy_id) == [("left", 2), ("offered", 1)]
    assert fresh(GroupBuy, full.group_buy_id).units_pledged == 2  # 1 pledged + 1 held; nobody else waits


def test_only_the_buyer_sees_the_pay_page(full, client, auth):
    auth.login("wait0@example.com")
    assert client.get(f"/pledges/{full.pledge_id}/pay").status_code == 404
    assert client.get("/pledges/999999/pay").status_code == 404


def test_the_waitlist_refuses_what_makes_no_sense(ctx, now):
    producer, buyer, other = make_producer(), make_user(), make_user()
    group_buy = make_group_buy(producer, now=now, total=3, minimum=1, per_buyer_max=2)

    def refusal(**kwargs) -> str:
        with pytest.raises(DomainError) as caught:
            services.join_waitlist(group_buy=group_buy, now=now, **kwargs)
        return str(caught.value.message)

    assert refusal(buyer=buyer, units=1) == "There are units left: pledge instead."
    services.pledge(group_buy=group_buy, buyer=buyer, units=2, now=now)
    services.pledge(group_buy=group_buy, buyer=make_user(), units=1, now=now)
    assert refusal(buyer=buyer, units=1) == "You already pledged; change that pledge instead."
    assert refusal(buyer=producer.user, units=1) == "You cannot pledge to your own group-buy."
    assert refusal(buyer=other, units=3) == "You can wait for 1 to 2."
    assert refusal(buyer=other, units=0) == "You can wait for 1 to 2."
    services.join_waitlist(group_buy=group_buy, buyer=other, units=2, now=now)
    assert refusal(buyer=other, units=1) == "You are already on the waitlist for this."
