"""Market deals as the services see them: stalls, planning with clear refusals, the drop, buying,
tipping or not at the deadline (settled once by the tick), coupons issued once, redemption and
the unredeemed policy, and the stall's money adding up with the ledger."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from farmstore.deals import services
from farmstore.deals.models import Coupon, Deal
from farmstore.errors import DomainError, NotAllowed
from farmstore.extensions import db
from farmstore.groupbuys.models import Pledge
from farmstore.groupbuys.services import settle_due_group_buys
from farmstore.notifications.models import OutboxMessage
from farmstore.payments.models import LedgerEntry, Payment
from farmstore.referrals.services import balance_of
from farmstore.regulars.models import Follow
from farmstore.tick import run_tick
from tests.deals.conftest import NOW, TOMORROW, at, drop, group_buy_of, make_deal, make_stall


def _settle(deal):
    """The tick at the tipping deadline: the group-buy is decided and settled, coupons issued."""
    after = at(deal.deal_date, 14, 1)
    settle_due_group_buys(now=after)
    return services.issue_coupons(now=after)


def _coupons(**where) -> list[Coupon]:
    db.session.expire_all()
    return list(db.session.scalars(select(Coupon).filter_by(**where).order_by(Coupon.id)))


# ---------------------------------------------------------------- stalls


def test_only_a_market_producer_can_have_a_stall(world):
    with pytest.raises(DomainError, match="Only a producer of a market"):
        make_stall(world.farm)


def test_a_stall_closes_after_it_opens_and_others_cannot_change_it(world):
    with pytest.raises(DomainError, match="close after it opens") as error:
        make_stall(world.fish, opens=time(18), closes=time(9))
    assert error.value.field == "closes_at"
    with pytest.raises(NotAllowed):
        services.save_stall(
            producer=world.fish, by=world.stranger, number="1", location="", opens_at=time(9), closes_at=time(18),
            now=NOW,
        )  # fmt: skip
    services.save_stall(
        producer=world.fish, by=world.operator, number="다-1", location="", opens_at=time(8), closes_at=time(20),
        now=NOW,
    )  # fmt: skip
    assert services.stall_of(world.fish).number == "다-1"


# ---------------------------------------------------------------- planning


def test_a_deal_is_scheduled_as_a_draft_group_buy(world):
    deal = make_deal(world.fish)
    group_buy = deal.group_buy
    assert group_buy.status == "draft" and group_buy.subject_id is None
    assert (group_buy.min_units, group_buy.total_units, group_buy.per_buyer_max) == (3, 10, 3)
    assert deal.drop_at == at(TOMORROW, 10) and group_buy.deadline == at(TOMORROW, 14)
    assert deal.redeem_until == at(TOMORROW, 18)  # the same day, until the stall closes
    assert deal.state(NOW) == "scheduled"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"minimum": 11, "cap": 10}, "min_coupons", "cannot be above the cap"),
        ({"per_buyer": 11}, "per_buyer", "between 1 and the cap"),
        ({"face_value": None}, "face_value", "what a coupon is worth"),
        ({"redeem_days": 15}, "redeem_days", "0 to 14 days"),
        ({"day": NOW.date() - timedelta(days=1)}, "drop_time", "must be in the future"),
    ],
)
def test_bad_deals_are_refused_with_a_clear_message(world, changes, field, message):
    with pytest.raises(DomainError, match=message) as error:
        make_deal(world.fish, **changes)
    assert error.value.field == field
    assert db.session.scalar(select(func.count()).select_from(Deal)) == 0


def test_a_redemption_window_before_the_drop_is_refused(world):
    make_stall(world.fish, opens=time(6), closes=time(9, 30))  # closes before the 10:00 drop
    with pytest.raises(DomainError, match="redemption window ends before the drop") as error:
        make_deal(world.fish)
    assert error.value.field == "redeem_days"


def test_one_deal_per_market_and_day(world):
    make_deal(world.fish)
    with pytest.raises(DomainError, match="already has a deal on") as error:
        make_deal(world.fruit)
    assert error.value.field == "day"
    make_deal(world.fruit, day=TOMORROW + timedelta(days=1))  # planned ahead, another day
    assert db.session.scalar(select(func.count()).select_from(Deal)) == 2


def test_only_the_stall_its_evangelist_or_an_operator_plans_deals(world):
    with pytest.raises(NotAllowed):
        services.create_deal(
            producer=world.fish, by=world.stranger, title="x", day=TOMORROW, drop_time=time(10),
            deadline_time=time(14), price=1, face_value=2, item="", min_coupons=1, cap=1, per_buyer=1,
            redeem_days=0, now=NOW,
        )  # fmt: skip
    deal = services.create_deal(
        producer=world.fish, by=world.operator, title="사과", day=TOMORROW, drop_time=time(10),
        deadline_time=time(14), price=9_900, face_value=None, item="사과 2 kg", min_coupons=1, cap=5, per_buyer=1,
        redeem_days=14, now=NOW,
    )  # fmt: skip
    assert deal.worth == "사과 2 kg"
    assert deal.redeem_until == at(TOMORROW + timedelta(days=14), 18)


# ---------------------------------------------------------------- drop, buy, tip


def test_the_drop_opens_the_deal_and_tells_the_markets_followers(world):
    deal = make_deal(world.fish)
    db.session.add_all([Follow(user_id=world.buyer.id, producer_id=world.fish.id),
                        Follow(user_id=world.buyer.id, producer_id=world.fruit.id),
                        Follow(user_id=world.second.id, producer_id=world.farm.id)])  # fmt: skip
    db.session.commit()
    assert services.drop_due_deals(now=at(TOMORROW, 9, 59)) == 0
    with pytest.raises(DomainError, match="not selling"):
        services.buy_coupons(deal=deal, buyer=world.buyer, coupons=1, now=at(TOMORROW, 9, 59))
    assert services.drop_due_deals(now=at(TOMORROW, 10)) == 1
    assert services.drop_due_deals(now=at(TOMORROW, 10, 1)) == 0  # once
    db.session.refresh(deal)
    assert deal.state(at(TOMORROW, 10)) == "live" and deal.dropped_at == at(TOMORROW, 10)
    messages = db.session.scalars(select(OutboxMessage)).all()
    assert [m.to_address for m in messages] == ["buyer@example.com"]  # once, though they follow two stalls
    assert "중앙시장" in messages[0].subject


def test_a_deal_that_tips_issues_one_coupon_per_unit_once(world):
    deal = make_deal(world.fish, minimum=3)
    drop(deal)
    services.buy_coupons(deal=deal, buyer=world.buyer, coupons=2, now=at(TOMORROW, 11))
    services.buy_coupons(deal=deal, buyer=world.second, coupons=1, now=at(TOMORROW, 11))
    assert deal.tipped
    with pytest.raises(DomainError, match="at most 3"):
        services.buy_coupons(deal=deal, buyer=world.second, coupons=4, now=at(TOMORROW, 11))
    assert services.issue_coupons(now=at(TOMORROW, 13)) == 0  # not decided yet
    assert _settle(deal) == 3
    assert services.issue_coupons(now=at(TOMORROW, 14, 2)) == 0  # never twice
    coupons = _coupons()
    assert len({c.code for c in coupons}) == 3 and all(len(c.code) == 8 for c in coupons)
    assert [c.buyer_id for c in coupons].count(world.buyer.id) == 2
    assert all(c.valid_from == at(TOMORROW, 14) and c.valid_until == at(TOMORROW, 18) for c in coupons)
    for coupon in coupons:  # each code is in exactly one email, its buyer's
        mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.body_text.contains(coupon.code))).all()
        assert [m.to_address for m in mails] == [coupon.buyer.email]


def test_a_deal_that_does_not_tip_issues_nothing_and_nobody_pays(world):
    deal = make_deal(world.fish, minimum=3)
    drop(deal)
    services.buy_coupons(deal=deal, buyer=world.buyer, coupons=2, now=at(TOMORROW, 11))
    assert _settle(deal) == 0
    assert group_buy_of(deal).status == "failed"
    assert db.session.scalars(select(Pledge.status)).all() == ["released"]
    assert _coupons() == [] and db.session.scalar(select(func.count()).select_from(Payment)) == 0
    assert deal.state(at(TOMORROW, 15)) == "failed"


def test_a_killed_issue_run_resumes_without_issuing_twice(world, monkeypatch):
    deal = make_deal(world.fish, minimum=2, per_buyer=3)
    drop(deal)
    buyers = [world.buyer, world.second, world.stranger]
    for n, buyer in enumerate(buyers):
        services.buy_coupons(deal=deal, buyer=buyer, coupons=n + 1, now=at(TOMORROW, 11))
    settle_due_group_buys(now=at(TOMORROW, 14, 1))
    real_notify, calls = services.notify, []

    def dies_on_the_second_buyer(users, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return real_notify(users, **kwargs)

    monkeypatch.setattr(services, "notify", dies_on_the_second_buyer)
    with pytest.raises(RuntimeError):
        services.issue_coupons(now=at(TOMORROW, 14, 1))
    db.session.rollback()
    assert len(_coupons()) == 1  # the first pledge's coupon was committed, the second's rolled back
    monkeypatch.setattr(services, "notify", real_notify)
    assert services.issue_coupons(now=at(TOMORROW, 14, 2)) == 5
    coupons = _coupons()
    assert len(coupons) == 6 and len({c.code for c in coupons}) == 6
    assert sorted((c.pledge_id, c.seq) for c in coupons) == sorted(set((c.pledge_id, c.seq) for c in coupons))
    assert services.issue_coupons(now=at(TOMORROW, 14, 3)) == 0
    emails = db.session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.body_text.contains(coupons[-1].code))
    )
    assert emails == 1


def test_the_tick_runs_the_whole_day(world):
    deal = make_deal(world.fish, minimum=1)
    run_tick(now=at(TOMORROW, 10))
    services.buy_coupons(deal=deal, buyer=world.buyer, coupons=1, now=at(TOMORROW, 11))
    report = run_tick(now=at(TOMORROW, 14))
    assert report["deal_coupons"] == 1
    assert run_tick(now=at(TOMORROW, 14, 5))["deal_coupons"] == 0


# ---------------------------------------------------------------- redemption


def _tipped(world, *, coupons: int = 2, buyer=None, redeem_days: int = 0):
    deal = make_deal(world.fish, minimum=1, redeem_days=redeem_days)
    drop(deal)
    services.buy_coupons(deal=deal, buyer=buyer or world.buyer, coupons=coupons, now=at(TOMORROW, 11))
    _settle(deal)
    return deal, _coupons()


def test_redeeming_takes_a_coupon_once_and_collects_payment_at_the_stall(world):
    _deal, (first, second) = _tipped(world)
    during = at(TOMORROW, 15)
    taken = services.redeem(producer=world.fish, code=first.code.lower()[:4] + "-" + first.code[4:], by=world.fish.user,
                            now=during)  # fmt: skip
    assert taken.coupon.id == first.id and (taken.collect, taken.collect_for) == (10_000, 2)
    with pytest.raises(DomainError, match="already used"):
        services.redeem(producer=world.fish, code=first.code, by=world.fish.user, now=during)
    again = services.redeem(producer=world.fish, code=second.code, by=world.fish.user, now=during)
    assert again.collect == 0  # the pledge was paid with the first coupon
    payment = db.session.scalar(select(Payment))
    assert payment.status == "succeeded" and payment.amount == 10_000
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "payment")) == 1
    assert [c.code for c in services.redeemed_today(world.fish, now=during)] == [second.code, first.code]


@pytest.mark.parametrize(
    ("when", "message"),
    [((13, 59), "is valid from"), ((18, 0), "expired")],
)
def test_a_coupon_outside_its_window_is_refused(world, when, message):
    _deal, (coupon, _) = _tipped(world)
    with pytest.raises(DomainError, match=message):
        services.redeem(producer=world.fish, code=coupon.code, by=world.fish.user, now=at(TOMORROW, *when))
    assert _coupons(id=coupon.id)[0].redeemed_at is None


def test_unknown_and_other_stalls_codes_are_refused_and_only_the_stall_redeems(world):
    _deal, (coupon, _) = _tipped(world)
    during = at(TOMORROW, 15)
    with pytest.raises(DomainError, match="No coupon has the code ZZZZ9999"):
        services.redeem(producer=world.fish, code="zzzz9999", by=world.fish.user, now=during)
    with pytest.raises(DomainError, match=r"for another stall \(박씨네 생선\)"):
        services.redeem(producer=world.fruit, code=coupon.code, by=world.fruit.user, now=during)
    with pytest.raises(DomainError, match="Type the coupon"):
        services.redeem(producer=world.fish, code=" - ", by=world.fish.user, now=during)
    for intruder in (world.stranger, world.fruit.user):
        with pytest.raises(NotAllowed):
            services.redeem(producer=world.fish, code=coupon.code, by=intruder, now=during)
    assert all(c.redeemed_at is None for c in _coupons())
    assert services.redeem(producer=world.fish, code=coupon.code, by=world.operator, now=during).coupon.id == coupon.id


# ---------------------------------------------------------------- unredeemed coupons and the money


def _paid_by_card_like(deal):
    """Record the pledges' money as received (as a card charge at tipping would)."""
    from farmstore.groupbuys.services import record_payment
    from farmstore.payments.services import record_success

    for record in db.session.scalars(select(Pledge).where(Pledge.group_buy_id == deal.group_buy_id)).all():
        record_success(record_payment(record), now=at(TOMORROW, 14, 1))


@pytest.mark.parametrize("policy", ["stall", "refund"])
def test_the_stall_report_adds_up_with_the_ledger(app, world, policy):
    app.config["DEAL_UNREDEEMED_POLICY"] = policy
    deal, coupons = _tipped(world, coupons=3)
    _paid_by_card_like(deal)
    services.redeem(producer=world.fish, code=coupons[0].code, by=world.fish.user, now=at(TOMORROW, 15))
    before = services.stall_report(world.fish, by=world.fish.user, now=at(TOMORROW, 15))
    assert (before.sold, before.redeemed, before.open, before.held) == (3, 1, 2, 10_000)
    assert before.gross == 15_000 and before.owed == before.net - 10_000

    assert services.settle_expired_coupons(now=at(TOMORROW, 18)) == 2
    assert services.settle_expired_coupons(now=at(TOMORROW, 18, 1)) == 0  # once
    report = services.stall_report(world.fish, by=world.fish.user, now=at(TOMORROW, 18, 1))
    ledger = db.session.scalar(select(func.sum(LedgerEntry.amount)).where(LedgerEntry.producer_id == world.fish.id))
    assert (report.redeemed, report.unredeemed_expired, report.open, report.held) == (1, 2, 0, 0)
    assert report.owed == report.net == ledger  # to the won
    fee = 15_000 * 300 // 10_000
    if policy == "stall":
        assert report.kept_value == 10_000 and report.owed == 15_000 - fee
        assert balance_of(world.buyer) == 0
    else:
        reversal = fee - (5_000 * 300 // 10_000)
        assert report.refunded_value == 10_000 and report.refunds == 10_000
        assert report.owed == 5_000 - fee + reversal
        assert balance_of(world.buyer) == 10_000  # the unused coupons' price, as store credit
    with pytest.raises(NotAllowed):
        services.stall_report(world.fish, by=world.stranger, now=NOW)


def test_unpaid_coupons_just_expire(app, world):
    app.config["DEAL_UNREDEEMED_POLICY"] = "refund"
    _tipped(world, coupons=1)
    assert services.settle_expired_coupons(now=at(TOMORROW, 18)) == 1
    assert [c.outcome for c in _coupons()] == ["unpaid"]
    assert balance_of(world.buyer) == 0


def test_the_markets_evangelist_sets_up_stalls_and_plans_deals(world):
    from farmstore.evangelists.services import apply_to_adopt, approve_adoption

    evangelist = world.second
    adoption = apply_to_adopt(user=evangelist, village_id=world.market.id, motivation="돕고 싶어요.", now=NOW)
    approve_adoption(adoption, operator=world.operator, now=NOW)
    services.save_stall(
        producer=world.fruit, by=evangelist, number="나-4", location="", opens_at=time(8), closes_at=time(20), now=NOW
    )
    deal = services.create_deal(
        producer=world.fruit, by=evangelist, title="사과", day=TOMORROW, drop_time=time(10), deadline_time=time(14),
        price=9_900, face_value=None, item="사과 2 kg", min_coupons=1, cap=5, per_buyer=1, redeem_days=1, now=NOW,
    )  # fmt: skip
    assert deal.created_by_id == evangelist.id and services.stall_of(world.fruit).number == "나-4"
    with pytest.raises(NotAllowed):  # taking coupons stays the stall's own business
        services.redeem(producer=world.fruit, code="ABCD2345", by=evangelist, now=NOW)
    with pytest.raises(NotAllowed):  # and the evangelist helps only their own market
        services.save_stall(
            producer=world.farm, by=evangelist, number="1", location="", opens_at=time(8), closes_at=time(9), now=NOW
        )
