"""Share links, attribution, chains on purchases, rewards and store credit, through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import IntegrityError

from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.groupbuys.services import pledge
from farmstore.payments import services as payments
from farmstore.payments.models import LedgerEntry, Payment
from farmstore.payments.services import payout_report
from farmstore.referrals import services
from farmstore.referrals.models import Attribution, ChainEntry, CreditAccount, LinkVisit, Referral, ShareLink
from farmstore.referrals.views import recommender
from farmstore.regulars.services import follow
from farmstore.sales.services import cancel_order, check_in, payment_of, place_order
from tests.catalog.conftest import make_product
from tests.factories import make_producer, make_user
from tests.groupbuys.conftest import make_group_buy
from tests.referrals.conftest import build_chain_world, credit_entries, share, visit
from tests.sales.conftest import NOW, buy, make_point, make_sale

DAY = timedelta(days=1)


def chain_users(referral: Referral) -> list[int | None]:
    return [entry.user_id for entry in referral.entries]


def a_to_b_to_c(world) -> tuple[ShareLink, ShareLink]:
    """A shares the sale; B arrives through A's link and shares it on; C arrives through B's."""
    link_a = share(world.a, world.sale)
    visit(link_a, world.b)
    link_b = share(world.b, world.sale)
    visit(link_b, world.c)
    return link_a, link_b


# -- share links ---------------------------------------------------------------------------------


def test_a_member_has_one_short_unguessable_link_per_target(ctx):
    world = build_chain_world()

    first = share(world.a, world.sale)
    again = share(world.a, world.sale)
    other = share(world.a, world.producer, kind="producer")

    assert first.id == again.id
    assert other.id != first.id
    assert len(first.token) == services.TOKEN_LENGTH and set(first.token) <= set(services.TOKEN_ALPHABET)
    assert first.token != share(world.b, world.sale).token
    assert first.producer_id == other.producer_id == world.producer.id


@pytest.mark.parametrize("kind, target_id", [("order", 1), ("sale", 999_999), ("producer", "1")])
def test_unknown_targets_cannot_be_shared(ctx, kind, target_id):
    world = build_chain_world()

    with pytest.raises(DomainError, match="nothing to share"):
        services.share(world.a, kind=kind, target_id=target_id, now=NOW)


@pytest.mark.app_config(SHARE_LINKS_PER_DAY=3)
def test_link_farming_is_limited_per_day(ctx):

    world = build_chain_world()
    radish = make_product(world.producer, "깍두기")
    for kind, target in (("sale", world.sale), ("producer", world.producer), ("product", world.kimchi)):
        share(world.a, target, kind=kind)

    with pytest.raises(DomainError, match="many share links today"):
        share(world.a, radish, kind="product")
    assert share(world.a, world.kimchi, kind="product").id  # an existing link is still handed out
    assert share(world.a, radish, kind="product", now=NOW + DAY).id  # and tomorrow is another day


# -- visits and attribution ----------------------------------------------------------------------


def test_a_visit_counts_once_per_visitor_and_day(ctx):
    world = build_chain_world()
    link = share(world.a, world.sale)

    for _ in range(3):
        visit(link, world.b)
    services.open_link(link, user=None, guest="guest-1", now=NOW)
    services.open_link(link, user=None, guest="guest-1", now=NOW + timedelta(minutes=5))
    visit(link, world.b, now=NOW + DAY)

    visits = db.session.scalars(select(LinkVisit.visitor).where(LinkVisit.link_id == link.id)).all()
    assert sorted(visits) == sorted([f"u{world.b.id}", "gguest-1", f"u{world.b.id}"])
    assert services.link_stats(link).visitors == 2


def test_opening_your_own_link_does_nothing(ctx):
    world = build_chain_world()
    link = share(world.a, world.sale)

    assert visit(link, world.a) is False
    assert db.session.scalar(select(func.count()).select_from(LinkVisit)) == 0
    assert services.attributed_link(world.a.id, world.producer.id, NOW) is None


def test_the_last_link_wins_and_lasts_thirty_days(ctx):
    world = build_chain_world()
    link_a, link_d = share(world.a, world.sale), share(world.d, world.producer, kind="producer")

    visit(link_a, world.c)
    visit(link_d, world.c, now=NOW + DAY)

    assert services.attributed_link(world.c.id, world.producer.id, NOW + DAY).id == link_d.id
    assert services.attributed_link(world.c.id, world.producer.id, NOW + 30 * DAY).id == link_d.id
    assert services.attributed_link(world.c.id, world.producer.id, NOW + 31 * DAY) is None


@pytest.mark.app_config(ATTRIBUTION_DAYS=2)
def test_how_long_attribution_lasts_is_configurable(ctx):
    world = build_chain_world()
    visit(share(world.a, world.sale), world.c)

    assert services.attributed_link(world.c.id, world.producer.id, NOW + DAY) is not None
    assert services.attributed_link(world.c.id, world.producer.id, NOW + 2 * DAY) is None


def test_a_guests_links_become_theirs_when_they_sign_in(ctx):
    world = build_chain_world()
    link = share(world.a, world.sale)
    older = share(world.d, world.producer, kind="producer")
    arrivals = {
        str(world.producer.id): [link.id, NOW.isoformat()],
        "999": ["not-a-link", "yesterday"],  # tampered session data is ignored
    }
    visit(older, world.c, now=NOW - DAY)

    services.adopt_guest_attributions(world.c, arrivals, now=NOW + timedelta(hours=1))

    assert services.attributed_link(world.c.id, world.producer.id, NOW).id == link.id


def test_an_older_guest_arrival_does_not_replace_a_newer_one(ctx):
    world = build_chain_world()
    newer = share(world.d, world.producer, kind="producer")
    visit(newer, world.c)

    services.adopt_guest_attributions(
        world.c, {str(world.producer.id): [share(world.a, world.sale).id, (NOW - DAY).isoformat()]}, now=NOW
    )

    assert services.attributed_link(world.c.id, world.producer.id, NOW).id == newer.id


@pytest.mark.parametrize("token", ["", "short", "x" * 10, "0000000000", "../../etc", "ABCDEFGHJK", None])
def test_tampered_or_unknown_tokens_name_no_link(ctx, token):
    build_chain_world()

    assert services.link_by_token(token) is None


# -- chains --------------------------------------------------------------------------------------


def test_a_link_made_after_arriving_through_another_hangs_from_it(ctx):
    world = build_chain_world()
    link_a, link_b = a_to_b_to_c(world)
    link_c = share(world.c, world.kimchi, kind="product")  # another target of the same producer

    assert (link_a.parent_id, link_a.depth) == (None, 1)
    assert (link_b.parent_id, link_b.depth) == (link_a.id, 2)
    assert (link_c.parent_id, link_c.depth) == (link_b.id, 3)
    assert [link.user_id for link in services.chain_of(link_c)] == [world.c.id, world.b.id, world.a.id]


def test_a_member_appears_at_most_once_in_a_chain(ctx):
    world = build_chain_world()
    _link_a, link_b = a_to_b_to_c(world)
    visit(link_b, world.a)  # A comes back through B's link

    link_a_product = share(world.a, world.kimchi, kind="product")

    assert link_a_product.parent_id is None  # A would be in its chain twice: it starts a chain of its own


@pytest.mark.app_config(CHAIN_MAX_DEPTH=3)
def test_chains_are_capped_in_depth(ctx):
    world = build_chain_world()
    _link_a, _link_b = a_to_b_to_c(world)
    link_c = share(world.c, world.sale)
    visit(link_c, world.d)

    link_d = share(world.d, world.sale)

    assert link_c.depth == 3
    assert (link_d.parent_id, link_d.depth) == (None, 1)


def test_an_order_records_the_whole_chain_closest_first(ctx):
    world = build_chain_world()
    link_a, link_b = a_to_b_to_c(world)

    order = buy(world.sale, world.c, 2)

    referral = services.referral_for(order=order)
    assert referral.length == 2
    assert [(e.position, e.user_id, e.link_id, e.link_token) for e in referral.entries] == [
        (1, world.b.id, link_b.id, link_b.token),
        (2, world.a.id, link_a.id, link_a.token),
    ]
    assert [e.shared_at for e in referral.entries] == [link_b.created_at, link_a.created_at]
    assert (referral.sale_id, referral.producer_id, referral.buyer_id) == (world.sale.id, world.producer.id, world.c.id)


def test_nobody_recorded_when_nobody_led_the_buyer(ctx):
    world = build_chain_world()

    order = buy(world.sale, world.c)

    assert services.referral_for(order=order) is None


def test_a_buyer_already_in_the_chain_earns_nobody_anything(ctx):
    world = build_chain_world()
    _link_a, link_b = a_to_b_to_c(world)
    visit(link_b, world.a)  # A, who started the chain, arrives through B's link

    order = buy(world.sale, world.a)

    assert services.referral_for(order=order) is None


def test_a_recorded_chain_cannot_be_changed(ctx):
    world = build_chain_world()
    a_to_b_to_c(world)
    entry = services.referral_for(order=buy(world.sale, world.c)).entries[0]

    entry.user_id = world.d.id
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()


def test_the_chain_survives_renamed_and_deleted_accounts(ctx):
    world = build_chain_world()
    a_to_b_to_c(world)
    order = buy(world.sale, world.c)
    world.b.display_name = "민호 (새 이름)"
    db.session.commit()

    db.session.delete(world.a)
    db.session.commit()
    db.session.expire_all()

    referral = services.referral_for(order=order)
    assert chain_users(referral) == [world.b.id, None]
    assert [e.link_token for e in referral.entries][1]  # the link it came through is still named

    assert [recommender(e) for e in referral.entries] == ["민호 (새 이름)", "a former member"]


def test_a_link_made_before_the_attribution_expired_keeps_its_parent(ctx):
    world = build_chain_world()
    link_a = share(world.a, world.sale)
    visit(link_a, world.b)

    late = services.share(world.b, kind="sale", target_id=world.sale.id, now=NOW + 31 * DAY)

    assert late.parent_id is None  # B's attribution had lapsed: nobody led them any more


def test_recording_a_chain_reads_only_its_links(ctx):
    """O(depth): recording reads the attribution and one row per link, whatever else exists."""
    world = build_chain_world()
    a_to_b_to_c(world)
    for n in range(30):  # unrelated links and visits elsewhere
        stranger = make_user(f"s{n}@example.com")
        visit(share(stranger, world.producer, kind="producer"), world.d)
    statements = []
    buyer_id, producer_id = world.c.id, world.producer.id
    db.session.expire_all()

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        with db.session.no_autoflush:
            services.chain_of(services.attributed_link(buyer_id, producer_id, NOW))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 3, statements  # the attribution, its link (B's), and B's parent (A's)


# -- rewards -------------------------------------------------------------------------------------


def test_split_reward_gives_the_closest_the_largest_part_and_sums_exactly():
    assert services.split_reward(2_000, 2, 50) == [1_334, 666]
    assert services.split_reward(700, 3, 50) == [400, 200, 100]
    assert services.split_reward(1_000, 1, 50) == [1_000]
    assert services.split_reward(999, 4, 100) == [252, 249, 249, 249]
    for total in (1, 7, 1_001, 123_457):
        for n in range(1, 11):
            assert sum(services.split_reward(total, n, 50)) == total
            parts = services.split_reward(total, n, 50)
            assert parts == sorted(parts, reverse=True)


def test_rewards_are_paid_as_credit_once_the_order_is_paid_and_handed_over(ctx):
    world = build_chain_world(reward_bps=1_000)
    a_to_b_to_c(world)
    order = buy(world.sale, world.c, 1)  # 20,000원 at pickup
    assert services.balance_of(world.b) == 0  # not yet: not paid, not handed over

    check_in(sale=world.sale, code=order.pickup_code, by=world.producer.user, now=NOW + 3 * timedelta(hours=1))

    assert (services.balance_of(world.b), services.balance_of(world.a)) == (1_334, 666)
    assert credit_entries(world.c) == []
    rows = db.session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "reward")).all()
    assert [(r.producer_id, r.amount) for r in rows] == [(world.producer.id, -2_000)]
    report = payout_report(world.producer, start=NOW - DAY, end=NOW + DAY)
    assert (report.gross, report.fees, report.rewards, report.net) == (20_000, 600, 2_000, 17_400)


def test_settling_rewards_again_pays_nothing_more(ctx):
    world = build_chain_world()
    a_to_b_to_c(world)
    order = buy(world.sale, world.c)
    check_in(sale=world.sale, code=order.pickup_code, by=world.producer.user, now=world.sale.pickup_starts_at)

    for _ in range(3):
        assert services.settle_rewards_of(order=order, now=NOW) == 0
        db.session.commit()

    assert credit_entries(world.b) == [("reward", 1_334)]


def test_a_refund_takes_the_rewards_back_in_proportion(ctx):
    world = build_chain_world()
    a_to_b_to_c(world)
    order = buy(world.sale, world.c)
    check_in(sale=world.sale, code=order.pickup_code, by=world.producer.user, now=world.sale.pickup_starts_at)

    payments.refund(payment_of(order), amount=10_000, reason="반품", by=world.producer.user, now=NOW)
    assert (services.balance_of(world.b), services.balance_of(world.a)) == (667, 333)
    payments.refund(payment_of(order), amount=10_000, reason="반품", by=world.producer.user, now=NOW)

    assert (services.balance_of(world.b), services.balance_of(world.a)) == (0, 0)
    assert credit_entries(world.a) == [("reward", 666), ("reward_reversal", -333), ("reward_reversal", -333)]
    report = payout_report(world.producer, start=NOW - DAY, end=NOW + DAY)
    assert report.rewards == 0 and report.net == 0


def test_a_reversal_never_takes_credit_below_zero(ctx):
    world = build_chain_world()
    a_to_b_to_c(world)
    order = buy(world.sale, world.c)
    check_in(sale=world.sale, code=order.pickup_code, by=world.producer.user, now=world.sale.pickup_starts_at)
    services._move_credit(world.b.id, -1_000, kind="spend", key="spent-elsewhere", now=NOW, strict=True)
    db.session.commit()

    payments.refund(payment_of(order), amount=20_000, reason="반품", by=world.producer.user, now=NOW)

    assert services.balance_of(world.b) == 0
    reversal = services.credit_history(world.b)[0]
    assert (reversal.kind, reversal.amount, reversal.intended, reversal.balance_after) == (
        "reward_reversal", -334, -1_334, 0,
    )  # fmt: skip


def test_cancelled_orders_earn_nothing(ctx):
    world = build_chain_world()
    a_to_b_to_c(world)
    order = buy(world.sale, world.c)

    cancel_order(order, by=world.c, now=NOW)

    assert services.settle_rewards_of(order=order, now=NOW) == 0
    assert services.balance_of(world.b) == 0


def test_a_sale_without_a_reward_records_the_chain_but_pays_nothing(ctx):
    world = build_chain_world(reward_bps=0)
    a_to_b_to_c(world)
    order = buy(world.sale, world.c)
    check_in(sale=world.sale, code=order.pickup_code, by=world.producer.user, now=world.sale.pickup_starts_at)

    assert services.referral_for(order=order).length == 2
    assert services.balance_of(world.b) == 0


@pytest.mark.parametrize("bps", [-1, 2_001, 10_000])
def test_rewards_are_bounded(ctx, bps):
    with pytest.raises(DomainError, match="between 0 and 20"):
        services.checked_reward_bps(bps)


# -- store credit --------------------------------------------------------------------------------


def earned(world, amount: int = 5_000):
    services.grant_credit(world.c, amount=amount, key=f"test-grant-{world.c.id}", now=NOW)


def test_credit_pays_first_at_checkout_and_the_rest_is_paid_as_chosen(ctx):
    world = build_chain_world()
    earned(world, 5_000)

    order = place_order(
        sale=world.sale, buyer=world.c, quantities={world.sale.items[0].id: 1}, checkout_key="k1", use_credit=True,
        now=NOW,
    )  # fmt: skip

    paid = db.session.scalars(select(Payment).where(Payment.order_id == order.id).order_by(Payment.id)).all()
    assert sorted((p.provider, p.amount, p.status) for p in paid) == [
        ("credit", 5_000, "succeeded"), ("pickup", 15_000, "pending"),
    ]  # fmt: skip
    assert payment_of(order).provider == "pickup"
    assert services.balance_of(world.c) == 0
    assert credit_entries(world.c) == [("grant", 5_000), ("spend", -5_000)]
    assert order.status == "confirmed"


def test_credit_can_pay_for_a_whole_order(ctx):
    world = build_chain_world()
    earned(world, 50_000)

    order = place_order(
        sale=world.sale, buyer=world.c, quantities={world.sale.items[0].id: 2}, checkout_key="k1", use_credit=True,
        payment_method="stripe", now=NOW,
    )  # fmt: skip

    assert order.status == "confirmed"  # nothing left to pay by card
    assert services.balance_of(world.c) == 10_000


def test_credit_comes_back_when_the_order_is_cancelled(ctx):
    world = build_chain_world()
    earned(world, 5_000)
    order = place_order(
        sale=world.sale, buyer=world.c, quantities={world.sale.items[0].id: 1}, checkout_key="k1", use_credit=True,
        now=NOW,
    )  # fmt: skip

    cancel_order(order, by=world.c, now=NOW)

    assert services.balance_of(world.c) == 5_000
    assert credit_entries(world.c) == [("grant", 5_000), ("spend", -5_000), ("spend_refund", 5_000)]


def test_credit_is_never_spent_twice(ctx):
    world = build_chain_world()
    earned(world, 5_000)
    order = place_order(
        sale=world.sale, buyer=world.c, quantities={world.sale.items[0].id: 1}, checkout_key="k1", use_credit=True,
        now=NOW,
    )  # fmt: skip
    credit_payment = db.session.scalar(
        select(Payment).where(Payment.order_id == order.id, Payment.provider == "credit")
    )

    services.spend_credit(credit_payment, now=NOW)  # replayed: the same event changes nothing
    with pytest.raises(DomainError, match="do not have that much"):
        services._move_credit(world.c.id, -1, kind="spend", key="another-spend", now=NOW, strict=True)
    db.session.rollback()

    assert services.balance_of(world.c) == 0
    assert credit_entries(world.c) == [("grant", 5_000), ("spend", -5_000)]


def test_the_database_refuses_a_negative_balance(ctx):

    world = build_chain_world()
    earned(world, 100)

    with pytest.raises(IntegrityError):
        db.session.execute(update(CreditAccount).where(CreditAccount.user_id == world.c.id).values(balance=-1))
        db.session.flush()
    db.session.rollback()


def test_credit_earned_from_one_producer_is_spent_with_another(ctx):

    world = build_chain_world()
    a_to_b_to_c(world)
    order = buy(world.sale, world.c)
    check_in(sale=world.sale, code=order.pickup_code, by=world.producer.user, now=world.sale.pickup_starts_at)
    other = make_producer(make_user("tea@example.com"), farm_name="차밭")
    tea_sale = make_sale(other, [(make_product(other, "녹차"), 3_000, 10, 2)], point=make_point(other))

    tea = place_order(
        sale=tea_sale, buyer=world.b, quantities={tea_sale.items[0].id: 1}, checkout_key="tea", use_credit=True,
        now=NOW,
    )  # fmt: skip

    assert services.balance_of(world.b) == 0
    gross = db.session.scalar(
        select(func.sum(LedgerEntry.amount)).where(LedgerEntry.producer_id == other.id, LedgerEntry.kind == "payment")
    )
    assert gross == 1_334  # the tea farm is paid for the part covered by credit
    assert payment_of(tea).amount == 3_000 - 1_334


# -- pledges -------------------------------------------------------------------------------------


def test_a_pledge_records_its_chain_once_and_changing_it_keeps_it(ctx):

    world = build_chain_world()
    group_buy = make_group_buy(world.producer, now=NOW)
    link_a = share(world.a, group_buy, kind="groupbuy")
    visit(link_a, world.c)

    first = pledge(group_buy=group_buy, buyer=world.c, units=2, now=NOW)
    visit(share(world.d, group_buy, kind="groupbuy"), world.c)
    pledge(group_buy=group_buy, buyer=world.c, units=3, now=NOW)

    referrals = db.session.scalars(select(Referral).where(Referral.pledge_id == first.id)).all()
    assert [chain_users(r) for r in referrals] == [[world.a.id]]
    assert referrals[0].group_buy_id == group_buy.id


# -- endorsements --------------------------------------------------------------------------------


def test_endorsing_twice_updates_the_note(ctx):
    world = build_chain_world()

    services.endorse(world.a, kind="producer", target_id=world.producer.id, note="최고의 김치", now=NOW)
    services.endorse(world.a, kind="producer", target_id=world.producer.id, note="여전히 최고", now=NOW)

    found = services.recommendations("producer", world.producer.id, viewer=world.a, producer_id=world.producer.id,
                                     now=NOW)  # fmt: skip
    assert (found.count, found.mine.note) == (1, "여전히 최고")


def test_a_producer_cannot_recommend_their_own_farm(ctx):
    world = build_chain_world()

    with pytest.raises(DomainError, match="your own farm"):
        services.endorse(world.producer.user, kind="product", target_id=world.kimchi.id, note="", now=NOW)


def test_endorsement_notes_are_short(ctx):
    world = build_chain_world()

    with pytest.raises(DomainError, match="under 280"):
        services.endorse(world.a, kind="product", target_id=world.kimchi.id, note="가" * 281, now=NOW)


def test_the_viewer_sees_who_shared_it_with_them_and_farms_they_follow(ctx):

    world = build_chain_world()
    neighbour_farm = make_producer(make_user("farmer2@example.com", display_name="이웃 농부"), farm_name="이웃 농장")
    for user, note in ((world.a, "A의 추천"), (world.d, "D의 추천"), (neighbour_farm.user, "이웃의 추천")):
        services.endorse(user, kind="producer", target_id=world.producer.id, note=note, now=NOW)
    visit(share(world.a, world.producer, kind="producer"), world.c)
    follow(user=world.c, producer=neighbour_farm, now=NOW)

    found = services.recommendations("producer", world.producer.id, viewer=world.c, producer_id=world.producer.id,
                                     now=NOW)  # fmt: skip

    assert found.count == 3
    assert sorted((e.user_id, why) for e, why in found.known) == sorted(
        [(world.a.id, "shared"), (neighbour_farm.user_id, "followed")]
    )


def test_a_recommender_who_hides_their_name_is_not_named(ctx):
    world = build_chain_world()
    services.endorse(world.a, kind="producer", target_id=world.producer.id, note="", now=NOW)
    visit(share(world.a, world.producer, kind="producer", show_name=False), world.c)

    found = services.recommendations("producer", world.producer.id, viewer=world.c, producer_id=world.producer.id,
                                     now=NOW)  # fmt: skip

    assert found.known == []


def test_attributions_are_one_row_per_member_and_producer(ctx):
    world = build_chain_world()
    for link in (share(world.a, world.sale), share(world.b, world.producer, kind="producer")):
        visit(link, world.c)

    assert db.session.scalar(select(func.count()).select_from(Attribution)) == 1
    assert db.session.scalar(select(func.count()).select_from(ChainEntry)) == 0
