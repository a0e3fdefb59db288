"""Credit is never spent twice and rewards are never paid twice, however many requests race.

Written for PostgreSQL (TEST_DATABASE_URL), where the racing transactions really overlap; on SQLite
the same races run and the database serialises the writers."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from farmstore.accounts.models import User
from farmstore.extensions import db
from farmstore.payments import services as payments
from farmstore.payments.models import Payment
from farmstore.referrals import services
from farmstore.referrals.models import Attribution, CreditEntry, Referral, ShareLink
from farmstore.sales.models import Order, Sale
from farmstore.sales.services import payment_of, place_order
from tests.catalog.conftest import make_product
from tests.referrals.conftest import build_chain_world, share, visit
from tests.sales.conftest import NOW, buy, make_point, make_sale
from tests.sales.test_concurrency import patient_sqlite, race  # noqa: F401 (a fixture, found by name)

THREADS = 20
pytestmark = pytest.mark.app_config(
    SQLALCHEMY_ENGINE_OPTIONS={"pool_size": THREADS + 5, "max_overflow": 0, "pool_timeout": 120}
)


def test_credit_spent_from_many_checkouts_at_once_never_goes_below_zero(app, ctx, capsys):
    world = build_chain_world()
    point = make_point(world.producer)
    sales = [
        make_sale(world.producer, [(make_product(world.producer, f"김치 {n}"), 3_000, 5, 5)], point=point)
        for n in range(THREADS)
    ]
    services.grant_credit(world.c, amount=10_000, key="gift", now=NOW)
    buyer_id, sale_ids = world.c.id, [sale.id for sale in sales]

    def ordering(sale_id):
        def job():
            sale = db.session.get(Sale, sale_id)
            order = place_order(
                sale=sale, buyer=db.session.get(User, buyer_id), quantities={sale.items[0].id: 1},
                checkout_key=f"credit-{sale_id}", use_credit=True, now=NOW,
            )  # fmt: skip
            return order.id

        return job

    outcomes = race(app, [ordering(sale_id) for sale_id in sale_ids], capsys=capsys, label="credit checkouts")

    assert not [o.crashed for o in outcomes if o.crashed]
    spent = db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.provider == "credit", Payment.status == "succeeded"
        )
    )
    entries = db.session.scalar(select(func.sum(CreditEntry.amount)).where(CreditEntry.user_id == buyer_id))
    assert spent == 10_000  # every won spent once: 3 orders whole, one in part, the rest none
    assert services.balance_of(world.c) == entries == 0
    orders = db.session.scalars(select(Order).where(Order.buyer_id == buyer_id)).all()
    assert len(orders) == THREADS  # nobody was refused: the rest pay at pickup


def test_rewards_settled_by_many_requests_at_once_are_paid_once(app, ctx, capsys):
    world = build_chain_world()
    link_a = share(world.a, world.sale)
    visit(link_a, world.b)
    visit(share(world.b, world.sale), world.c)
    order = buy(world.sale, world.c)
    # Handed over and paid, but its rewards not settled yet (as if check-in had stopped right there).
    payments.mark_paid_at_pickup(payment_of(order), by=world.producer.user, now=NOW)
    order.status = "picked_up"
    db.session.commit()
    referral_id = services.referral_for(order=order).id

    def settling():
        referral = db.session.get(Referral, referral_id)
        moved = services.settle_rewards(referral, now=NOW)
        db.session.commit()
        return moved

    outcomes = race(app, [settling for _ in range(THREADS)], capsys=capsys, label="reward settlement")

    assert not [o.crashed for o in outcomes if o.crashed]
    assert sorted(o.result for o in outcomes) == [0] * (THREADS - 1) + [2_000]
    assert (services.balance_of(world.b), services.balance_of(world.a)) == (1_334, 666)


def test_many_links_opened_at_once_leave_one_attribution(app, ctx, capsys):
    world = build_chain_world()
    sharers = [world.a, world.b, world.d]
    links = [share(user, world.sale).id for user in sharers]
    buyer_id = world.c.id

    def opening(link_id):
        def job():
            link = db.session.get(ShareLink, link_id)
            return services.open_link(link, user=db.session.get(User, buyer_id), guest=None, now=NOW)

        return job

    outcomes = race(app, [opening(links[n % 3]) for n in range(THREADS)], capsys=capsys, label="link visits")

    assert not [o.crashed for o in outcomes if o.crashed]
    assert db.session.scalar(select(func.count()).select_from(Attribution)) == 1
    assert services.link_stats(db.session.get(ShareLink, links[0])).visitors == 1
