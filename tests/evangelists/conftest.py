"""Helpers for the evangelist tests: a village with an active evangelist made through the real
services, invitations, and a second village. Assertions are on the English source text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from farmstore.evangelists.services import apply_to_adopt, approve_adoption, create_invitation
from tests.english import client, ctx  # noqa: F401 (fixtures, found by pytest by name)
from tests.factories import make_producer, make_user, make_village

NOW = datetime(2025, 9, 15, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def adopt(user, village, operator, *, now: datetime = NOW):
    """`user` applies for `village` and `operator` approves: the active adoption."""
    adoption = apply_to_adopt(user=user, village_id=village.id, motivation="I grew up here.", now=now)
    return approve_adoption(adoption, operator=operator, now=now)


def build_world() -> SimpleNamespace:
    """들꽃마을 with its evangelist 소라 (sora@) and producer 느릅골 농장 (farmer@); 바닷마을 with
    evangelist 민호 (minho@) and its producer; an operator; and a buyer with no role."""
    operator = make_user("operator@example.com", display_name="운영자", is_operator=True)
    village = make_village("들꽃마을")
    other_village = make_village("바닷마을")
    sora = make_user("sora@example.com", display_name="소라")
    minho = make_user("minho@example.com", display_name="민호")
    world = SimpleNamespace(
        operator=operator, village=village, other_village=other_village, sora=sora, minho=minho,
        producer=make_producer(make_user("farmer@example.com", display_name="김농부"), village, farm_name="느릅골"),
        other_producer=make_producer(make_user("fisher@example.com"), other_village, farm_name="바다 농장"),
        buyer=make_user("buyer@example.com", display_name="이하나"),
    )  # fmt: skip
    world.adoption = adopt(sora, village, operator)
    world.other_adoption = adopt(minho, other_village, operator)
    return world


@pytest.fixture
def world(ctx) -> SimpleNamespace:  # noqa: F811 (the English ctx imported above)
    return build_world()


def invite(world, *, now: datetime = NOW, note: str = "박씨 할머니"):
    """An invitation from 소라 for 들꽃마을."""
    return create_invitation(by=world.sora, note=note, now=now)
