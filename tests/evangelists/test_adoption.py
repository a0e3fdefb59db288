"""Adoption: apply, approve or decline (emails both ways), one village one evangelist, handover
with history, stepping down; and who `helps` whom afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from farmstore.errors import DomainError, NotAllowed
from farmstore.evangelists import services
from farmstore.evangelists.models import Adoption
from farmstore.extensions import db
from farmstore.notifications.models import OutboxMessage
from tests.evangelists.conftest import DAY, NOW, adopt
from tests.factories import make_user, make_village


def outbox_to(address: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == address)))


def test_an_application_waits_for_an_operator_who_is_emailed(world):
    village = make_village("산골마을")
    adoption = services.apply_to_adopt(user=world.buyer, village_id=village.id, motivation=" I visit monthly ",
                                       now=NOW)  # fmt: skip
    assert (adoption.status, adoption.motivation) == ("applied", "I visit monthly")
    assert services.village_evangelist(village.id) is None
    [mail] = [m for m in outbox_to("operator@example.com") if "산골마을" in m.subject]
    assert "I visit monthly" in mail.body_text
    assert "/operator/evangelists" in mail.body_text


def test_approval_makes_the_user_the_villages_evangelist_and_tells_them(world):
    village = make_village("산골마을")
    adoption = adopt(world.buyer, village, world.operator, now=NOW + DAY)
    assert (adoption.status, adoption.started_at, adoption.decided_by_id) == ("active", NOW + DAY, world.operator.id)
    assert services.village_evangelist(village.id) == world.buyer
    [mail] = outbox_to("buyer@example.com")
    assert mail.subject == "이제 산골마을의 전도사입니다"  # in the applicant's language (Korean by default)


def test_a_decline_is_emailed_with_the_reason(world):
    village = make_village("산골마을")
    adoption = services.apply_to_adopt(user=world.buyer, village_id=village.id, motivation="Let me", now=NOW)
    services.decline_adoption(adoption, operator=world.operator, reason="We never met you.", now=NOW)
    assert adoption.status == "declined"
    [mail] = outbox_to("buyer@example.com")
    assert "We never met you." in mail.body_text
    assert services.village_evangelist(village.id) is None


@pytest.mark.parametrize(
    ("motivation", "message"),
    [("   ", "Tell the operators in a few words"), ("x" * 1001, "Use at most 1000 characters.")],
)
def test_a_motivation_is_required_and_short(world, motivation, message):
    with pytest.raises(DomainError, match=message) as raised:
        services.apply_to_adopt(user=world.buyer, village_id=world.village.id, motivation=motivation, now=NOW)
    assert raised.value.field == "motivation"


def test_a_taken_village_refuses_a_second_evangelist(world):
    with pytest.raises(DomainError, match=r"들꽃마을 already has an evangelist\."):
        services.apply_to_adopt(user=world.buyer, village_id=world.village.id, motivation="Me too", now=NOW)


def test_an_evangelist_adopts_exactly_one_village(world):
    with pytest.raises(DomainError, match="You already look after a village"):
        services.apply_to_adopt(user=world.sora, village_id=make_village().id, motivation="Another", now=NOW)


def test_one_waiting_application_at_a_time(world):
    services.apply_to_adopt(user=world.buyer, village_id=make_village().id, motivation="One", now=NOW)
    with pytest.raises(DomainError, match="already have an application waiting"):
        services.apply_to_adopt(user=world.buyer, village_id=make_village().id, motivation="Two", now=NOW)


def test_two_applications_for_a_free_village_only_one_can_be_approved(world):
    village = make_village("산골마을")
    first = services.apply_to_adopt(user=world.buyer, village_id=village.id, motivation="A", now=NOW)
    second = services.apply_to_adopt(user=make_user(), village_id=village.id, motivation="B", now=NOW)
    services.approve_adoption(first, operator=world.operator, now=NOW)
    with pytest.raises(DomainError, match=r"산골마을 already has an evangelist\."):
        services.approve_adoption(second, operator=world.operator, now=NOW)
    db.session.expire_all()
    assert db.session.get(Adoption, second.id).status == "applied"  # still decidable: the operator declines it


def test_the_database_refuses_a_second_active_evangelist_even_without_the_service(world):
    db.session.add(Adoption(village_id=world.village.id, user_id=world.buyer.id, status="active", started_at=NOW))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    db.session.add(Adoption(village_id=make_village().id, user_id=world.sora.id, status="active", started_at=NOW))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_only_operators_decide(world):
    adoption = services.apply_to_adopt(user=world.buyer, village_id=make_village().id, motivation="A", now=NOW)
    with pytest.raises(NotAllowed):
        services.approve_adoption(adoption, operator=world.sora, now=NOW)
    with pytest.raises(NotAllowed):
        services.decline_adoption(adoption, operator=world.buyer, reason="", now=NOW)


def test_a_decided_application_cannot_be_decided_again(world):
    with pytest.raises(DomainError, match="already decided"):
        services.decline_adoption(world.adoption, operator=world.operator, reason="", now=NOW)


def test_a_handover_waits_for_the_successor_then_keeps_the_history(world):
    services.offer_handover(world.adoption, by=world.sora, successor_email="BUYER@example.com", now=NOW)
    assert services.village_evangelist(world.village.id) == world.sora  # nothing changes until accepted
    [mail] = outbox_to("buyer@example.com")
    assert f"/evangelist/handover/{world.adoption.id}" in mail.body_text

    new = services.accept_handover(world.adoption, by=world.buyer, now=NOW + DAY)
    assert services.village_evangelist(world.village.id) == world.buyer
    assert (new.status, new.started_at, new.decided_by_id) == ("active", NOW + DAY, world.sora.id)
    history = services.village_history(world.village.id)
    assert [(a.user.display_name, a.status) for a in history] == [("이하나", "active"), ("소라", "handed_over")]
    assert history[1].ended_at == NOW + DAY
    assert services.helps(world.buyer, world.producer)
    assert not services.helps(world.sora, world.producer)


def test_only_the_named_successor_can_accept(world):
    services.offer_handover(world.adoption, by=world.sora, successor_email="buyer@example.com", now=NOW)
    with pytest.raises(NotAllowed):
        services.accept_handover(world.adoption, by=world.minho, now=NOW)
    with pytest.raises(NotAllowed):
        services.offer_handover(world.adoption, by=world.buyer, successor_email="minho@example.com", now=NOW)


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("nobody@example.com", "No account has this email."),
        ("sora@example.com", "Choose someone else"),
        ("minho@example.com", "민호 already looks after a village."),
    ],
)
def test_a_successor_must_be_free_and_exist(world, email, message):
    with pytest.raises(DomainError, match=message):
        services.offer_handover(world.adoption, by=world.sora, successor_email=email, now=NOW)


def test_a_declined_offer_cannot_be_accepted(world):
    services.offer_handover(world.adoption, by=world.sora, successor_email="buyer@example.com", now=NOW)
    services.cancel_handover(world.adoption, by=world.buyer)
    with pytest.raises(NotAllowed):
        services.accept_handover(world.adoption, by=world.buyer, now=NOW)


def test_stepping_down_frees_the_village_and_ends_the_help(world):
    services.end_adoption(world.adoption, by=world.sora, now=NOW + DAY)
    assert services.village_evangelist(world.village.id) is None
    assert not services.helps(world.sora, world.producer)
    assert [a.status for a in services.village_history(world.village.id)] == ["ended"]
    services.apply_to_adopt(user=world.buyer, village_id=world.village.id, motivation="My turn", now=NOW + DAY)


def test_only_the_evangelist_or_an_operator_ends_an_adoption(world):
    with pytest.raises(NotAllowed):
        services.end_adoption(world.adoption, by=world.minho, now=NOW)
    services.end_adoption(world.adoption, by=world.operator, now=NOW)
    assert world.adoption.status == "ended"


def test_helps_only_the_producers_of_ones_own_village(world):
    assert services.helps(world.sora, world.producer)
    assert not services.helps(world.sora, world.other_producer)
    assert not services.helps(world.buyer, world.producer)
    assert services.village_evangelist(world.other_village.id) == world.minho
