"""Helpers for the questions tests: a farm in a village with an active evangelist, a buyer, an
evangelist of another village, and questions asked through the real service at a fixed time.
Assertions are on the English source text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from farmstore.accounts.models import User
from farmstore.evangelists.models import Adoption
from farmstore.extensions import db
from farmstore.inquiries.services import ask_question
from farmstore.notifications.models import OutboxMessage
from farmstore.producers.models import Producer
from tests.english import client, ctx  # noqa: F401 (fixtures, found by pytest by name)
from tests.factories import make_producer, make_user, make_village

NOW = datetime(2025, 9, 1, 3, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def adopt(user, village, *, status: str = "active", now: datetime = NOW) -> Adoption:
    """`user` becomes the village's evangelist (or with another status: an application, a past one)."""
    adoption = Adoption(user=user, village=village, status=status, motivation="", created_at=now, started_at=now)
    db.session.add(adoption)
    db.session.commit()
    return adoption


def ask(world, *, body: str = "언제 수확하나요?", asker=None, now: datetime = NOW, **fields):
    """A question from the buyer (or `asker`) to the farm at `now`."""
    fields.setdefault("topic", "availability")
    return ask_question(producer=world.producer, asker=asker or world.buyer, body=body, now=now, **fields)


def emails_to(address: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == address)))


def build_world() -> SimpleNamespace:
    """Emails are read in English (owner@, evangelist@ and buyer@ chose it).
    느릅골 농장 (owner@) in 들꽃마을 with evangelist@ (정다운); buyer@ (이하나); stranger@ (another
    buyer); far@ the evangelist of 먼마을, whose farm is far-farm."""
    village = make_village("들꽃마을")
    producer = make_producer(
        make_user("owner@example.com", display_name="농부 김씨", locale="en"), village, farm_name="느릅골 농장"
    )
    evangelist = make_user("evangelist@example.com", display_name="정다운", locale="en")
    adopt(evangelist, village)
    far_village = make_village("먼마을")
    far = make_user("far@example.com", display_name="멀리")
    adopt(far, far_village)
    return SimpleNamespace(
        village=village,
        producer=producer,
        owner=producer.user,
        evangelist=evangelist,
        buyer=make_user("buyer@example.com", display_name="이하나", locale="en"),
        stranger=make_user("stranger@example.com", display_name="낯선이"),
        far=far,
        far_producer=make_producer(make_user("farowner@example.com"), far_village, farm_name="먼 농장"),
        operator=make_user("operator@example.com", is_operator=True),
    )


def reload_world() -> SimpleNamespace:
    """The people and farms of `build_world`, loaded again in the current application context."""
    users = {user.email.split("@")[0]: user for user in db.session.scalars(select(User))}
    farms = {producer.farm_name: producer for producer in db.session.scalars(select(Producer))}
    producer = farms["느릅골 농장"]
    return SimpleNamespace(
        village=producer.village, producer=producer, owner=users["owner"], evangelist=users["evangelist"],
        buyer=users["buyer"], stranger=users["stranger"], far=users["far"], far_producer=farms["먼 농장"],
        operator=users["operator"],
    )  # fmt: skip


@pytest.fixture
def world(ctx) -> SimpleNamespace:  # noqa: F811 (the English `ctx` fixture, by name)
    return build_world()
