"""Onboarding: an evangelist's invitation is short, unguessable, single-use, expiring and
revocable; whoever uses it becomes a producer of the village with the evangelist as helper."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from farmstore.errors import DomainError, NotAllowed, NotFound
from farmstore.evangelists import services
from farmstore.evangelists.models import AuditEntry
from farmstore.extensions import db
from tests.evangelists.conftest import DAY, NOW, invite
from tests.factories import make_user


def use(invitation, user, *, now=NOW, farm_name="박씨네 차밭"):
    return services.accept_invitation(code=invitation.code, user=user, farm_name=farm_name, about="녹차",
                                      contact="010", now=now)  # fmt: skip


def test_an_invitation_is_a_short_random_code_for_the_evangelists_village(app, world):
    invitation = invite(world)
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{10}", invitation.code)
    assert invitation.code != invite(world).code
    assert invitation.village_id == world.village.id
    assert invitation.expires_at == NOW + app.config["INVITATION_VALID_DAYS"] * DAY == NOW + 14 * DAY


@pytest.mark.app_config(INVITATION_VALID_DAYS=3)
def test_the_validity_is_a_setting(world):
    assert invite(world).expires_at == NOW + 3 * DAY


def test_only_an_active_evangelist_invites(world):
    with pytest.raises(NotAllowed):
        services.create_invitation(by=world.buyer, note="", now=NOW)
    services.end_adoption(world.adoption, by=world.sora, now=NOW)
    with pytest.raises(NotAllowed):
        services.create_invitation(by=world.sora, note="", now=NOW)


def test_using_an_invitation_makes_a_producer_of_the_village_helped_by_the_evangelist(world):
    invitation = invite(world)
    newcomer = make_user("park@example.com", display_name="박순자")
    producer = use(invitation, newcomer, now=NOW + DAY)
    assert (producer.village_id, producer.farm_name, producer.user_id) == (world.village.id, "박씨네 차밭", newcomer.id)
    assert (invitation.used_at, invitation.used_by_id) == (NOW + DAY, newcomer.id)
    helper = services.helper_of(producer)
    assert (helper.user_id, helper.invitation_id) == (world.sora.id, invitation.id)
    assert services.helps(world.sora, producer)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.producer_id == producer.id))
    assert (entry.actor_id, entry.action, entry.target) == (world.sora.id, "onboarded", f"invitation {invitation.code}")


def test_a_typed_code_is_forgiving_about_case_and_dashes(world):
    invitation = invite(world)
    typed = f"{invitation.code[:5].lower()}-{invitation.code[5:]}"
    assert services.open_invitation(typed, now=NOW) == invitation


def test_a_reused_invitation_is_refused(world):
    invitation = invite(world)
    use(invitation, make_user())
    with pytest.raises(DomainError, match="already been used"):
        use(invitation, make_user())


def test_an_expired_invitation_is_refused(world):
    invitation = invite(world)
    with pytest.raises(DomainError, match="has expired"):
        use(invitation, make_user(), now=NOW + 14 * DAY)
    assert services.open_invitation(invitation.code, now=NOW + 14 * DAY - DAY).id == invitation.id


def test_a_withdrawn_invitation_is_refused(world):
    invitation = invite(world)
    services.revoke_invitation(invitation, by=world.sora, now=NOW)
    with pytest.raises(DomainError, match="withdrawn by the evangelist"):
        use(invitation, make_user())


def test_an_unknown_code_is_refused(world):
    with pytest.raises(NotFound, match="not valid"):
        services.open_invitation("ZZZZZZZZZZ", now=NOW)


def test_an_invitation_dies_with_its_evangelists_adoption(world):
    invitation = invite(world)
    services.end_adoption(world.adoption, by=world.sora, now=NOW)
    with pytest.raises(DomainError, match="no longer looks after the village"):
        use(invitation, make_user())


def test_a_producer_cannot_use_an_invitation(world):
    invitation = invite(world)
    with pytest.raises(DomainError, match="already have a producer profile"):
        use(invitation, world.producer.user)
    db.session.expire_all()
    assert services.open_invitation(invitation.code, now=NOW).used_at is None  # still usable by someone else


def test_only_its_evangelist_withdraws_an_invitation(world):
    invitation = invite(world)
    with pytest.raises(NotAllowed):
        services.revoke_invitation(invitation, by=world.minho, now=NOW)
    use(invitation, make_user())
    with pytest.raises(DomainError, match="already been used"):
        services.revoke_invitation(invitation, by=world.sora, now=NOW)
