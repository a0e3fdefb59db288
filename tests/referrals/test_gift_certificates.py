"""Market gift certificates (상품권): store credit with a scope (a market's producers) and an expiry, in
the one credit ledger. Earned from recommendation chains at a market, spent only there, soonest to
expire first, given back on refunds, taken back when the purchase that earned them is refunded, and
expired once by the tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.payments import services as payments
from farmstore.payments.models import LedgerEntry, Payment
from farmstore.referrals import services
from farmstore.referrals.models import CreditCertificate, CreditEntry
from farmstore.sales.services import cancel_order, check_in, payment_of, place_order
from farmstore.tick import JOBS
from tests.catalog.conftest import make_product
from tests.factories import make_producer, make_user, make_village
from tests.referrals.conftest import build_chain_world, share, visit
from tests.sales.conftest import NOW, buy, make_point, make_sale

DAY = timedelta(days=1)


def stall(market, name: str, email: str):
    """A producer of `market` with an open sale of one 10,000원 item (up to 5 each)."""
    producer = make_producer(make_user(email), market, farm_name=name)
    sale = make_sale(producer, [(make_product(producer, f"{name} 선물"), 10_000, 50, 5)], point=make_point(producer))
    return SimpleNamespace(producer=producer, sale=sale)


def build_market_world() -> SimpleNamespace:
    """강릉 중앙시장 (a market) with two stalls, the first's sale carrying a 10% reward; 속초 시장 (another
    market) with one stall; and the chain world's farm in an ordinary village. A, B, C and D as there."""
    world = build_chain_world()
    gangneung = make_village("강릉 중앙시장", kind="market")
    sokcho = make_village("속초 관광수산시장", kind="market")
    world.market, world.other_market = gangneung, sokcho
    world.fish = stall(gangneung, "바다 건어물", "fish@example.com")
    world.fish.sale.reward_bps = 1_000
    world.rice = stall(gangneung, "할머니 떡집", "rice@example.com")
    world.squid = stall(sokcho, "오징어 순대", "squid@example.com")
    db.session.commit()
    return world


def order(sale, buyer, units: int = 1, *, key: str = "k", now=NOW):
    return place_order(
        sale=sale, buyer=buyer, quantities={sale.items[0].id: units}, checkout_key=key, use_credit=True, now=now
    )


def credit_paid(order_) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.order_id == order_.id, Payment.provider == "credit", Payment.status == "succeeded"
        )
    )


def earn_at_the_market(world):
    """A shares the fish stall's sale with B, B with C; C buys 2 (20,000원) and picks them up: B and A
    earn 1,334원 and 666원 of 강릉 중앙시장 certificates."""
    visit(share(world.a, world.fish.sale), world.b)
    visit(share(world.b, world.fish.sale), world.c)
    bought = buy(world.fish.sale, world.c, 2)
    check_in(
        sale=world.fish.sale, code=bought.pickup_code, by=world.fish.producer.user, now=world.fish.sale.pickup_starts_at
    )
    return bought


def certificates(user) -> list[CreditCertificate]:
    return list(
        db.session.scalars(
            select(CreditCertificate).where(CreditCertificate.user_id == user.id).order_by(CreditCertificate.id)
        )
    )


def entries(user) -> list[tuple[str, int, int | None]]:
    rows = db.session.scalars(select(CreditEntry).where(CreditEntry.user_id == user.id).order_by(CreditEntry.id))
    return [(row.kind, row.amount, row.certificate_id) for row in rows]


# -- earning -------------------------------------------------------------------------------------


def test_a_reward_for_a_purchase_at_a_market_is_that_markets_gift_certificate(ctx):
    world = build_market_world()

    earn_at_the_market(world)

    (cert_b,) = certificates(world.b)
    (cert_a,) = certificates(world.a)
    assert (cert_b.village_id, cert_b.remaining, cert_a.remaining) == (world.market.id, 1_334, 666)
    # Valid through the whole local day 90 days on: NOW is 2025-06-02 12:00 in Seoul.
    assert cert_b.expires_at == datetime(2025, 8, 31, 15, 0, tzinfo=UTC)  # 2025-09-01 00:00 in Seoul
    assert services.balance_of(world.b) == 0  # not general credit
    assert services.balance_of(world.b, producer_id=world.rice.producer.id, now=NOW) == 1_334
    assert entries(world.b) == [("reward", 1_334, cert_b.id)]
    ledger = db.session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "reward")).all()
    assert [(r.producer_id, r.amount) for r in ledger] == [(world.fish.producer.id, -2_000)]


def test_the_expiry_follows_the_setting(app, ctx):
    world = build_market_world()
    app.config["GIFT_CERTIFICATE_DAYS"] = 7

    earn_at_the_market(world)

    assert certificates(world.b)[0].expires_at == datetime(2025, 6, 9, 15, 0, tzinfo=UTC)


def test_rewards_elsewhere_stay_general_credit(ctx):
    world = build_market_world()
    visit(share(world.a, world.sale), world.b)
    check_in(
        sale=world.sale,
        code=buy(world.sale, world.b).pickup_code,
        by=world.producer.user,
        now=world.sale.pickup_starts_at,
    )

    assert services.balance_of(world.a) == 2_000
    assert certificates(world.a) == []


def test_the_market_chain_keeps_the_chain_rules(ctx):
    world = build_market_world()
    visit(share(world.a, world.fish.sale), world.b)
    visit(share(world.b, world.fish.sale), world.a)  # A arrives back through B's link: no loop

    bought = buy(world.fish.sale, world.a, 1)
    check_in(
        sale=world.fish.sale, code=bought.pickup_code, by=world.fish.producer.user, now=world.fish.sale.pickup_starts_at
    )

    assert services.referral_for(order=bought) is None  # A is in the chain: nobody is led by themselves
    assert certificates(world.a) == certificates(world.b) == []


def test_a_refund_takes_the_certificate_back_even_when_part_of_it_was_spent(ctx):
    world = build_market_world()
    bought = earn_at_the_market(world)
    spent = order(world.rice.sale, world.b, key="rice")  # B spends the 1,334원 at the rice stall
    assert credit_paid(spent) == 1_334

    payments.refund(payment_of(bought), amount=10_000, reason="반품", by=world.fish.producer.user, now=NOW)
    (cert_a,) = certificates(world.a)
    (cert_b,) = certificates(world.b)
    assert (cert_a.remaining, cert_b.remaining) == (333, 0)  # A had all of it; B's was spent
    reversal = db.session.scalar(
        select(CreditEntry).where(CreditEntry.user_id == world.b.id, CreditEntry.kind == "reward_reversal")
    )
    assert (reversal.amount, reversal.intended, reversal.certificate_id) == (0, -667, cert_b.id)

    payments.refund(payment_of(bought), amount=10_000, reason="반품", by=world.fish.producer.user, now=NOW)
    assert [c.remaining for c in certificates(world.a)] == [0]
    assert services.balance_of(world.a) == services.balance_of(world.b) == 0  # general credit untouched
    report = payments.payout_report(world.fish.producer, start=NOW - DAY, end=NOW + DAY)
    assert report.rewards == 0 and report.net == 0


# -- spending ------------------------------------------------------------------------------------


def test_a_certificate_pays_only_producers_of_its_market(ctx):
    world = build_market_world()
    services.grant_credit(world.d, amount=5_000, key="gift-d", now=NOW, market_id=world.market.id)

    elsewhere = order(world.squid.sale, world.d, key="sokcho")
    farm = order(world.sale, world.d, key="farm")
    at_the_market = order(world.rice.sale, world.d, key="rice")

    assert (credit_paid(elsewhere), credit_paid(farm), credit_paid(at_the_market)) == (0, 0, 5_000)
    assert payment_of(at_the_market).amount == 5_000  # the rest at pickup
    for producer in (world.squid.producer, world.producer):
        assert services.balance_of(world.d, producer_id=producer.id, now=NOW) == 0


def test_certificates_that_expire_soonest_pay_first_then_general_credit(ctx):
    world = build_market_world()
    services.grant_credit(world.d, amount=3_000, key="late", now=NOW, market_id=world.market.id)
    services.grant_credit(world.d, amount=4_000, key="early", now=NOW - 30 * DAY, market_id=world.market.id)
    services.grant_credit(world.d, amount=2_000, key="sokcho", now=NOW - 60 * DAY, market_id=world.other_market.id)
    services.grant_credit(world.d, amount=5_000, key="general", now=NOW)
    late, early, sokcho = certificates(world.d)

    paid = order(world.rice.sale, world.d, key="rice")  # 10,000원

    assert credit_paid(paid) == 10_000
    spends = [(amount, cert) for kind, amount, cert in entries(world.d) if kind == "spend"]
    assert spends == [(-4_000, early.id), (-3_000, late.id), (-3_000, None)]
    assert (early.remaining, late.remaining, sokcho.remaining) == (0, 0, 2_000)
    assert services.balance_of(world.d) == 2_000


def test_an_expired_certificate_is_not_spendable_even_before_the_tick(ctx):
    world = build_market_world()
    services.grant_credit(world.d, amount=5_000, key="gift-d", now=NOW - 91 * DAY, market_id=world.market.id)

    paid = order(world.rice.sale, world.d, key="rice")

    assert credit_paid(paid) == 0
    assert certificates(world.d)[0].remaining == 5_000


def test_spending_more_than_the_certificate_holds_is_refused(ctx):
    world = build_market_world()
    services.grant_credit(world.d, amount=1_000, key="gift-d", now=NOW, market_id=world.market.id)
    (cert,) = certificates(world.d)

    with pytest.raises(DomainError, match="do not have that much"):
        services._move_credit(world.d.id, -1_001, kind="spend", key="too-much", now=NOW, strict=True, certificate=cert)
    db.session.rollback()

    assert certificates(world.d)[0].remaining == 1_000


def test_the_stall_is_paid_for_the_part_a_certificate_covered_and_the_report_adds_up(ctx):
    world = build_market_world()
    services.grant_credit(world.d, amount=3_000, key="gift-d", now=NOW, market_id=world.market.id)

    paid = order(world.rice.sale, world.d, key="rice")
    payments.mark_paid_at_pickup(payment_of(paid), by=world.rice.producer.user, now=NOW)

    report = payments.payout_report(world.rice.producer, start=NOW - DAY, end=NOW + DAY)
    assert (report.gross, report.fees, report.net) == (10_000, 300, 9_700)
    assert sum(e.amount for e in report.entries) == report.net


def test_a_refund_gives_the_same_certificate_back(ctx):
    world = build_market_world()
    services.grant_credit(world.d, amount=4_000, key="early", now=NOW - 30 * DAY, market_id=world.market.id)
    services.grant_credit(world.d, amount=4_000, key="late", now=NOW, market_id=world.market.id)
    services.grant_credit(world.d, amount=1_000, key="general", now=NOW)
    early, late = certificates(world.d)
    paid = order(world.rice.sale, world.d, key="rice")  # 4,000 early + 4,000 late + 1,000 general + 1,000 pickup
    credit_payment = db.session.scalar(select(Payment).where(Payment.order_id == paid.id, Payment.provider == "credit"))

    payments.refund(credit_payment, amount=3_000, reason="일부 반품", by=world.rice.producer.user, now=NOW)
    # General credit first, then the certificate that lasts longest.
    assert (services.balance_of(world.d), late.remaining, early.remaining) == (1_000, 2_000, 0)

    cancel_order(paid, by=world.d, now=NOW)  # the rest comes back

    assert (services.balance_of(world.d), late.remaining, early.remaining) == (1_000, 4_000, 4_000)
    assert [c.id for c in certificates(world.d)] == [early.id, late.id]  # the same certificates, same expiry
    assert early.expires_at < late.expires_at


def test_a_refund_to_an_expired_certificate_comes_back_as_a_new_one_of_the_same_market(ctx):
    world = build_market_world()
    services.grant_credit(world.d, amount=5_000, key="gift-d", now=NOW - 85 * DAY, market_id=world.market.id)
    paid = order(world.rice.sale, world.d, key="rice")
    (old,) = certificates(world.d)
    later = old.expires_at + DAY
    assert services.expire_certificates(now=later) == 1

    credit_payment = db.session.scalar(select(Payment).where(Payment.order_id == paid.id, Payment.provider == "credit"))
    payments.refund(credit_payment, amount=5_000, reason="품절", by=world.rice.producer.user, now=later)

    old_again, new = certificates(world.d)
    assert (old_again.id, old_again.remaining) == (old.id, 0)
    assert (new.village_id, new.remaining) == (world.market.id, 5_000)
    assert new.expires_at > later + 89 * DAY


# -- expiry --------------------------------------------------------------------------------------


def test_the_tick_expires_what_is_left_once(ctx):
    world = build_market_world()
    services.grant_credit(world.d, amount=5_000, key="gift-d", now=NOW, market_id=world.market.id)
    order(world.rice.sale, world.d, 0 + 1, key="rice")  # 10,000원: all 5,000 spent
    services.grant_credit(world.d, amount=2_500, key="gift-d2", now=NOW, market_id=world.market.id)
    used, left = certificates(world.d)
    after = left.expires_at

    assert services.expire_certificates(now=after - timedelta(seconds=1)) == 0
    assert services.expire_certificates(now=after) == 2
    assert services.expire_certificates(now=after + DAY) == 0  # run twice: nothing more

    expiries = [(amount, cert) for kind, amount, cert in entries(world.d) if kind == "expiry"]
    assert expiries == [(-2_500, left.id)]  # the used-up one needs no entry
    assert (used.remaining, left.remaining) == (0, 0)
    assert left.expired_at == after and left.is_expired(after)
    assert ("gift_certificate_expiry", services.expire_certificates) in JOBS


def test_taking_back_a_reward_after_its_certificate_expired_takes_nothing_more(ctx):
    world = build_market_world()
    bought = earn_at_the_market(world)
    (cert_b,) = certificates(world.b)
    services.expire_certificates(now=cert_b.expires_at)

    payments.refund(payment_of(bought), amount=20_000, reason="반품", by=world.fish.producer.user,
                    now=cert_b.expires_at)  # fmt: skip

    assert cert_b.remaining == 0
    assert [kind for kind, _a, _c in entries(world.b)] == ["reward", "expiry", "reward_reversal"]


def test_certificates_are_listed_live_first(ctx):
    world = build_market_world()
    services.grant_credit(world.d, amount=1_000, key="old", now=NOW - 100 * DAY, market_id=world.market.id)
    services.grant_credit(world.d, amount=2_000, key="late", now=NOW, market_id=world.market.id)
    services.grant_credit(world.d, amount=3_000, key="soon", now=NOW - 10 * DAY, market_id=world.other_market.id)

    listed = services.certificates_of(world.d, now=NOW)

    assert [c.remaining for c in listed] == [3_000, 2_000, 1_000]
    assert listed[2].is_expired(NOW)
