"""The refusals issue 8 lists, in one place: an evangelist acting for a producer of another village
or after their adoption ended (answering, drafting, publishing directly, inviting, verifying), a
second evangelist for a taken village, an expired or reused invitation."""

from __future__ import annotations

import pytest

from farmstore.errors import DomainError, NotAllowed
from farmstore.evangelists import drafts, services
from farmstore.evangelists.models import PublishGrant
from farmstore.extensions import db
from farmstore.inquiries.services import answer_question, ask_question
from tests.catalog.conftest import make_subject
from tests.evangelists.conftest import DAY, NOW, adopt, invite
from tests.factories import make_user

STORY = {"happened_on": "2025-09-14", "title": "첫 송아지", "body": "새벽에 태어났어요."}


def story(world, producer):
    return STORY | {"subject_id": make_subject(producer, "누렁이").id}


def test_an_evangelist_cannot_act_for_a_producer_of_another_village(world):
    assert not services.helps(world.minho, world.producer)
    with pytest.raises(NotAllowed):
        drafts.submit_draft(producer=world.producer, by=world.minho, kind="story", data=story(world, world.producer),
                            now=NOW)  # fmt: skip
    question = ask_question(producer=world.producer, asker=world.buyer, body="?", topic="quality", now=NOW)
    with pytest.raises(NotAllowed):
        answer_question(question, by=world.minho, body="제가 답할게요", now=NOW)


def test_a_grant_to_another_villages_evangelist_gives_nothing(world):
    db.session.add(PublishGrant(producer_id=world.producer.id, evangelist_id=world.minho.id, granted_at=NOW))
    db.session.commit()
    assert not services.can_publish_directly(world.minho, world.producer)


def test_after_stepping_down_an_evangelist_can_do_nothing_for_the_village(world):
    drafts.grant_publish_directly(world.producer, by=world.producer.user, now=NOW)
    assert services.can_publish_directly(world.sora, world.producer)
    question = ask_question(producer=world.producer, asker=world.buyer, body="?", topic="quality", now=NOW)
    services.end_adoption(world.adoption, by=world.sora, now=NOW + DAY)

    assert not services.helps(world.sora, world.producer)
    assert not services.can_publish_directly(world.sora, world.producer)
    with pytest.raises(NotAllowed):
        drafts.submit_draft(producer=world.producer, by=world.sora, kind="story", data=story(world, world.producer),
                            now=NOW + DAY)  # fmt: skip
    with pytest.raises(NotAllowed):
        answer_question(question, by=world.sora, body="답", now=NOW + DAY)
    with pytest.raises(NotAllowed):
        services.create_invitation(by=world.sora, note="", now=NOW + DAY)


def test_after_a_handover_the_old_evangelist_is_refused_and_the_new_one_helps(world):
    services.offer_handover(world.adoption, by=world.sora, successor_email="buyer@example.com", now=NOW)
    services.accept_handover(world.adoption, by=world.buyer, now=NOW)
    with pytest.raises(NotAllowed):
        drafts.submit_draft(producer=world.producer, by=world.sora, kind="story", data=story(world, world.producer),
                            now=NOW)  # fmt: skip
    draft = drafts.submit_draft(producer=world.producer, by=world.buyer, kind="story",
                                data=story(world, world.producer) | {"title": "새 담당"}, now=NOW)  # fmt: skip
    assert draft.status == "pending"


def test_a_revoked_grant_sends_drafts_back_to_the_producer(world):
    drafts.grant_publish_directly(world.producer, by=world.producer.user, now=NOW)
    drafts.revoke_publish_directly(world.producer, by=world.producer.user, now=NOW)
    assert not services.can_publish_directly(world.sora, world.producer)


def test_a_second_evangelist_for_a_taken_village_is_refused(world):
    with pytest.raises(DomainError, match="already has an evangelist"):
        services.apply_to_adopt(user=world.buyer, village_id=world.village.id, motivation="Me", now=NOW)
    with pytest.raises(DomainError, match="already has an evangelist"):
        adopt(make_user(), world.village, world.operator)  # refused at application already


def test_expired_and_reused_invitations_are_refused(world):
    expired = invite(world, now=NOW - 15 * DAY)
    with pytest.raises(DomainError, match="has expired"):
        services.accept_invitation(code=expired.code, user=make_user(), farm_name="A", about="", contact="", now=NOW)
    used = invite(world)
    services.accept_invitation(code=used.code, user=make_user(), farm_name="B", about="", contact="", now=NOW)
    with pytest.raises(DomainError, match="already been used"):
        services.accept_invitation(code=used.code, user=make_user(), farm_name="C", about="", contact="", now=NOW)


def test_only_an_operator_records_a_farm_visit(world):
    with pytest.raises(NotAllowed):
        services.verify_producer(operator=world.sora, producer=world.producer, visited_on=NOW.date(), now=NOW)
    services.verify_producer(operator=world.operator, producer=world.producer, visited_on=NOW.date(), now=NOW)
    assert services.latest_verification(world.producer).evangelist_id == world.sora.id
