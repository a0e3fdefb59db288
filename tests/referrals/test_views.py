"""Share links, endorsements and credit through the pages."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from farmstore.extensions import db
from farmstore.referrals import services
from farmstore.referrals.models import Attribution, Endorsement, LinkVisit, ShareLink
from farmstore.sales.models import Order
from farmstore.timeutil import utcnow
from tests.factories import PASSWORD
from tests.groupbuys.conftest import make_group_buy
from tests.referrals.conftest import build_chain_world
from tests.sales.conftest import buy, make_sale


def live_world():
    """The chain world with its sale open around the real clock (the views ask it for the time)."""
    world = build_chain_world()
    world.sale = make_sale(world.producer, [(world.kimchi, 20_000, 50, 5)], now=utcnow(), title="지금 김치")
    world.sale.reward_bps = 1_000
    db.session.commit()
    return world


def order_one(client, world, *, use_credit: bool = False):
    """The signed-in member orders one of the sale's first item, paying at pickup."""
    data = {f"qty-{world.sale.items[0].id}": "1", "payment_method": "pickup", "checkout_key": "x1"}
    return client.post(f"/sales/{world.sale.id}/order", data=data | ({"use_credit": "y"} if use_credit else {}))


def my_link_token(response_text: str) -> str:
    return re.search(r'/r/([a-z0-9]{10})"', response_text).group(1)


def test_sharing_makes_the_link_and_shows_it(client, auth, ctx):
    world = live_world()
    auth.login(world.a.email)

    response = client.post("/share", data={"kind": "sale", "target_id": world.sale.id}, follow_redirects=True)

    link = db.session.scalar(select(ShareLink).where(ShareLink.user_id == world.a.id))
    assert response.status_code == 200
    assert f"http://localhost/r/{link.token}" in response.text or f"/r/{link.token}" in response.text
    assert "<svg" in response.text  # the QR code
    again = client.post("/share", data={"kind": "sale", "target_id": world.sale.id})
    assert again.headers["Location"].endswith(f"/share/{link.token}")
    assert f"/r/{link.token}" in client.get(f"/sales/{world.sale.id}").text  # the page shows it from now on


def test_only_the_owner_sees_their_link_page(client, auth, ctx):
    world = live_world()
    link = services.share(world.a, kind="sale", target_id=world.sale.id, now=utcnow())
    auth.login(world.b.email)

    assert client.get(f"/share/{link.token}").status_code == 404
    assert client.get("/share/zzzzzzzzzz").status_code == 404


def test_sharing_needs_an_account_and_a_real_target(client, auth, ctx):
    world = live_world()

    assert client.post("/share", data={"kind": "sale", "target_id": world.sale.id}).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(ShareLink)) == 0  # sent to sign in
    auth.login(world.a.email)
    assert client.post("/share", data={"kind": "sale", "target_id": "abc"}).status_code == 400
    response = client.post("/share", data={"kind": "order", "target_id": 1}, follow_redirects=True)
    assert "nothing to share" in response.text


def test_following_a_link_leads_to_the_page_and_remembers_the_recommender(client, auth, ctx):
    world = live_world()
    link = services.share(world.a, kind="sale", target_id=world.sale.id, now=utcnow())
    auth.login(world.b.email)

    response = client.get(f"/r/{link.token}")

    assert response.status_code == 302 and response.headers["Location"].endswith(f"/sales/{world.sale.id}")
    assert services.attributed_link(world.b.id, world.producer.id, utcnow()).id == link.id
    assert db.session.scalar(select(func.count()).select_from(LinkVisit)) == 1


def test_unknown_and_tampered_tokens_still_lead_somewhere_useful(client, ctx):
    live_world()

    for token in ("zzzzzzzzzz", "abc", "%3Cscript%3E", "a" * 200):
        response = client.get(f"/r/{token}")
        assert response.status_code == 302 and response.headers["Location"] in ("/", "http://localhost/")
    assert db.session.scalar(select(func.count()).select_from(LinkVisit)) == 0


def test_a_guest_who_registers_keeps_the_link_they_came_through(client, ctx):
    world = live_world()
    link = services.share(world.a, kind="sale", target_id=world.sale.id, now=utcnow())

    client.get(f"/r/{link.token}")
    client.post(
        "/register",
        data={"email": "new@example.com", "display_name": "새 이웃", "password": PASSWORD},
    )

    attribution = db.session.scalar(select(Attribution))
    assert attribution is not None and attribution.link_id == link.id
    assert db.session.scalar(select(LinkVisit.visitor)).startswith("g")


def test_a_guest_who_signs_in_keeps_the_link_they_came_through(client, auth, ctx):
    world = live_world()
    link = services.share(world.a, kind="sale", target_id=world.sale.id, now=utcnow())

    client.get(f"/r/{link.token}")
    auth.login(world.c.email)

    assert services.attributed_link(world.c.id, world.producer.id, utcnow()).id == link.id


def test_buying_after_following_a_chain_records_it(client, auth, ctx):
    world = live_world()
    link_a = services.share(world.a, kind="sale", target_id=world.sale.id, now=utcnow())
    services.open_link(link_a, user=world.b, guest=None, now=utcnow())
    link_b = services.share(world.b, kind="sale", target_id=world.sale.id, now=utcnow())
    client.get(f"/r/{link_b.token}")
    auth.login(world.c.email)

    order_one(client, world)

    order = db.session.scalar(select(Order).where(Order.buyer_id == world.c.id))
    assert [e.user_id for e in services.referral_for(order=order).entries] == [world.b.id, world.a.id]


def test_the_order_form_offers_credit_only_to_those_who_have_some(client, auth, ctx):
    world = live_world()
    auth.login(world.c.email)
    assert "Use my store credit" not in client.get(f"/sales/{world.sale.id}").text

    services.grant_credit(world.c, amount=3_000, key="gift", now=utcnow())

    assert "Use my store credit (₩3,000)" in client.get(f"/sales/{world.sale.id}").text
    order_one(client, world, use_credit=True)
    assert services.balance_of(world.c) == 0


def test_endorsing_from_the_producer_page(client, auth, ctx):
    world = live_world()
    auth.login(world.a.email)

    client.post("/endorse", data={"kind": "producer", "target_id": world.producer.id, "note": "김치가 최고"})
    page = client.get(f"/producers/{world.producer.slug}").text

    assert db.session.scalar(select(Endorsement.note)) == "김치가 최고"
    assert "Recommended by 1 member" in page and "You recommend this" in page
    client.post("/endorse/withdraw", data={"kind": "producer", "target_id": world.producer.id})
    assert db.session.scalar(select(func.count()).select_from(Endorsement)) == 0


def test_the_page_names_the_friend_who_shared_it(client, auth, ctx):
    world = live_world()
    services.endorse(world.a, kind="product", target_id=world.kimchi.id, note="", now=utcnow())
    link = services.share(world.a, kind="product", target_id=world.kimchi.id, now=utcnow())
    auth.login(world.c.email)
    client.get(f"/r/{link.token}")

    page = client.get(f"/producers/{world.producer.slug}/products/{world.kimchi.slug}").text

    assert "Recommended by 지연, who shared this with you" in page


def test_a_long_note_is_refused_with_a_message(client, auth, ctx):
    world = live_world()
    auth.login(world.a.email)

    response = client.post(
        "/endorse", data={"kind": "producer", "target_id": world.producer.id, "note": "가" * 300}, follow_redirects=True
    )

    assert "under 280 characters" in response.text
    assert db.session.scalar(select(func.count()).select_from(Endorsement)) == 0


def test_a_pledger_gets_their_share_link_front_and_centre(client, auth, ctx):

    world = live_world()
    group_buy = make_group_buy(world.producer, now=utcnow(), minimum=80)
    auth.login(world.c.email)

    page = client.post(f"/group-buys/{group_buy.id}/pledge", data={"units": 2}, follow_redirects=True).text

    link = services.link_of(world.c, "groupbuy", group_buy.id)
    assert link is not None and f"/r/{link.token}" in page
    assert "78 more units are needed by the deadline" in page


def test_link_pages_never_show_what_other_buyers_bought(client, auth, ctx):
    world = live_world()
    link = services.share(world.a, kind="sale", target_id=world.sale.id, now=utcnow())
    services.open_link(link, user=world.c, guest=None, now=utcnow())

    buy(world.sale, world.c, 3, now=utcnow())
    auth.login(world.a.email)

    page = client.get(f"/share/{link.token}").text

    assert "소라" not in page and "c@example.com" not in page
    assert re.search(r"Purchases it led to</dt><dd>1<", page)


def test_attribution_lapses_after_its_days(client, auth, ctx):
    world = live_world()
    link = services.share(world.a, kind="sale", target_id=world.sale.id, now=utcnow())
    services.open_link(link, user=world.c, guest=None, now=utcnow() - timedelta(days=31))

    assert services.attributed_link(world.c.id, world.producer.id, utcnow()) is None


def test_the_share_button_keeps_the_name_setting_and_the_link_page_changes_it(client, auth, ctx):
    world = live_world()
    auth.login(world.a.email)

    client.post("/share", data={"kind": "sale", "target_id": world.sale.id})
    link = services.link_of(world.a, "sale", world.sale.id)
    assert link.show_name is True  # the button alone does not hide the name
    client.post("/share", data={"kind": "sale", "target_id": world.sale.id, "settings": "1"})  # box unticked
    db.session.refresh(link)
    assert link.show_name is False
    client.post("/share", data={"kind": "sale", "target_id": world.sale.id, "settings": "1", "show_name": "y"})
    db.session.refresh(link)
    assert link.show_name is True


def test_the_order_page_shows_the_chain_by_consent_and_the_credit_used(client, auth, ctx):
    world = live_world()
    link_a = services.share(world.a, kind="sale", target_id=world.sale.id, now=utcnow(), show_name=False)
    services.open_link(link_a, user=world.b, guest=None, now=utcnow())
    services.open_link(
        services.share(world.b, kind="sale", target_id=world.sale.id, now=utcnow()), user=world.c, guest=None,
        now=utcnow(),
    )  # fmt: skip
    services.grant_credit(world.c, amount=2_500, key="gift", now=utcnow())
    auth.login(world.c.email)
    order_one(client, world, use_credit=True)
    order = db.session.scalar(select(Order).where(Order.buyer_id == world.c.id))

    page = client.get(f"/orders/{order.id}").text

    assert "Recommended to you by: 민호 ← a neighbour" in page  # 지연 chose not to be named
    assert "Paid from store credit" in page and "− ₩2,500" in page
