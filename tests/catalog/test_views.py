"""Product pages: listing, editing and deleting through the forms, who may do it, what a product
page shows (its subjects' latest stories, where to buy it, link-preview metadata), and a bounded
number of SQL queries whatever the data size."""

from __future__ import annotations

import io
import re
import secrets
from html import unescape
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from flask import current_app
from PIL import Image
from sqlalchemy import event, func, select

from farmstore.catalog.models import Product, ProductPhoto
from farmstore.extensions import db
from farmstore.media.models import SIZES, Photo
from farmstore.producers.models import Producer
from farmstore.stories.models import StoryPhoto, StoryPost, Subject
from tests.catalog.conftest import (
    NOW,
    TODAY,
    head_tags,
    make_post,
    make_product,
    make_subject,
    photo_upload,
    story_titles,
)
from tests.factories import image_bytes, make_producer, make_user, make_village

FARM = "느릅골 한우농장"
NOT_ON_SALE = f"Not on sale right now. Follow {FARM} to hear first when a sale or group-buy opens."


@pytest.fixture
def farm(app):
    """느릅골 한우농장 (owner@example.com) with 누렁이 and 북쪽 밭; a neighbour (neighbour@example.com)
    with 흰둥이; a buyer (buyer@example.com). Returns the slug and subject ids."""
    with app.app_context():
        producer = make_producer(make_user("owner@example.com"), make_village("들꽃마을"), farm_name=FARM)
        neighbour = make_producer(make_user("neighbour@example.com"), farm_name="옆집 농장")
        make_user("buyer@example.com")
        return SimpleNamespace(
            slug=producer.slug,
            nureongi=make_subject(producer, "누렁이").id,
            field=make_subject(producer, "북쪽 밭", kind="field").id,
            theirs=make_subject(neighbour, "흰둥이").id,
        )


def the_producer(slug: str) -> Producer:
    """The producer at this slug."""
    return db.session.scalar(select(Producer).where(Producer.slug == slug))


@pytest.fixture
def listed(app, farm):
    """The farm's 한우 정육 세트 from 누렁이, with one photo. Returns its id and URL."""
    with app.app_context():
        product = make_product(
            the_producer(farm.slug),
            "한우 정육 세트",
            description="**등심**과 안심을 담았습니다.",
            subjects=[db.session.get(Subject, farm.nureongi)],
            photos=[photo_upload()],
        )
        return SimpleNamespace(id=product.id, url=f"/producers/{farm.slug}/products/{product.slug}")


def product_form(**fields) -> dict:
    """A valid product form, with `fields` changed."""
    return {"name": "한우 정육 세트", "unit": "1 kg", "category": "meat", "description": ""} | fields


def products() -> list[Product]:
    """Every product in the database."""
    return list(db.session.scalars(select(Product)))


def files_of(photos: list[Photo]) -> list[Path]:
    """Where the renditions of `photos` are stored on disk."""
    root = Path(current_app.config["MEDIA_ROOT"])
    return [root / photo.path(name) for photo in photos for name in SIZES]


def test_the_owner_lists_a_product_with_photos_and_the_subjects_it_comes_from(app, client, auth, farm):
    auth.login("owner@example.com")

    form = client.get(f"/producers/{farm.slug}/products/new").get_data(as_text=True)
    response = client.post(
        f"/producers/{farm.slug}/products/new",
        data=product_form(
            subject_ids=[farm.nureongi, farm.field],
            new_photos=[(io.BytesIO(image_bytes()), "a.jpg"), (io.BytesIO(image_bytes("PNG")), "b.png")],
        ),
        content_type="multipart/form-data",
    )

    assert "누렁이" in form
    assert "흰둥이" not in form
    assert response.status_code == 302
    assert response.headers["Location"] == f"/producers/{quote(farm.slug)}/products/{quote('한우-정육-세트')}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The product is listed." in page
    assert "<h1>한우 정육 세트</h1>" in page
    with app.app_context():
        (product,) = products()
        assert sorted(s.name for s in product.subjects) == ["누렁이", "북쪽 밭"]
        assert len(product.photos) == 2
        assert all(path.is_file() for path in files_of([item.photo for item in product.photos]))


def test_linking_a_neighbours_subject_is_refused_with_a_message(app, client, auth, farm):
    auth.login("owner@example.com")

    response = client.post(
        f"/producers/{farm.slug}/products/new", data=product_form(subject_ids=[farm.nureongi, farm.theirs])
    )

    assert response.status_code == 200
    assert "Choose only your own animals and fields." in response.get_data(as_text=True)
    with app.app_context():
        assert products() == []


def test_a_producer_without_subjects_still_sees_why_a_foreign_subject_is_refused(app, client, auth, farm):
    with app.app_context():
        make_producer(make_user("newcomer@example.com"), farm_name="새내기 농장")
    auth.login("newcomer@example.com")

    response = client.post("/producers/새내기-농장/products/new", data=product_form(subject_ids=[farm.theirs]))

    assert response.status_code == 200
    assert "Choose only your own animals and fields." in response.get_data(as_text=True)
    with app.app_context():
        assert products() == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"unit": "  "}, "This field is required."),
        ({"category": "jewellery"}, "Not a valid choice."),
        ({"name": "소" * 81}, "Field cannot be longer than 80 characters."),
        ({"unit": "k" * 31}, "Field cannot be longer than 30 characters."),
        ({"description": "가" * 10_001}, "Field cannot be longer than 10000 characters."),
    ],
)
def test_a_product_form_with_bad_fields_is_refused_with_a_message(app, client, auth, farm, fields, message):
    auth.login("owner@example.com")

    response = client.post(f"/producers/{farm.slug}/products/new", data=product_form(**fields))

    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert products() == []


def test_the_owner_edits_a_product_and_its_url_stays(app, client, auth, farm, listed):
    auth.login("owner@example.com")

    form = client.get(f"{listed.url}/edit").get_data(as_text=True)
    response = client.post(
        f"{listed.url}/edit",
        data=product_form(name="한우 구이 세트", unit="600 g", subject_ids=[farm.field]),
    )

    assert re.findall(r'<input checked[^>]* value="(\d+)"', form) == [str(farm.nureongi)]
    assert response.status_code == 302
    assert response.headers["Location"] == quote(listed.url)
    page = client.get(listed.url).get_data(as_text=True)
    assert "Saved." in page
    assert "<h1>한우 구이 세트</h1>" in page
    with app.app_context():
        product = db.session.get(Product, listed.id)
        assert (product.name, product.unit, [s.name for s in product.subjects]) == (
            "한우 구이 세트",
            "600 g",
            ["북쪽 밭"],
        )
        assert len(product.photos) == 1


def test_the_owner_deletes_a_product_with_its_photo_files(app, client, auth, farm, listed):
    with app.app_context():
        files = files_of([db.session.get(Product, listed.id).cover_photo])
    assert all(path.is_file() for path in files)
    auth.login("owner@example.com")

    response = client.post(f"{listed.url}/delete")

    assert response.status_code == 302
    assert response.headers["Location"] == f"/producers/{quote(farm.slug)}"
    assert "Deleted." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get(listed.url).status_code == 404
    assert not any(path.exists() for path in files)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Photo)) == 0


@pytest.mark.parametrize("stranger", ["neighbour@example.com", "buyer@example.com"])
def test_another_producer_or_a_buyer_is_refused_and_nothing_changes(app, client, auth, farm, listed, stranger):
    auth.login(stranger)

    statuses = [
        client.get(f"/producers/{farm.slug}/products/new").status_code,
        client.post(f"/producers/{farm.slug}/products/new", data=product_form(name="가짜")).status_code,
        client.get(f"{listed.url}/edit").status_code,
        client.post(f"{listed.url}/edit", data=product_form(name="Hijacked")).status_code,
        client.post(f"{listed.url}/delete").status_code,
    ]

    assert statuses == [403] * 5
    with app.app_context():
        assert [p.name for p in products()] == ["한우 정육 세트"]
        assert db.session.scalar(select(func.count()).select_from(ProductPhoto)) == 1


def test_anonymous_visitors_are_sent_to_sign_in_and_nothing_changes(app, client, farm, listed):
    responses = [
        client.get(f"/producers/{farm.slug}/products/new"),
        client.post(f"/producers/{farm.slug}/products/new", data=product_form(name="가짜")),
        client.get(f"{listed.url}/edit"),
        client.post(f"{listed.url}/edit", data=product_form(name="Hijacked")),
        client.post(f"{listed.url}/delete"),
    ]

    assert [r.status_code for r in responses] == [302] * 5
    assert all(r.headers["Location"].startswith("/login?next=") for r in responses)
    with app.app_context():
        assert [p.name for p in products()] == ["한우 정육 세트"]


def test_unknown_products_and_producers_are_not_found(client, auth, farm, listed):
    auth.login("owner@example.com")
    unknown = f"/producers/{farm.slug}/products/없는-상품"

    assert client.get(unknown).status_code == 404
    assert client.get(f"{unknown}/edit").status_code == 404
    assert client.post(f"{unknown}/delete").status_code == 404
    assert client.get("/producers/없는-농장/products/new").status_code == 404
    assert client.get(listed.url.replace(farm.slug, "옆집-농장")).status_code == 404


def test_the_product_page_shows_its_subject_the_latest_five_stories_and_that_it_is_not_on_sale(
    app, client, farm, listed
):
    with app.app_context():
        nureongi, field = db.session.get(Subject, farm.nureongi), db.session.get(Subject, farm.field)
        for day in range(7):
            make_post(nureongi, f"누렁이 {day}일 전", days_ago=day)
        make_post(field, "북쪽 밭 소식", days_ago=0)
        make_post(db.session.get(Subject, farm.theirs), "흰둥이 소식", days_ago=0)

    page = client.get(listed.url).get_data(as_text=True)

    assert "Where it comes from" in page
    assert unescape(page).count("From 누렁이's timeline") == 1
    assert story_titles(page) == [f"누렁이 {day}일 전" for day in range(5)]
    assert "Where to buy it" in page
    assert NOT_ON_SALE in page
    assert "<strong>등심</strong>과 안심을 담았습니다." in page


def test_a_product_from_several_subjects_shows_all_their_stories_newest_first(app, client, farm):
    with app.app_context():
        nureongi, field = db.session.get(Subject, farm.nureongi), db.session.get(Subject, farm.field)
        make_post(nureongi, "오래된 누렁이 소식", days_ago=30)
        make_post(field, "밭 갈기", days_ago=2)
        make_post(nureongi, "누렁이 산책", days_ago=1)
        slug = make_product(the_producer(farm.slug), "한우와 배추", subjects=[nureongi, field]).slug

    page = client.get(f"/producers/{farm.slug}/products/{slug}").get_data(as_text=True)

    assert "From the timelines" in page
    assert story_titles(page) == ["누렁이 산책", "밭 갈기", "오래된 누렁이 소식"]


def test_a_product_from_no_subject_has_no_timeline(app, client, farm):
    with app.app_context():
        make_post(db.session.get(Subject, farm.nureongi), "누렁이 산책")
        slug = make_product(the_producer(farm.slug), "거름", category="preserves").slug

    page = client.get(f"/producers/{farm.slug}/products/{slug}").get_data(as_text=True)

    assert "Where it comes from" not in page
    assert "timeline" not in page
    assert story_titles(page) == []
    assert NOT_ON_SALE in page


def test_the_product_page_carries_link_preview_metadata(app, client, farm, listed):
    with app.app_context():
        photo = db.session.get(Product, listed.id).cover_photo
        image_url = f"http://farmstore.test/media/{photo.key[:2]}/{photo.key}/share.jpg"
    page_url = "http://farmstore.test" + quote(listed.url)

    # Shared URLs come from BASE_URL, whatever Host the request claimed.
    tags = head_tags(client.get(listed.url, headers={"Host": "evil.example"}).get_data(as_text=True))

    assert tags.links["canonical"] == page_url
    assert tags.meta["og:url"] == page_url
    assert tags.meta["og:type"] == "product"
    assert tags.meta["og:locale"] == "en_US"
    assert tags.meta["og:title"] == f"한우 정육 세트 · {FARM}"
    assert tags.meta["og:description"] == "등심과 안심을 담았습니다."
    assert tags.meta["og:image"] == image_url
    assert tags.meta["twitter:card"] == "summary_large_image"
    assert tags.meta["twitter:image"] == image_url
    assert (tags.meta["og:image:width"], tags.meta["og:image:height"]) == ("800", "400")
    image = client.get(image_url)
    assert (image.status_code, image.mimetype) == (200, "image/jpeg")
    assert Image.open(io.BytesIO(image.data)).size == (800, 400)


def test_link_preview_metadata_is_escaped(app, client, farm):
    with app.app_context():
        slug = make_product(the_producer(farm.slug), '"><script>alert(1)</script>', unit="1 kg").slug

    page = client.get(f"/producers/{farm.slug}/products/{slug}").get_data(as_text=True)

    assert "<script>alert(1)</script>" not in page
    assert head_tags(page).meta["og:title"] == f'"><script>alert(1)</script> · {FARM}'


def test_link_previews_are_in_the_readers_language(client, listed):
    tags = head_tags(client.get(listed.url, headers={"Accept-Language": "ko"}).get_data(as_text=True))

    assert tags.meta["og:locale"] == "ko_KR"


def test_a_product_without_photos_shares_a_small_card_with_its_unit_as_description(app, client, farm):
    with app.app_context():
        slug = make_product(the_producer(farm.slug), "배추 한 상자", unit="10 kg 상자", category="vegetables").slug

    tags = head_tags(client.get(f"/producers/{farm.slug}/products/{slug}").get_data(as_text=True))

    assert tags.meta["og:description"] == "10 kg 상자"
    assert tags.meta["og:image"] == "http://farmstore.test/static/img/share.png"  # the site's card
    assert tags.meta["twitter:card"] == "summary"


def add_photos(n: int) -> list[Photo]:
    """`n` photo rows (the page only needs their sizes, not their files)."""
    photos = [Photo(key=secrets.token_hex(16), width=1600, height=1200, alt="") for _ in range(n)]
    db.session.add_all(photos)
    return photos


def storied_product(*, subjects: int, posts: int, photos: int) -> str:
    """A product (with photos) from `subjects` subjects, which have `posts` stories between them;
    `photos` photos in all, spread over the product, the subjects' covers and the newest stories.
    Returns the product's URL."""
    producer = make_producer()
    covers = add_photos(subjects)
    linked = [make_subject(producer, f"소 {i}") for i in range(subjects)]
    for subject, cover in zip(linked, covers, strict=True):
        subject.cover_photo = cover
    product_photos = add_photos(min(8, photos - subjects - 1))
    product = make_product(producer, "한우", subjects=linked)
    product.photos = [ProductPhoto(photo=photo, position=i) for i, photo in enumerate(product_photos)]
    story_photos = add_photos(photos - subjects - len(product_photos))
    stories = [
        StoryPost(
            subject=linked[i % subjects], happened_on=TODAY, title=f"이야기 {i}", body="풀밭에서.", created_at=NOW
        )
        for i in range(posts)
    ]
    for i, photo in enumerate(story_photos):
        stories[-1 - i % 5].photos.append(StoryPhoto(photo=photo, position=i))
    db.session.add_all(stories)
    db.session.commit()
    return f"/producers/{producer.slug}/products/{product.slug}"


def statements_to_render(client, url: str) -> int:
    """How many SQL statements the app runs to answer GET `url`."""
    executed = []

    def count(*_args):
        executed.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(executed)


def test_the_product_page_runs_as_many_queries_for_500_stories_as_for_3(app, client):
    with app.app_context():
        small = storied_product(subjects=1, posts=3, photos=3)
        large = storied_product(subjects=5, posts=500, photos=50)
        assert db.session.scalar(select(func.count()).select_from(Photo)) == 53
        client.get(small)  # warm up

        queries = statements_to_render(client, small), statements_to_render(client, large)

    print(f"product page: {queries[0]} SQL statements with 3 stories, {queries[1]} with 500 stories and 50 photos")
    assert queries[0] == queries[1]
