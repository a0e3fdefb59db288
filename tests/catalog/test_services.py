"""Product rules: a producer lists products from their own subjects; only they change them."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import func, select

from farmstore.catalog.models import Product, ProductPhoto
from farmstore.catalog.services import (
    create_product,
    delete_product,
    get_product,
    products_for_subject,
    products_of,
    update_product,
)
from farmstore.errors import DomainError, NotAllowed, NotFound
from farmstore.extensions import db
from farmstore.media.models import SIZES, Photo
from farmstore.stories.services import delete_subject
from tests.catalog.conftest import NOW, make_product, make_subject, photo_upload
from tests.factories import make_producer, make_user

pytestmark = pytest.mark.usefixtures("ctx")


def count(model) -> int:
    """How many rows `model` has."""
    return db.session.scalar(select(func.count()).select_from(model))


def stored_files(photo: Photo) -> list[Path]:
    """The renditions of `photo` on the local disk."""
    return [Path(current_app.config["MEDIA_ROOT"]) / photo.path(name) for name in SIZES]


def edit(product: Product, by, **fields) -> Product:
    """update_product with the product's current values, `fields` changed."""
    values = {
        "name": product.name,
        "unit": product.unit,
        "category": product.category,
        "description": product.description,
        "subject_ids": [s.id for s in product.subjects],
    } | fields
    return update_product(product, by=by, **values)


def test_a_product_is_listed_with_photos_and_the_subjects_it_comes_from():
    producer = make_producer(farm_name="느릅골 한우농장")
    nureongi, field = make_subject(producer, "누렁이"), make_subject(producer, "북쪽 밭", kind="field")

    product = make_product(
        producer,
        "  한우 정육 세트  ",
        unit=" 1 kg ",
        description="  등심과 안심.  ",
        subjects=[nureongi, field],
        photos=[photo_upload("a.jpg"), photo_upload("b.png")],
    )

    found = get_product("느릅골-한우농장", "한우-정육-세트")
    assert found.id == product.id
    assert (found.name, found.unit, found.description) == ("한우 정육 세트", "1 kg", "등심과 안심.")
    assert [s.name for s in found.subjects] == ["누렁이", "북쪽 밭"]  # by name
    assert [item.position for item in found.photos] == [0, 1]
    assert found.cover_photo == found.photos[0].photo
    assert all(path.is_file() for path in stored_files(found.cover_photo))
    assert found.cover_photo.alt == "한우 정육 세트"


def test_two_products_with_the_same_name_get_different_urls():
    producer = make_producer()

    first, second = make_product(producer, "배추 한 상자"), make_product(producer, "배추 한 상자")

    assert (first.slug, second.slug) == ("배추-한-상자", "배추-한-상자-2")


def test_the_same_product_name_at_another_farm_keeps_the_plain_slug():
    make_product(make_producer(), "배추 한 상자")

    assert make_product(make_producer(), "배추 한 상자").slug == "배추-한-상자"


def test_a_product_cannot_come_from_another_producers_subject():
    producer, neighbour = make_producer(), make_producer()
    own, theirs = make_subject(producer, "누렁이"), make_subject(neighbour, "흰둥이")

    with pytest.raises(DomainError) as refused:
        make_product(producer, subjects=[own, theirs])

    assert refused.value.field == "subject_ids"
    assert str(refused.value.message) == "Choose only your own animals and fields."
    assert count(Product) == 0


def test_a_product_cannot_come_from_a_subject_that_does_not_exist():
    producer = make_producer()

    with pytest.raises(DomainError) as refused:
        edit(make_product(producer), producer.user, subject_ids=[9999])

    assert refused.value.field == "subject_ids"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "   "}, "name", "Give the product a name."),
        ({"unit": ""}, "unit", "Say what one unit is: a box, a kg, a share."),
        ({"category": "jewellery"}, "category", "Choose a category from the list."),
        ({"name": "소" * 81}, "name", "Use at most 80 characters."),
        ({"unit": "kg" * 16}, "unit", "Use at most 30 characters."),
        ({"description": "가" * 10_001}, "description", "Use at most 10000 characters."),
    ],
)
def test_a_product_with_bad_fields_is_refused_naming_the_field(fields, field, message):
    producer = make_producer()

    with pytest.raises(DomainError) as refused:
        make_product(producer, **fields)

    assert refused.value.field == field
    assert str(refused.value.message) == message
    assert count(Product) == 0


def test_a_refused_photo_leaves_no_product_and_no_photo():
    producer = make_producer()

    with pytest.raises(DomainError) as refused:
        make_product(producer, photos=[photo_upload(), photo_upload()] * 4 + [photo_upload()])

    assert refused.value.field == "photos"
    assert (count(Product), count(Photo)) == (0, 0)


def test_only_the_owner_lists_a_product():
    producer, neighbour = make_producer(), make_producer()

    for stranger in (neighbour.user, make_user()):
        with pytest.raises(NotAllowed):
            create_product(
                producer=producer, by=stranger, name="가짜 한우", unit="1 kg", category="meat", description="", now=NOW
            )

    assert count(Product) == 0


def test_the_owner_edits_a_product_and_its_url_stays():
    producer = make_producer()
    nureongi, field = make_subject(producer, "누렁이"), make_subject(producer, "북쪽 밭", kind="field")
    product = make_product(producer, "한우 정육 세트", subjects=[nureongi], photos=[photo_upload()])

    edit(
        product,
        producer.user,
        name="한우 구이 세트",
        unit="600 g",
        description="구이용.",
        subject_ids=[field.id],
        photos=[photo_upload()],
    )

    db.session.expire_all()
    found = get_product(producer.slug, "한우-정육-세트")
    assert (found.name, found.unit, found.description) == ("한우 구이 세트", "600 g", "구이용.")
    assert [s.name for s in found.subjects] == ["북쪽 밭"]
    assert [item.position for item in found.photos] == [0, 1]


def test_another_producer_or_a_buyer_cannot_edit_or_delete_a_product():
    producer = make_producer()
    product = make_product(producer, "한우 정육 세트", photos=[photo_upload()])
    photo = product.cover_photo

    for stranger in (make_producer().user, make_user()):
        with pytest.raises(NotAllowed):
            edit(product, stranger, name="Hijacked")
        with pytest.raises(NotAllowed):
            delete_product(product, by=stranger)

    db.session.expire_all()
    assert db.session.get(Product, product.id).name == "한우 정육 세트"
    assert all(path.is_file() for path in stored_files(photo))


def test_deleting_a_product_removes_its_photos_and_their_files_but_not_its_subjects():
    producer = make_producer()
    subject = make_subject(producer)
    product = make_product(producer, subjects=[subject], photos=[photo_upload(), photo_upload()])
    files = [path for item in product.photos for path in stored_files(item.photo)]
    assert all(path.is_file() for path in files)

    delete_product(product, by=producer.user)

    assert (count(Product), count(ProductPhoto), count(Photo)) == (0, 0, 0)
    assert not any(path.exists() for path in files)
    assert db.session.get(type(subject), subject.id) is not None


def test_deleting_a_subject_keeps_the_products_it_fed_but_unlinks_them():
    producer = make_producer()
    nureongi, field = make_subject(producer, "누렁이"), make_subject(producer, "북쪽 밭", kind="field")
    product = make_product(producer, subjects=[nureongi, field])

    delete_subject(nureongi, by=producer.user)

    db.session.expire_all()
    assert [s.name for s in get_product(producer.slug, product.slug).subjects] == ["북쪽 밭"]


def test_an_unknown_product_or_a_product_under_another_farm_is_not_found():
    producer, neighbour = make_producer(), make_producer()
    product = make_product(producer, "배추 한 상자")

    with pytest.raises(NotFound):
        get_product(producer.slug, "없는-상품")
    with pytest.raises(NotFound):
        get_product(neighbour.slug, product.slug)


def test_products_of_a_producer_and_of_a_subject_are_listed_by_name():
    producer = make_producer()
    nureongi, field = make_subject(producer, "누렁이"), make_subject(producer, "북쪽 밭", kind="field")
    make_product(producer, "한우 정육", subjects=[nureongi])
    make_product(producer, "배추", category="vegetables", subjects=[field])
    make_product(producer, "거름", category="preserves", subjects=[nureongi, field])
    make_product(make_producer(), "남의 상품")

    assert [p.name for p in products_of(producer)] == ["거름", "배추", "한우 정육"]
    assert [p.name for p in products_for_subject(nureongi)] == ["거름", "한우 정육"]
