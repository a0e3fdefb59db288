"""The grace period's race: buyers paying their declined pledges at the last moment (pay page, card
confirmed at Stripe, webhook) while two ticks free the pledges whose time is up, all released at
once. Each late payment either wins fully (paid, money taken once, units kept) or comes too late
(no money taken, units freed and offered to the waitlist); never both. Meant for PostgreSQL
(TEST_DATABASE_URL), where the transactions really overlap; on SQLite the same must hold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
import stripe
from sqlalchemy import func, select

from farmstore.extensions import db
from farmstore.groupbuys import services
from farmstore.groupbuys.models import HOLDING_PLEDGE_STATUSES, GroupBuy, GroupBuyWaitlistEntry, Pledge
from farmstore.payments import stripe_flow
from farmstore.payments.models import Payment
from tests.factories import make_producer, make_user
from tests.groupbuys.conftest import NOW, make_group_buy
from tests.groupbuys.test_concurrency import patient_sqlite, race  # noqa: F401 (patient_sqlite: a fixture)
from tests.payments.conftest import LOCALSTRIPE_URL, SECRET_KEY, STRIPE_SETTINGS, as_dict, event, pay_in_browser

PLEDGES = 12
WAITING = 4

pytestmark = pytest.mark.app_config(
    **STRIPE_SETTINGS, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": PLEDGES + 8, "max_overflow": 0, "pool_timeout": 120}
)


def paying(pledge_id: int, now) -> Callable[[], str]:
    """A job: the buyer opens the pay page, confirms the card at Stripe and the webhook arrives."""

    def job() -> str:
        """Returns "paid", or "too late" when the pay page or Stripe refuses."""
        record = db.session.get(Pledge, pledge_id)
        secret = stripe_flow.checkout_secret_after_decline(services.record_payment(record), now=now)
        if secret is None:
            return "too late"
        browser = stripe.StripeClient(SECRET_KEY, base_addresses={"api": LOCALSTRIPE_URL}, max_network_retries=0)
        try:
            paid = pay_in_browser(browser, secret.split("_secret_")[0])
        except stripe.StripeError:  # the tick canceled the intent first
            return "too late"
        stripe_flow.handle_event(event("payment_intent.succeeded", as_dict(paid)), now=now)
        return "paid"

    return job


def ticking(now) -> Callable[[], int]:
    """A job: the tick frees what is unpaid after the grace period."""
    return lambda: services.free_unpaid_pledges(now=now)


def test_late_payments_racing_the_tick_either_win_fully_or_free_the_units(app, ctx, stripe_api):
    producer = make_producer()
    group_buy = make_group_buy(producer, total=PLEDGES, minimum=1, per_buyer_max=2)
    ids = []
    for n in range(PLEDGES):
        buyer = make_user(f"late{n}@example.com")
        card = stripe_flow.save_card(buyer, "pm_card_chargeCustomerFail")
        ids.append(
            services.pledge(
                group_buy=group_buy, buyer=buyer, units=1, payment_method="stripe", card_payment_method_id=card, now=NOW
            ).id
        )
    for n in range(WAITING):
        services.join_waitlist(group_buy=group_buy, buyer=make_user(f"wait{n}@example.com"), units=1, now=NOW)
    services.settle_due_group_buys(now=group_buy.deadline)
    db.session.expire_all()
    assert {db.session.get(Pledge, i).status for i in ids} == {"unpaid"}
    time_up = db.session.get(Pledge, ids[0]).pay_by
    group_buy_id = group_buy.id

    outcomes = race(app, [paying(i, time_up) for i in ids] + [ticking(time_up), ticking(time_up)])

    assert [o for o in outcomes if o[0] != "ok"] == []
    said = Counter(result for _kind, result in outcomes[:PLEDGES])
    intents = stripe_api.v1.payment_intents.list({"limit": 100}).data
    money_taken = Counter(i.metadata["payment_id"] for i in intents if i.status == "succeeded")
    db.session.expire_all()
    paid = lapsed = 0
    for pledge_id in ids:
        record = db.session.get(Pledge, pledge_id)
        payment = db.session.scalar(select(Payment).where(Payment.pledge_id == pledge_id))
        taken = money_taken[str(payment.id)]
        if record.status == "paid":
            assert (payment.status, taken) == ("succeeded", 1), pledge_id
            paid += 1
        else:
            assert (record.status, payment.status, taken) == ("lapsed", "canceled", 0), pledge_id
            lapsed += 1
    assert paid == said["paid"]  # every buyer told "paid" is paid, and nobody else
    assert paid + lapsed == PLEDGES

    stored = db.session.get(GroupBuy, group_buy_id).units_pledged
    held_by_pledges = db.session.scalar(
        select(func.coalesce(func.sum(Pledge.units), 0)).where(
            Pledge.group_buy_id == group_buy_id, Pledge.status.in_(HOLDING_PLEDGE_STATUSES)
        )
    )
    offered = db.session.scalar(
        select(func.coalesce(func.sum(GroupBuyWaitlistEntry.units), 0)).where(GroupBuyWaitlistEntry.status == "offered")
    )
    assert held_by_pledges == paid
    assert offered == min(lapsed, WAITING)
    assert stored == held_by_pledges + offered
    assert services.free_unpaid_pledges(now=time_up + timedelta(hours=1)) == 0
