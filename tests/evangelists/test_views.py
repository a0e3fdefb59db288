"""Evangelist and operator pages through the test client: who may see and do what (403/404 for
everyone else), and clear messages for refused input."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import select

from farmstore.evangelists import services
from farmstore.evangelists.models import Adoption, Invitation, Verification
from farmstore.extensions import db
from farmstore.producers.models import Producer
from farmstore.timeutil import utcnow
from tests.evangelists.conftest import build_world
from tests.factories import make_user, make_village


@pytest.fixture
def site(app):
    """The world of build_world, committed; tests use ids and emails, not live objects."""
    with app.app_context():
        world = build_world()
        return {
            "village": world.village.slug, "producer": world.producer.slug, "adoption": world.adoption.id,
            "other_adoption": world.other_adoption.id,
        }  # fmt: skip


def test_the_village_page_shows_its_evangelist_and_history(app, client, site):
    with app.app_context():
        services.offer_handover(
            db.session.get(Adoption, site["adoption"]),
            by=services.village_evangelist(services.get_adoption(site["adoption"]).village_id),
            successor_email="buyer@example.com",
            now=utcnow(),
        )
        services.accept_handover(db.session.get(Adoption, site["adoption"]),
                                 by=services.find_user_by_email("buyer@example.com"), now=utcnow())  # fmt: skip
    page = client.get(f"/villages/{site['village']}").get_data(as_text=True)
    assert "이하나 looks after 들꽃마을 since" in page
    assert "Earlier evangelists" in page and "소라" in page


def test_a_free_village_invites_adoption_and_an_application_is_sent(app, client, auth):
    with app.app_context():
        make_user("fan@example.com")
        make_user("operator@example.com", is_operator=True)
        slug = make_village("산골마을").slug
    assert "Adopt this village" in client.get(f"/villages/{slug}").get_data(as_text=True)
    assert client.get(f"/villages/{slug}/adopt").status_code == 302  # sign in first
    auth.login("fan@example.com")
    response = client.post(f"/villages/{slug}/adopt", data={"motivation": ""})
    assert "This field is required." in response.get_data(as_text=True)
    response = client.post(f"/villages/{slug}/adopt", data={"motivation": "I was born here."}, follow_redirects=True)
    assert "The operators will read your application" in response.get_data(as_text=True)
    assert "Waiting for the operators" in response.get_data(as_text=True)


def test_a_taken_village_says_so_and_refuses_a_second_application(client, auth, site):
    auth.login("buyer@example.com")
    assert "들꽃마을 already has an evangelist: 소라." in client.get(f"/villages/{site['village']}/adopt").get_data(
        as_text=True
    )
    page = client.post(f"/villages/{site['village']}/adopt", data={"motivation": "Me"}).get_data(as_text=True)
    assert "들꽃마을 already has an evangelist." in page


@pytest.mark.parametrize("email", ["buyer@example.com", "sora@example.com", None])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/operator/evangelists"),
        ("post", "/operator/adoptions/{adoption}/approve"),
        ("post", "/operator/adoptions/{adoption}/decline"),
        ("post", "/operator/adoptions/{adoption}/end"),
        ("get", "/operator/producers/{producer}/verify"),
        ("get", "/operator/hide/story/1"),
        ("post", "/operator/unhide/story/1"),
        ("get", "/operator/hidden"),
    ],
)
def test_operator_pages_are_for_operators_only(client, auth, site, email, method, path):
    if email:
        auth.login(email)
    response = getattr(client, method)(path.format(**site))
    assert response.status_code == (403 if email else 302)


def test_an_operator_approves_and_declines_from_the_applications_page(app, client, auth, site):
    with app.app_context():
        first = services.apply_to_adopt(
            user=make_user("a@example.com", display_name="가"),
            village_id=make_village("산골마을").id,
            motivation="A",
            now=utcnow(),
        ).id
        second = services.apply_to_adopt(
            user=make_user("b@example.com", display_name="나"),
            village_id=make_village("강마을").id,
            motivation="B",
            now=utcnow(),
        ).id
    auth.login("operator@example.com")
    page = client.get("/operator/evangelists").get_data(as_text=True)
    assert "산골마을" in page and "강마을" in page
    page = client.post(f"/operator/adoptions/{first}/approve", follow_redirects=True).get_data(as_text=True)
    assert "가 is now the evangelist of 산골마을." in page
    page = client.post(f"/operator/adoptions/{second}/decline", data={"reason": "Too far"}, follow_redirects=True)
    assert "The application is declined" in page.get_data(as_text=True)
    page = client.post(f"/operator/adoptions/{second}/approve", follow_redirects=True).get_data(as_text=True)
    assert "This application was already decided." in page
    assert client.post("/operator/adoptions/999999/approve").status_code == 404


def test_the_evangelist_invites_and_withdraws_from_the_dashboard(app, client, auth, site):
    auth.login("sora@example.com")
    page = client.post("/evangelist/invitations", data={"note": "박씨 할머니"}, follow_redirects=True)
    with app.app_context():
        invitation = db.session.scalar(select(Invitation))
        code, invitation_id = invitation.code, invitation.id
    text = page.get_data(as_text=True)
    assert f"Invitation {code} is ready" in text
    assert f"http://farmstore.test/join/{code}" in text
    client.post(f"/evangelist/invitations/{invitation_id}/revoke")
    assert "withdrawn by the evangelist" in client.get(f"/join/{code}").get_data(as_text=True)


def test_someone_elses_invitation_cannot_be_withdrawn(app, client, auth, site):
    with app.app_context():
        invitation_id = services.create_invitation(by=services.find_user_by_email("sora@example.com"), note="",
                                                   now=utcnow()).id  # fmt: skip
    auth.login("minho@example.com")
    assert client.post(f"/evangelist/invitations/{invitation_id}/revoke").status_code == 403
    assert client.post("/evangelist/invitations/999999/revoke").status_code == 404


def test_a_buyer_without_a_village_cannot_invite(client, auth, site):
    auth.login("buyer@example.com")
    page = client.post("/evangelist/invitations", data={"note": ""}, follow_redirects=True).get_data(as_text=True)
    assert "Only a village's active evangelist can do this." in html.unescape(page)


def test_a_newcomer_registers_through_an_invitation_and_becomes_a_producer(app, client, site):
    with app.app_context():
        code = services.create_invitation(by=services.find_user_by_email("sora@example.com"), note="",
                                          now=utcnow()).code  # fmt: skip
    page = client.get(f"/join/{code}").get_data(as_text=True)
    assert "소라, the evangelist of 들꽃마을, invites you" in page
    assert f"/register?next=/join/{code}" in page
    response = client.post(
        f"/register?next=/join/{code}",
        data={"email": "park@example.com", "display_name": "박순자", "password": "green-tea-on-the-south-hill"},
    )
    assert response.headers["Location"] == f"/join/{code}"
    response = client.post(f"/join/{code}", data={"farm_name": "박씨네 차밭", "about": "", "contact": ""})
    assert response.status_code == 302
    with app.app_context():
        producer = db.session.scalar(select(Producer).where(Producer.farm_name == "박씨네 차밭"))
        assert producer.village.name == "들꽃마을"
        assert services.helper_of(producer).user.display_name == "소라"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Onboarded by 소라, the village's evangelist" in page
    refused = client.get(f"/join/{code}")
    assert refused.status_code == 410
    assert "already been used" in refused.get_data(as_text=True)


def test_an_expired_or_unknown_invitation_is_refused_with_a_clear_message(app, client, site):
    with app.app_context():
        code = services.create_invitation(by=services.find_user_by_email("sora@example.com"), note="",
                                          now=utcnow() - timedelta(days=15)).code  # fmt: skip
    assert "has expired. Ask your evangelist for a new one." in client.get(f"/join/{code}").get_data(as_text=True)
    assert "is not valid" in client.get("/join/NOPE").get_data(as_text=True)
    response = client.post("/join", data={"code": code.lower()})
    assert response.headers["Location"] == f"/join/{code}"


def test_a_handover_offer_is_only_for_the_named_successor(app, client, auth, site):
    auth.login("sora@example.com")
    page = client.post("/evangelist/handover", data={"email": "nobody@example.com"}, follow_redirects=True)
    assert "No account has this email." in page.get_data(as_text=True)
    client.post("/evangelist/handover", data={"email": "buyer@example.com"})
    auth.logout()
    auth.login("minho@example.com")
    assert client.get(f"/evangelist/handover/{site['adoption']}").status_code == 403
    assert client.post(f"/evangelist/handover/{site['adoption']}").status_code == 403
    auth.logout()
    auth.login("buyer@example.com")
    assert "Take over 들꽃마을" in client.get(f"/evangelist/handover/{site['adoption']}").get_data(as_text=True)
    page = client.post(f"/evangelist/handover/{site['adoption']}", follow_redirects=True).get_data(as_text=True)
    assert "You are now the evangelist of 들꽃마을." in page
    assert "Evangelist of 들꽃마을" in page


def test_an_operator_records_a_farm_visit_shown_on_the_producer_page(app, client, auth, site):
    auth.login("operator@example.com")
    future = (utcnow() + timedelta(days=3)).date().isoformat()
    page = client.post(f"/operator/producers/{site['producer']}/verify", data={"visited_on": future})
    assert "The visit cannot be in the future." in page.get_data(as_text=True)
    response = client.post(f"/operator/producers/{site['producer']}/verify", data={"visited_on": "2025-09-01"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Verification)).visited_on.isoformat() == "2025-09-01"
    auth.logout()
    assert "Verified by 소라 on Sep 1, 2025" in client.get(f"/producers/{site['producer']}").get_data(as_text=True)


def test_stepping_down_from_the_dashboard(client, auth, site):
    auth.login("sora@example.com")
    page = client.post("/evangelist/step-down", follow_redirects=True).get_data(as_text=True)
    assert "You no longer look after 들꽃마을." in page
    assert client.post("/evangelist/step-down").status_code == 403
    assert client.post("/evangelist/handover", data={"email": "buyer@example.com"}).status_code == 403


def test_a_name_quoted_in_a_refusal_is_escaped(app, client, auth, site):
    with app.app_context():
        operator = services.find_user_by_email("operator@example.com")
        services.approve_adoption(
            services.apply_to_adopt(user=make_user("evil@example.com", display_name="<b>evil</b>"),
                                    village_id=make_village("강마을").id, motivation="m", now=utcnow()),
            operator=operator, now=utcnow(),
        )  # fmt: skip
    auth.login("sora@example.com")
    page = client.post("/evangelist/handover", data={"email": "evil@example.com"}, follow_redirects=True)
    assert "&lt;b&gt;evil&lt;/b&gt; already looks after a village." in page.get_data(as_text=True)
    assert "<b>evil</b>" not in page.get_data(as_text=True)
