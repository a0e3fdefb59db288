"""The demo village has its evangelist, a producer onboarded by invitation, an open invitation, a
farm visit, and an application waiting for the operator."""

from __future__ import annotations

from sqlalchemy import func, select

from farmstore.evangelists.models import Adoption, Helper, Invitation
from farmstore.extensions import db


def test_the_demo_has_an_evangelist_an_onboarded_producer_and_a_waiting_application(app, runner, client, auth):
    assert runner.invoke(args=["farm", "seed-demo"]).exit_code == 0
    with app.app_context():
        adoptions = {(a.village.name, a.user.email, a.status) for a in db.session.scalars(select(Adoption))}
        helper = db.session.scalar(select(Helper))
        onboarded = (helper.producer.farm_name, helper.user.email, helper.invitation_id is not None)
        open_invitations = db.session.scalar(
            select(func.count()).select_from(Invitation).where(Invitation.used_at.is_(None))
        )
    assert adoptions == {
        ("햇살마을", "sora@farmstore.example", "active"),
        ("강릉 중앙시장", "minho@farmstore.example", "applied"),
    }
    assert onboarded == ("들꽃차 할머니", "sora@farmstore.example", True)
    assert open_invitations == 1
    assert runner.invoke(args=["farm", "seed-demo"]).exit_code == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Adoption)) == 2

    auth.login("operator@farmstore.example", "harvest-moon-over-pyeongchang")
    assert "강릉 중앙시장" in client.get("/operator/evangelists").get_data(as_text=True)
    auth.logout()
    auth.login("sora@farmstore.example", "harvest-moon-over-pyeongchang")
    page = client.get("/evangelist").get_data(as_text=True)
    assert "햇살마을 전도사" in page and "들꽃차 할머니" in page  # demo accounts read Korean
