"""Producer rules: any account becomes a producer once; only the owner edits the profile."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from farmstore.errors import DomainError, NotAllowed, NotFound
from farmstore.extensions import db
from farmstore.media.models import Photo
from farmstore.producers.models import Producer
from farmstore.producers.services import create_producer, get_producer, recent_producers, update_producer
from farmstore.timeutil import utcnow
from tests.factories import image_bytes, make_producer, make_user, make_village

pytestmark = pytest.mark.usefixtures("ctx")


def producer_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Producer))


def create(user, **fields) -> Producer:
    """create_producer with a valid profile for every field not given."""
    values = {"farm_name": "느릅골 한우농장", "about": "", "contact": "", "now": utcnow()}
    if "village_id" not in fields:
        values["village_id"] = make_village().id
    return create_producer(user=user, **(values | fields))


def edit(producer, by, **fields) -> Producer:
    """update_producer keeping every field not given."""
    values = {
        "farm_name": producer.farm_name,
        "village_id": producer.village_id,
        "about": producer.about,
        "contact": "",
    }
    return update_producer(producer, by=by, **(values | fields))


def test_an_account_becomes_a_producer():
    user = make_user()
    village = make_village("들꽃마을")
    now = utcnow()

    producer = create(
        user,
        farm_name=" 들꽃차 할머니 ",
        village_id=village.id,
        about=" 구절초를 말립니다. ",
        contact=" 033-1234 ",
        now=now,
    )

    producer = db.session.get(Producer, producer.id)
    assert (producer.farm_name, producer.slug, producer.village.name) == ("들꽃차 할머니", "들꽃차-할머니", "들꽃마을")
    assert (producer.about, producer.contact) == ("구절초를 말립니다.", "033-1234")
    assert producer.created_at == now
    assert user.is_producer


def test_a_producer_photo_is_stored_with_the_profile():
    user = make_user()

    producer = create(user, photo=image_bytes())

    photo = db.session.get(Producer, producer.id).photo
    assert (photo.alt, photo.uploaded_by_id) == ("느릅골 한우농장", user.id)


def test_an_account_has_at_most_one_producer_profile():
    user = make_user()
    create(user, farm_name="첫 농장")

    with pytest.raises(DomainError) as refused:
        create(user, farm_name="두 번째 농장")

    assert str(refused.value.message) == "You already have a producer profile."
    db.session.rollback()
    assert [p.farm_name for p in db.session.scalars(select(Producer))] == ["첫 농장"]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"farm_name": "  "}, "farm_name", "Give your farm a name."),
        ({"farm_name": "가" * 81}, "farm_name", "Use at most 80 characters."),
        ({"contact": "0" * 201}, "contact", "Use at most 200 characters."),
        ({"village_id": 9999}, "village_id", "Choose your village from the list."),
        ({"village_id": None}, "village_id", "Choose your village from the list."),
        ({"photo": b"not a photo"}, "photo", "This file is not a photo we can read (JPEG, PNG, WebP or GIF)."),
    ],
    ids=["blank-name", "long-name", "long-contact", "unknown-village", "no-village", "bad-photo"],
)
def test_an_invalid_profile_is_refused_on_the_right_field(fields, field, message):
    user = make_user()

    with pytest.raises(DomainError) as refused:
        create(user, **fields)

    assert refused.value.field == field
    assert str(refused.value.message) == message
    db.session.rollback()
    assert producer_count() == 0
    assert db.session.scalar(select(func.count()).select_from(Photo)) == 0
    assert db.session.get(type(user), user.id).producer is None


def test_farms_with_the_same_name_get_different_urls():
    slugs = [create(make_user(), farm_name="사과밭").slug for _ in range(2)]

    assert slugs == ["사과밭", "사과밭-2"]


def test_the_owner_edits_their_profile_and_its_url_stays():
    producer = make_producer(farm_name="느릅골 한우농장")
    new_village = make_village("달빛마을")

    edit(producer, producer.user, farm_name="느릅골 목장", village_id=new_village.id, about="**풀** 먹인 소")

    producer = db.session.get(Producer, producer.id)
    assert (producer.farm_name, producer.village.name, producer.about) == ("느릅골 목장", "달빛마을", "**풀** 먹인 소")
    assert producer.slug == "느릅골-한우농장"


def test_an_edit_without_a_new_photo_keeps_the_old_one():
    user = make_user()
    producer = create(user, photo=image_bytes())
    photo_id = producer.photo_id

    edit(producer, user, photo=None, about="새 소개")

    assert db.session.get(Producer, producer.id).photo_id == photo_id


@pytest.mark.parametrize("who", ["stranger", "operator", "nobody"])
def test_nobody_but_the_owner_edits_a_profile(who):
    producer = make_producer(farm_name="느릅골 한우농장")
    by = {"stranger": make_user(), "operator": make_user(is_operator=True), "nobody": None}[who]

    with pytest.raises(NotAllowed):
        edit(producer, by, farm_name="Hijacked")

    db.session.rollback()
    assert db.session.get(Producer, producer.id).farm_name == "느릅골 한우농장"


def test_an_edit_with_an_over_long_farm_name_changes_nothing():
    producer = make_producer(farm_name="느릅골 한우농장")

    with pytest.raises(DomainError) as refused:
        edit(producer, producer.user, farm_name="가" * 81)

    assert refused.value.field == "farm_name"
    db.session.rollback()
    assert db.session.get(Producer, producer.id).farm_name == "느릅골 한우농장"


def test_an_unknown_producer_is_not_found():
    with pytest.raises(NotFound):
        get_producer("nobody")


def test_recent_producers_come_newest_first():
    for name in ("첫째 농장", "둘째 농장", "셋째 농장"):
        make_producer(farm_name=name)

    assert [p.farm_name for p in recent_producers(limit=2)] == ["셋째 농장", "둘째 농장"]
