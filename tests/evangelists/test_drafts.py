"""Writing together: the village's evangelist drafts for a producer, the producer approves (or
grants "publish directly" and can take it back); published rows say "written with"; every step
is in the audit trail; everyone else is refused. Services directly, then pages through the client."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from farmstore.accounts.models import User
from farmstore.catalog.models import Product
from farmstore.errors import DomainError, NotAllowed
from farmstore.evangelists import drafts
from farmstore.evangelists.drafts import Draft
from farmstore.evangelists.models import AuditEntry
from farmstore.evangelists.services import end_adoption
from farmstore.extensions import db
from farmstore.groupbuys.models import GroupBuy
from farmstore.producers.models import Producer
from farmstore.sales.models import Sale
from farmstore.stories.models import StoryPost
from farmstore.timeutil import utcnow
from tests.catalog.conftest import make_product
from tests.evangelists.conftest import DAY, NOW, build_world
from tests.sales.conftest import make_point
from tests.stories.conftest import make_subject

STORY = {"happened_on": "2025-09-14", "title": "첫 송아지", "body": "새벽에 태어났어요."}


def story_data(world) -> dict:
    subject = db.session.scalar(select(StoryPost.subject_id)) or make_subject(world.producer, "누렁이").id
    return STORY | {"subject_id": subject}


def draft_story(world, *, by=None, now=NOW) -> Draft:
    return drafts.submit_draft(
        producer=world.producer, by=by or world.sora, kind="story", data=story_data(world), now=now
    )


def audit(world) -> list[tuple[str, str]]:
    """(actor email, action) for the producer, in order."""
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.producer_id == world.producer.id).order_by(AuditEntry.id)
    )
    return [(entry.actor.email, entry.action) for entry in entries if entry.action != "approved adoption"]


def test_a_draft_waits_for_the_producer_and_nothing_is_published(world):
    draft = draft_story(world)

    assert (draft.status, draft.kind, draft.title, draft.author_id) == ("pending", "story", "첫 송아지", world.sora.id)
    assert db.session.scalar(select(StoryPost.id)) is None
    assert drafts.approval_queue(world.producer, by=world.producer.user) == [draft]
    assert drafts.drafts_by(world.sora) == [draft]
    assert ("sora@example.com", "drafted") in audit(world)


def test_approving_publishes_in_the_producers_name_written_with_the_evangelist(world):
    draft = draft_story(world)
    post = drafts.approve_draft(draft, by=world.producer.user, now=NOW + DAY)

    assert (post.title, post.body, post.author_id, post.written_with_id) == (
        "첫 송아지", "새벽에 태어났어요.", world.producer.user.id, world.sora.id
    )  # fmt: skip
    assert (draft.status, draft.target_id, draft.decided_by_id) == ("published", post.id, world.producer.user.id)
    assert audit(world)[-2:] == [("sora@example.com", "drafted"), ("farmer@example.com", "approved")]


def test_a_draft_is_approved_once(world):
    draft = draft_story(world)
    drafts.approve_draft(draft, by=world.producer.user, now=NOW)
    with pytest.raises(DomainError, match="already been decided"):
        drafts.approve_draft(draft, by=world.producer.user, now=NOW)
    assert len(db.session.scalars(select(StoryPost)).all()) == 1


def test_rejecting_publishes_nothing_and_keeps_the_reason(world):
    draft = draft_story(world)
    drafts.reject_draft(draft, by=world.producer.user, reason="  사진이 먼저예요  ", now=NOW)

    assert (draft.status, draft.reject_reason) == ("rejected", "사진이 먼저예요")
    assert db.session.scalar(select(StoryPost.id)) is None
    assert audit(world)[-1] == ("farmer@example.com", "rejected")
    with pytest.raises(DomainError):
        drafts.approve_draft(draft, by=world.producer.user, now=NOW)


def test_a_draft_the_areas_rules_refuse_stays_pending_with_the_reason(world):
    data = story_data(world) | {"happened_on": "2030-01-01"}
    draft = drafts.submit_draft(producer=world.producer, by=world.sora, kind="story", data=data, now=NOW)

    with pytest.raises(DomainError, match="in the future"):
        drafts.approve_draft(draft, by=world.producer.user, now=NOW)
    db.session.refresh(draft)
    assert draft.status == "pending"
    assert ("farmer@example.com", "approved") not in audit(world)


@pytest.mark.parametrize("who", ["sora", "minho", "buyer", "operator"])
def test_only_the_producer_approves_or_rejects(world, who):
    draft = draft_story(world)
    with pytest.raises(NotAllowed):
        drafts.approve_draft(draft, by=getattr(world, who), now=NOW)
    with pytest.raises(NotAllowed):
        drafts.reject_draft(draft, by=getattr(world, who), reason="", now=NOW)
    assert draft.status == "pending"


@pytest.mark.parametrize("who", ["minho", "buyer", "operator"])
def test_others_cannot_draft(world, who):
    with pytest.raises(NotAllowed):
        draft_story(world, by=getattr(world, who))
    assert db.session.scalar(select(Draft.id)) is None


def test_an_evangelist_whose_adoption_ended_cannot_draft_or_publish(world):
    drafts.grant_publish_directly(world.producer, by=world.producer.user, now=NOW)
    end_adoption(world.adoption, by=world.sora, now=NOW + DAY)
    with pytest.raises(NotAllowed):
        draft_story(world, now=NOW + 2 * DAY)
    assert db.session.scalar(select(StoryPost.id)) is None


def test_publish_directly_then_revoked_becomes_a_draft_again(world):
    grant = drafts.grant_publish_directly(world.producer, by=world.producer.user, now=NOW)
    assert grant.evangelist_id == world.sora.id

    direct = draft_story(world)
    assert (direct.status, direct.published_directly) == ("published", True)
    post = db.session.get(StoryPost, direct.target_id)
    assert (post.written_with_id, post.author_id) == (world.sora.id, world.producer.user.id)

    drafts.revoke_publish_directly(world.producer, by=world.producer.user, now=NOW + DAY)
    later = draft_story(world, now=NOW + 2 * DAY)
    assert (later.status, later.published_directly) == ("pending", False)
    assert len(db.session.scalars(select(StoryPost)).all()) == 1
    assert [action for _, action in audit(world)] == [
        "granted publish directly", "published directly", "revoked publish directly", "drafted"
    ]  # fmt: skip


def test_a_directly_published_draft_the_rules_refuse_saves_nothing(world):
    drafts.grant_publish_directly(world.producer, by=world.producer.user, now=NOW)
    data = story_data(world) | {"title": "", "body": ""}
    with pytest.raises(DomainError, match="Write something"):
        drafts.submit_draft(producer=world.producer, by=world.sora, kind="story", data=data, now=NOW)
    assert db.session.scalar(select(Draft.id)) is None
    assert "published directly" not in [action for _, action in audit(world)]


def test_only_the_producer_grants_or_revokes(world):
    for who in (world.sora, world.buyer, world.minho):
        with pytest.raises(NotAllowed):
            drafts.grant_publish_directly(world.producer, by=who, now=NOW)
        with pytest.raises(NotAllowed):
            drafts.revoke_publish_directly(world.producer, by=who, now=NOW)
    assert drafts.open_grant(world.producer) is None


def test_granting_twice_keeps_one_grant(world):
    first = drafts.grant_publish_directly(world.producer, by=world.producer.user, now=NOW)
    assert drafts.grant_publish_directly(world.producer, by=world.producer.user, now=NOW + DAY).id == first.id


def test_products_sales_and_group_buys_are_published_through_their_services(world):
    field = make_subject(world.producer, "북쪽 밭", kind="field")
    point = make_point(world.producer, now=NOW)
    product_draft = drafts.submit_draft(
        producer=world.producer, by=world.sora, kind="product", now=NOW,
        data={"name": "배추 한 상자", "unit": "10 kg", "category": "vegetables", "subject_ids": [field.id]},
    )  # fmt: skip
    product = drafts.approve_draft(product_draft, by=world.producer.user, now=NOW)
    assert isinstance(product, Product)
    assert (product.name, product.written_with_id, [s.id for s in product.subjects]) == (
        "배추 한 상자", world.sora.id, [field.id]
    )  # fmt: skip

    sale_draft = drafts.submit_draft(
        producer=world.producer, by=world.sora, kind="sale", now=NOW,
        data={
            "title": "토요일 배추", "description": "", "pickup_point_id": point.id,
            "opens_at": (NOW + DAY).isoformat(), "closes_at": (NOW + 2 * DAY).isoformat(),
            "pickup_starts_at": (NOW + 3 * DAY).isoformat(),
            "pickup_ends_at": (NOW + 3 * DAY + timedelta(hours=2)).isoformat(),
            "items": [{"product_id": product.id, "price": 20_000, "quantity": 30, "per_buyer_limit": 2}],
        },
    )  # fmt: skip
    sale = drafts.approve_draft(sale_draft, by=world.producer.user, now=NOW)
    assert isinstance(sale, Sale)
    assert (sale.written_with_id, sale.opens_at, [i.quantity for i in sale.items]) == (world.sora.id, NOW + DAY, [30])

    group_buy_draft = drafts.submit_draft(
        producer=world.producer, by=world.sora, kind="group_buy", now=NOW,
        data={
            "subject_id": field.id, "title": "북쪽 밭 통째로", "story": "", "unit_label": "배추 3포기",
            "unit_price": 18_000, "total_units": 100, "min_units": 60, "per_buyer_max": 5,
            "deadline": (NOW + 20 * DAY).isoformat(), "pickup_point_id": 0, "pickup_starts_at": None,
            "pickup_ends_at": None, "delivery_note": "택배로 보내요",
        },
    )  # fmt: skip
    group_buy = drafts.approve_draft(group_buy_draft, by=world.producer.user, now=NOW)
    assert isinstance(group_buy, GroupBuy)
    assert (group_buy.status, group_buy.written_with_id, group_buy.min_units) == ("open", world.sora.id, 60)


# ---------------------------------------------------------------- pages


@pytest.fixture
def site(app):
    """`build_world` with a subject, a product and a pickup point, as slugs and ids."""
    with app.app_context():
        world = build_world()
        make_product(world.producer, "한우 세트")
        make_point(world.producer, now=utcnow())
        return SimpleNamespace(slug=world.producer.slug, subject_id=make_subject(world.producer, "누렁이").id)


def producer_and_sora() -> tuple[Producer, User]:
    return db.session.scalar(select(Producer).join(User).where(User.email == "farmer@example.com")), db.session.scalar(
        select(User).where(User.email == "sora@example.com")
    )


def story_form(site) -> dict:
    return {
        "subject_id": site.subject_id,
        "title": "함께 쓴 이야기",
        "body": "누렁이가 풀을 먹어요.",
        "happened_on": "",
    }


@pytest.mark.parametrize("kind", ["story", "product", "sale", "group_buy"])
def test_the_evangelist_sees_every_draft_form(client, auth, site, kind):
    auth.login("sora@example.com")
    page = client.get(f"/producers/{site.slug}/drafts/new/{kind}")
    assert page.status_code == 200
    assert "Send for approval" in page.get_data(as_text=True)
    assert 'type="file"' not in page.get_data(as_text=True)


@pytest.mark.parametrize("email", ["minho@example.com", "buyer@example.com", "farmer@example.com"])
def test_others_get_403_on_the_draft_form(client, auth, site, email):
    auth.login(email)
    assert client.get(f"/producers/{site.slug}/drafts/new/story").status_code == 403
    assert client.post(f"/producers/{site.slug}/drafts/new/story", data=story_form(site)).status_code == 403


def test_unknown_kinds_and_producers_are_404(client, auth, site):
    auth.login("sora@example.com")
    assert client.get(f"/producers/{site.slug}/drafts/new/poem").status_code == 404
    assert client.get("/producers/nobody/drafts/new/story").status_code == 404


def test_draft_approve_and_the_story_says_written_with(app, client, auth, site):
    auth.login("sora@example.com")
    response = client.post(f"/producers/{site.slug}/drafts/new/story", data=story_form(site))
    assert response.status_code == 302
    page = client.get("/my/drafts").get_data(as_text=True)
    assert "for approval." in page
    assert "waiting for approval" in page
    auth.logout()

    auth.login("farmer@example.com")
    queue = client.get(f"/producers/{site.slug}/drafts").get_data(as_text=True)
    assert "함께 쓴 이야기" in queue
    assert "waiting for approval" in queue
    with app.app_context():
        draft_id = db.session.scalar(select(Draft.id))
    assert client.post(f"/drafts/{draft_id}/approve").status_code == 302

    with app.app_context():
        post = db.session.scalar(select(StoryPost))
        url = f"/producers/{site.slug}/subjects/{post.subject.slug}"
    assert "written with 소라" in client.get(url).get_data(as_text=True)


def test_a_bad_draft_shows_the_form_again(client, auth, site):
    auth.login("sora@example.com")
    response = client.post(
        f"/producers/{site.slug}/drafts/new/product", data={"name": "", "unit": "", "category": "meat"}
    )
    assert response.status_code == 200
    assert "This field is required." in response.get_data(as_text=True)


@pytest.mark.parametrize("email", ["sora@example.com", "minho@example.com", "buyer@example.com"])
def test_only_the_producer_sees_the_queue_approves_and_grants(app, client, auth, site, email):
    with app.app_context():
        producer, sora = producer_and_sora()
        data = STORY | {"subject_id": site.subject_id}
        draft_id = drafts.submit_draft(producer=producer, by=sora, kind="story", data=data, now=utcnow()).id
    auth.login(email)
    assert client.get(f"/producers/{site.slug}/drafts").status_code == 403
    assert client.post(f"/drafts/{draft_id}/approve").status_code == 403
    assert client.post(f"/drafts/{draft_id}/reject", data={"reason": "no"}).status_code == 403
    assert client.post(f"/producers/{site.slug}/publish-directly").status_code == 403
    assert client.post(f"/producers/{site.slug}/publish-directly/revoke").status_code == 403
    with app.app_context():
        assert db.session.get(Draft, draft_id).status == "pending"
        assert drafts.open_grant(producer_and_sora()[0]) is None


def test_grant_publish_directly_and_revoke_from_the_settings_page(app, client, auth, site):
    auth.login("farmer@example.com")
    assert "Let 소라 publish directly" in client.get(f"/producers/{site.slug}/drafts").get_data(as_text=True)
    client.post(f"/producers/{site.slug}/publish-directly")
    assert "소라 can publish for you without asking first" in client.get(f"/producers/{site.slug}/drafts").get_data(
        as_text=True
    )
    auth.logout()

    auth.login("sora@example.com")
    assert "Publish" in client.get(f"/producers/{site.slug}/drafts/new/story").get_data(as_text=True)
    client.post(f"/producers/{site.slug}/drafts/new/story", data=story_form(site))
    with app.app_context():
        assert db.session.scalar(select(StoryPost.written_with_id)) == producer_and_sora()[1].id
    auth.logout()

    auth.login("farmer@example.com")
    client.post(f"/producers/{site.slug}/publish-directly/revoke")
    auth.logout()
    auth.login("sora@example.com")
    client.post(f"/producers/{site.slug}/drafts/new/story", data=story_form(site))
    with app.app_context():
        assert [d.status for d in db.session.scalars(select(Draft).order_by(Draft.id))] == ["published", "pending"]


def test_the_queue_shows_the_draft_as_it_will_look(app, client, auth, site):
    auth.login("sora@example.com")
    data = story_form(site) | {"body": "누렁이가 **풀**을 먹어요."}
    client.post(f"/producers/{site.slug}/drafts/new/story", data=data)
    auth.logout()
    auth.login("farmer@example.com")
    queue = client.get(f"/producers/{site.slug}/drafts").get_data(as_text=True)
    with app.app_context():
        from farmstore.stories.models import Subject

        subject_name = db.session.get(Subject, site.subject_id).name
    assert "subject_id" not in queue  # no raw field names
    assert f"<dd>{subject_name}</dd>" in queue  # the subject by its name
    assert "<strong>풀</strong>" in queue  # the Markdown rendered
    assert "As it will look once published:" in queue
