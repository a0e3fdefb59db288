"""Village rules: operators create and edit villages; names, regions and kinds are checked;
every village gets its own URL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from farmstore.errors import DomainError, NotAllowed, NotFound
from farmstore.extensions import db
from farmstore.media.models import Photo
from farmstore.timeutil import utcnow
from farmstore.villages.models import Village
from farmstore.villages.services import create_village, get_village, list_villages, update_village
from tests.factories import image_bytes, make_producer, make_user, make_village

pytestmark = pytest.mark.usefixtures("ctx")


def village_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Village))


def create(by, **fields) -> Village:
    """create_village with a valid village for every field not given."""
    values = {"name": "햇살마을", "region": "gangwon", "kind": "village", "description": "", "now": utcnow()}
    return create_village(by=by, **(values | fields))


def test_an_operator_creates_a_village():
    operator = make_user(is_operator=True)
    now = utcnow()

    village = create(operator, name="  산골 장터  ", region="jeonnam", kind="market", description=" 닷새장 ", now=now)

    village = db.session.get(Village, village.id)
    assert (village.name, village.slug, village.region, village.kind) == ("산골 장터", "산골-장터", "jeonnam", "market")
    assert village.description == "닷새장"
    assert village.created_at == now
    assert village.cover_photo is None


def test_a_cover_photo_is_stored_with_the_village():
    operator = make_user(is_operator=True)

    village = create(operator, name="들꽃마을", cover=image_bytes())

    cover = db.session.get(Village, village.id).cover_photo
    assert cover is not None
    assert (cover.alt, cover.uploaded_by_id) == ("들꽃마을", operator.id)


def test_a_bad_cover_photo_refuses_the_whole_village():
    with pytest.raises(DomainError) as refused:
        create(make_user(is_operator=True), cover=b"not a photo")

    assert refused.value.field == "cover"
    db.session.rollback()
    assert village_count() == 0
    assert db.session.scalar(select(func.count()).select_from(Photo)) == 0


@pytest.mark.parametrize("by", [None, "buyer", "producer"])
def test_only_operators_create_villages(by):
    user = {None: None, "buyer": make_user(), "producer": make_producer().user}[by]

    with pytest.raises(NotAllowed):
        create(user, name="몰래마을")

    db.session.rollback()
    assert db.session.scalar(select(Village).where(Village.name == "몰래마을")) is None


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "   "}, "name", "Give the village a name."),
        ({"name": "가" * 81}, "name", "Use at most 80 characters."),
        ({"region": "atlantis"}, "region", "Choose a region from the list."),
        ({"region": ""}, "region", "Choose a region from the list."),
        ({"kind": "mall"}, "kind", "Choose village or market."),
    ],
    ids=["blank-name", "long-name", "unknown-region", "no-region", "unknown-kind"],
)
def test_invalid_villages_are_refused_on_the_right_field(fields, field, message):
    with pytest.raises(DomainError) as refused:
        create(make_user(is_operator=True), **fields)

    assert refused.value.field == field
    assert str(refused.value.message) == message
    db.session.rollback()
    assert village_count() == 0


def test_a_name_of_exactly_80_characters_is_fine():
    village = create(make_user(is_operator=True), name="가" * 80)

    assert db.session.get(Village, village.id).name == "가" * 80


def test_villages_with_the_same_name_get_different_urls():
    operator = make_user(is_operator=True)

    slugs = [create(operator, name="햇살 마을").slug for _ in range(3)]

    assert slugs == ["햇살-마을", "햇살-마을-2", "햇살-마을-3"]


@pytest.mark.parametrize("name", ["new", "New", "edit"])
def test_a_village_named_like_one_of_our_pages_does_not_take_its_url(name):
    village = create(make_user(is_operator=True), name=name)

    assert village.slug not in {"new", "edit"}
    assert village.slug.startswith(name.lower())


def test_an_operator_edits_a_village_and_its_url_stays():
    operator = make_user(is_operator=True)
    village = create(operator, name="햇살마을")

    update_village(village, by=operator, name="달빛마을", region="jeju", kind="market", description="바닷가")

    village = db.session.get(Village, village.id)
    assert (village.name, village.region, village.kind, village.description) == ("달빛마을", "jeju", "market", "바닷가")
    assert village.slug == "햇살마을"


def test_a_non_operator_cannot_edit_a_village():
    village = make_village("햇살마을")

    with pytest.raises(NotAllowed):
        update_village(village, by=make_user(), name="빼앗은마을", region="jeju", kind="village", description="")

    db.session.rollback()
    assert db.session.get(Village, village.id).name == "햇살마을"


def test_an_edit_with_an_over_long_name_changes_nothing():
    operator = make_user(is_operator=True)
    village = create(operator, name="햇살마을")

    with pytest.raises(DomainError) as refused:
        update_village(village, by=operator, name="가" * 81, region="gangwon", kind="village", description="")

    assert refused.value.field == "name"
    db.session.rollback()
    assert db.session.get(Village, village.id).name == "햇살마을"


def test_villages_are_listed_by_name_and_filtered_by_region():
    make_village("하늘마을", region="gangwon")
    make_village("가람마을", region="gangwon")
    make_village("바다마을", region="jeju")

    assert [v.name for v in list_villages()] == ["가람마을", "바다마을", "하늘마을"]
    assert [v.name for v in list_villages("gangwon")] == ["가람마을", "하늘마을"]
    assert list_villages("seoul") == []


def test_a_village_comes_with_its_producers():
    village = make_village("들꽃마을")
    make_producer(village=village, farm_name="들꽃차")
    make_producer(farm_name="다른 마을 농장")

    assert [p.farm_name for p in get_village(village.slug).producers] == ["들꽃차"]


def test_an_unknown_village_is_not_found():
    with pytest.raises(NotFound):
        get_village("nowhere")
