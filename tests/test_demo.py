"""`flask farm seed-demo` gives a newcomer a living site, and running it again changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from farmstore.accounts.models import User
from farmstore.extensions import db
from farmstore.media.models import Photo
from farmstore.producers.models import Producer
from farmstore.villages.models import Village


def _counts() -> dict[str, int]:
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (User, Village, Producer, Photo)
    }


def test_seed_demo_builds_a_village_with_three_producers(app, runner, client):
    result = runner.invoke(args=["farm", "seed-demo"])

    assert result.exit_code == 0, result.output
    with app.app_context():
        counts = _counts()
        village = db.session.scalar(select(Village).where(Village.name == "햇살마을"))
        operators = db.session.scalar(select(func.count()).select_from(User).where(User.is_operator))
        farm_names = {p.farm_name for p in village.producers}
        photo_ok = all(p.photo is not None for p in village.producers) and village.cover_photo is not None
    # 햇살마을 with three farms, and 강릉 중앙시장 (waiting for an evangelist) with five stalls
    assert counts["Village"] == 2 and counts["Producer"] == 3 + 5
    assert counts["User"] >= 3 + 3 + 1  # producers, buyers, an operator
    assert operators == 1
    assert farm_names == {"느릅골 한우농장", "들꽃차 할머니", "북쪽밭 배추"}
    assert photo_ok
    home = client.get("/").get_data(as_text=True)
    assert all(name in home for name in farm_names)


def test_seed_demo_is_idempotent(app, runner):
    runner.invoke(args=["farm", "seed-demo"])
    with app.app_context():
        before = _counts()

    again = runner.invoke(args=["farm", "seed-demo"])

    assert again.exit_code == 0, again.output
    with app.app_context():
        assert _counts() == before


def test_if_empty_leaves_an_existing_database_alone(app, runner):
    from farmstore.regulars.models import Follow

    runner.invoke(args=["farm", "seed-demo"])
    with app.app_context():
        db.session.execute(db.delete(Follow))
        db.session.commit()

    result = runner.invoke(args=["farm", "seed-demo", "--if-empty"])

    assert "not loaded" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Follow)) == 0


def test_demo_has_sales_in_every_state_and_payouts_that_add_up(app, runner):
    from datetime import timedelta

    from farmstore.payments.models import LedgerEntry
    from farmstore.payments.services import payout_report
    from farmstore.sales.models import AreaRequest, Order, Sale
    from farmstore.timeutil import utcnow

    runner.invoke(args=["farm", "seed-demo"])

    with app.app_context():
        now = utcnow()
        statuses = {sale.status(now) for sale in db.session.scalars(select(Sale))}
        order_statuses = set(db.session.scalars(select(Order.status)))
        reports = [
            payout_report(producer, start=now - timedelta(days=60), end=now + timedelta(days=1))
            for producer in db.session.scalars(select(Producer))
        ]
        ledger_total = db.session.scalar(select(func.sum(LedgerEntry.amount)))
        requests = db.session.scalar(select(func.count()).select_from(AreaRequest))
    assert {"open", "scheduled", "closed"} <= statuses
    assert {"confirmed", "picked_up", "no_show"} <= order_statuses
    assert any(report.refunds for report in reports)
    assert sum(report.net for report in reports) == ledger_total > 0
    assert all(report.net == report.gross - report.refunds - report.fees - report.rewards for report in reports)
    assert any(report.rewards for report in reports)
    assert requests >= 4


def test_demo_has_group_buys_open_succeeded_and_failed(app, runner):
    from farmstore.groupbuys.models import GroupBuy, GroupBuyWaitlistEntry, Pledge
    from farmstore.timeutil import utcnow

    runner.invoke(args=["farm", "seed-demo"])

    with app.app_context():
        group_buys = {g.status: g for g in db.session.scalars(select(GroupBuy).where(GroupBuy.subject_id.is_not(None)))}
        pledge_statuses = {
            status: set(db.session.scalars(select(Pledge.status).where(Pledge.group_buy_id == g.id)))
            for status, g in group_buys.items()
        }
        open_one = group_buys["open"]
        half_full = 0 < open_one.units_pledged < open_one.min_units
        waiting = db.session.scalar(select(func.count()).select_from(GroupBuyWaitlistEntry))
        in_grace = db.session.scalar(select(Pledge).where(Pledge.status == "unpaid"))
        grace_shown = in_grace.pay_by > utcnow() and in_grace.group_buy.units_left == 0
        weighed = sorted(
            (p.weight_difference, p.final_grams - p.units * p.group_buy.grams_per_unit, p.total_after_weight - p.total)
            for p in db.session.scalars(select(Pledge).where(Pledge.weight_settled_at.is_not(None)))
        )
        sold_by_weight = group_buys["succeeded"].price_per_kg, group_buys["succeeded"].grams_per_unit
    assert set(group_buys) == {"open", "succeeded", "failed"}
    assert half_full
    assert pledge_statuses == {"open": {"active"}, "succeeded": {"due", "unpaid"}, "failed": {"released"}}
    assert waiting == 1 and grace_shown
    assert sold_by_weight == (23_000, 18_000)
    assert weighed == [(-18_400, -800, -18_400), (20_700, 900, 20_700)]  # one lighter (pays less), one heavier


def test_demo_has_a_chain_of_four_with_credit(app, runner):
    from farmstore.referrals.models import ChainEntry, CreditAccount, Referral, ShareLink

    runner.invoke(args=["farm", "seed-demo"])

    with app.app_context():
        longest = db.session.scalar(select(Referral).order_by(Referral.length.desc()).limit(1))
        chain = [entry.user.display_name for entry in longest.entries]
        buyer = db.session.get(User, longest.buyer_id).display_name
        holders = db.session.scalar(select(func.count()).select_from(CreditAccount).where(CreditAccount.balance > 0))
        producers = db.session.scalar(select(func.count(func.distinct(ShareLink.producer_id))))
        entries = db.session.scalar(select(func.count()).select_from(ChainEntry))
    assert (buyer, chain) == ("Daniel", ["소라", "민호", "지연"])
    assert holders == 3 and entries == 6
    assert producers == 2


def test_demo_buyer_holds_a_market_gift_certificate(app, runner, client):
    from farmstore.referrals import services
    from farmstore.timeutil import utcnow

    runner.invoke(args=["farm", "seed-demo"])
    client.post("/login", data={"email": "jiyeon@farmstore.example", "password": "harvest-moon-over-pyeongchang"})

    with app.app_context():
        jiyeon = db.session.scalar(select(User).where(User.email == "jiyeon@farmstore.example"))
        live, expired = services.certificates_of(jiyeon, now=utcnow())
        assert (live.village.name, live.village.kind, live.remaining) == ("강릉 중앙시장", "market", 5_000)
        assert expired.is_expired(utcnow()) and expired.remaining == 0
    page = client.get("/me/recommendations", headers={"Accept-Language": "ko"}).text
    assert "강릉 중앙시장 상품권 5,000원 · " in page and "기간이 끝났어요" in page
