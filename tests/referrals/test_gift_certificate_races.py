"""Gift certificates are never overspent and expire once, however many requests race.

Written for PostgreSQL (TEST_DATABASE_URL), where the racing transactions really overlap; on SQLite
the same races run and the database serialises the writers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from farmstore.accounts.models import User
from farmstore.extensions import db
from farmstore.payments.models import Payment
from farmstore.referrals import services
from farmstore.referrals.models import CreditCertificate, CreditEntry
from farmstore.sales.models import Order, Sale
from farmstore.sales.services import place_order
from tests.catalog.conftest import make_product
from tests.referrals.test_gift_certificates import build_market_world
from tests.sales.conftest import NOW, make_point, make_sale
from tests.sales.test_concurrency import patient_sqlite, race  # noqa: F401 (a fixture, found by name)

THREADS = 20
pytestmark = pytest.mark.app_config(
    SQLALCHEMY_ENGINE_OPTIONS={"pool_size": THREADS + 5, "max_overflow": 0, "pool_timeout": 120}
)


def test_certificates_spent_from_many_checkouts_at_once_are_never_overspent(app, ctx, capsys):
    world = build_market_world()
    stall = world.rice.producer
    point = make_point(stall)
    sales = [make_sale(stall, [(make_product(stall, f"떡 {n}"), 3_000, 5, 5)], point=point) for n in range(THREADS)]
    services.grant_credit(world.d, amount=4_000, key="soon", now=NOW - 30 * 24 * timedelta(hours=1),
                          market_id=world.market.id)  # fmt: skip
    services.grant_credit(world.d, amount=5_000, key="late", now=NOW, market_id=world.market.id)
    services.grant_credit(world.d, amount=1_000, key="general", now=NOW)
    buyer_id, sale_ids = world.d.id, [sale.id for sale in sales]

    def ordering(sale_id):
        def job():
            sale = db.session.get(Sale, sale_id)
            return place_order(
                sale=sale, buyer=db.session.get(User, buyer_id), quantities={sale.items[0].id: 1},
                checkout_key=f"gift-{sale_id}", use_credit=True, now=NOW,
            ).id  # fmt: skip

        return job

    outcomes = race(app, [ordering(sale_id) for sale_id in sale_ids], capsys=capsys, label="certificate checkouts")

    assert not [o.crashed for o in outcomes if o.crashed]
    spent = db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.provider == "credit", Payment.status == "succeeded"
        )
    )
    assert spent == 10_000  # every won of the two certificates and the general credit, once
    remaining = db.session.scalars(select(CreditCertificate.remaining).where(CreditCertificate.user_id == buyer_id))
    assert list(remaining) == [0, 0]
    assert services.balance_of(world.d) == 0
    moved = db.session.scalar(select(func.sum(CreditEntry.amount)).where(CreditEntry.user_id == buyer_id))
    assert moved == 0
    assert db.session.scalar(select(func.count()).select_from(Order).where(Order.buyer_id == buyer_id)) == THREADS


def test_ticks_racing_expire_a_certificate_once(app, ctx, capsys):
    world = build_market_world()
    services.grant_credit(world.d, amount=5_000, key="gift", now=NOW, market_id=world.market.id)
    expires_at = db.session.scalar(select(CreditCertificate.expires_at))

    outcomes = race(
        app, [lambda: services.expire_certificates(now=expires_at) for _ in range(5)], capsys=capsys,
        label="certificate expiry",
    )  # fmt: skip

    assert not [o.crashed for o in outcomes if o.crashed]
    assert sorted(o.result for o in outcomes) == [0, 0, 0, 0, 1]
    expiries = db.session.scalars(select(CreditEntry.amount).where(CreditEntry.kind == "expiry")).all()
    assert expiries == [-5_000]
