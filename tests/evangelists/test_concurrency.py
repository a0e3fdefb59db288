"""One village, one evangelist, under load: many operators approving, many tabs applying, many
clicks accepting a handover, all at once (a barrier releases the threads together). Meant for
PostgreSQL (TEST_DATABASE_URL), where the transactions really overlap; SQLite serialises writers
and the same rules must hold."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from farmstore.accounts.models import User
from farmstore.evangelists import services
from farmstore.evangelists.models import Adoption
from farmstore.extensions import db
from farmstore.producers.models import Producer
from tests.evangelists.conftest import NOW, adopt
from tests.factories import make_user, make_village
from tests.groupbuys.test_concurrency import patient_sqlite, race  # noqa: F401 (a fixture and a helper)

THREADS = 20

pytestmark = pytest.mark.app_config(
    SQLALCHEMY_ENGINE_OPTIONS={"pool_size": THREADS + 5, "max_overflow": 0, "pool_timeout": 120}
)


def active_adoptions(**where) -> int:
    db.session.expire_all()
    query = select(func.count()).select_from(Adoption).where(Adoption.status == "active")
    for column, value in where.items():
        query = query.where(getattr(Adoption, column) == value)
    return db.session.scalar(query)


def test_twenty_operators_approving_twenty_applicants_for_one_village_make_one_evangelist(app, world):
    village = make_village("산골마을")
    applications = [
        services.apply_to_adopt(user=make_user(f"fan{n}@example.com"), village_id=village.id, motivation="Me!",
                                now=NOW).id
        for n in range(THREADS)
    ]  # fmt: skip

    operator_id = world.operator.id

    def approving(adoption_id: int):
        def job():
            adoption = db.session.get(Adoption, adoption_id)
            return services.approve_adoption(adoption, operator=db.session.get(User, operator_id), now=NOW).id

        return job

    outcomes = race(app, [approving(a) for a in applications])
    kinds = Counter(kind for kind, _ in outcomes)
    assert kinds == {"ok": 1, "refused": THREADS - 1}, outcomes
    assert {message for kind, message in outcomes if kind == "refused"} == {"산골마을 already has an evangelist."}
    assert active_adoptions(village_id=village.id) == 1
    assert db.session.scalar(select(func.count()).select_from(Adoption).where(Adoption.status == "applied")) == 19


def test_twenty_villages_handed_to_one_successor_at_once_give_them_one(app, world):
    """Twenty evangelists offer their villages to the same person, who accepts every offer at once:
    the database's one-village-per-evangelist index lets exactly one through."""
    offers = []
    for n in range(THREADS):
        adoption = adopt(make_user(f"evangelist{n}@example.com"), make_village(f"마을{n}"), world.operator)
        offers.append(services.offer_handover(adoption, by=adoption.user, successor_email="buyer@example.com",
                                              now=NOW).id)  # fmt: skip

    buyer_id = world.buyer.id

    def accepting(adoption_id: int):
        def job():
            adoption = db.session.get(Adoption, adoption_id)
            return services.accept_handover(adoption, by=db.session.get(User, buyer_id), now=NOW).id

        return job

    outcomes = race(app, [accepting(a) for a in offers])
    kinds = Counter(kind for kind, _ in outcomes)
    assert kinds == {"ok": 1, "refused": THREADS - 1}, outcomes
    assert {message for kind, message in outcomes if kind == "refused"} == {"이하나 already looks after a village."}
    assert active_adoptions(user_id=world.buyer.id) == 1
    assert active_adoptions() == THREADS + 2  # the other nineteen kept their evangelist


def test_one_user_applying_from_twenty_tabs_has_one_application(app, world):
    villages = [make_village(f"마을{n}").id for n in range(THREADS)]

    buyer_id = world.buyer.id

    def applying(village_id: int):
        def job():
            user = db.session.get(User, buyer_id)
            return services.apply_to_adopt(user=user, village_id=village_id, motivation="Pick me", now=NOW).id

        return job

    outcomes = race(app, [applying(v) for v in villages])
    kinds = Counter(kind for kind, _ in outcomes)
    assert kinds == {"ok": 1, "refused": THREADS - 1}, outcomes
    assert all("already have an application waiting" in message for kind, message in outcomes if kind == "refused")
    db.session.expire_all()
    waiting = select(func.count()).select_from(Adoption).where(Adoption.user_id == world.buyer.id)
    assert db.session.scalar(waiting) == 1


def test_a_successor_accepting_from_twenty_tabs_takes_over_once(app, world):
    services.offer_handover(world.adoption, by=world.sora, successor_email="buyer@example.com", now=NOW)
    adoption_id, buyer_id = world.adoption.id, world.buyer.id

    def accepting():
        adoption = db.session.get(Adoption, adoption_id)
        return services.accept_handover(adoption, by=db.session.get(User, buyer_id), now=NOW).id

    outcomes = race(app, [accepting] * THREADS)
    kinds = Counter(kind for kind, _ in outcomes)
    assert kinds["crashed"] == 0, outcomes
    assert kinds["ok"] == 1
    assert active_adoptions(village_id=world.village.id) == 1
    assert services.village_evangelist(world.village.id).id == world.buyer.id
    village_rows = select(func.count()).select_from(Adoption).where(Adoption.village_id == world.village.id)
    assert db.session.scalar(village_rows) == 2  # sora's, handed over, and the successor's


def test_twenty_people_using_one_invitation_at_once_make_one_producer(app, world):
    code = services.create_invitation(by=world.sora, note="", now=NOW).code
    users = [make_user(f"farmer{n}@example.com").id for n in range(THREADS)]

    def joining(user_id: int):
        def job():
            user = db.session.get(User, user_id)
            return services.accept_invitation(code=code, user=user, farm_name=f"농장 {user_id}", about="", contact="",
                                              now=NOW).id  # fmt: skip

        return job

    outcomes = race(app, [joining(u) for u in users])
    kinds = Counter(kind for kind, _ in outcomes)
    assert kinds == {"ok": 1, "refused": THREADS - 1}, outcomes
    assert all("already been used" in message for kind, message in outcomes if kind == "refused")
    db.session.expire_all()
    onboarded = select(func.count()).select_from(Producer).where(Producer.village_id == world.village.id)
    assert db.session.scalar(onboarded) == 2  # 느릅골 and the one who won
