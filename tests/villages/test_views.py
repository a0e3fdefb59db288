"""Village pages: anyone browses; only operators add and edit, and bad input changes nothing."""

from __future__ import annotations

import io
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from farmstore.extensions import db
from farmstore.media.models import Photo
from farmstore.villages.models import Village
from tests.factories import image_bytes, make_producer, make_user, make_village


@pytest.fixture
def operator(app, auth, client):
    """Signed in as an operator, reading English."""
    with app.app_context():
        make_user("operator@example.com", is_operator=True)
    auth.login("operator@example.com")
    client.set_cookie("locale", "en")


def village_form(**fields) -> dict:
    """A valid village form, with `fields` changed."""
    return {"name": "햇살마을", "region": "gangwon", "kind": "village", "description": "산 아래 마을"} | fields


def location(response) -> str:
    return unquote(response.headers["Location"])


def village_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Village))


@pytest.fixture
def two_villages(app):
    """A village in Gangwon and a market on Jeju."""
    with app.app_context():
        make_village("들꽃마을", region="gangwon")
        make_village("바다장터", region="jeju", kind="market")


def test_anyone_can_browse_villages(client, two_villages):
    page = client.get("/villages").get_data(as_text=True)

    assert "들꽃마을" in page
    assert "바다장터" in page


def test_villages_can_be_filtered_by_region(client, two_villages):
    page = client.get("/villages?region=gangwon").get_data(as_text=True)

    assert "들꽃마을" in page
    assert "바다장터" not in page
    assert 'href="/villages?region=gangwon" aria-current="page"' in page


def test_an_unknown_region_shows_every_village(client, two_villages):
    response = client.get("/villages?region=atlantis")

    assert response.status_code == 200
    assert "들꽃마을" in response.get_data(as_text=True)
    assert "바다장터" in response.get_data(as_text=True)


def test_a_village_page_lists_its_producers(app, client):
    with app.app_context():
        village = make_village("들꽃마을", description="구절초가 피는 마을")
        producer = make_producer(village=village, farm_name="들꽃차 할머니")
        make_producer(farm_name="바다 농장")
        slug, producer_slug = village.slug, producer.slug

    page = client.get(f"/villages/{slug}").get_data(as_text=True)

    assert "<h1>들꽃마을</h1>" in page
    assert "구절초가 피는 마을" in page
    assert f'href="/producers/{producer_slug}"' in unquote(page)
    assert "바다 농장" not in page
    assert "/edit" not in page  # no edit link for visitors


def test_an_unknown_village_is_not_found(client):
    assert client.get("/villages/nowhere").status_code == 404


def test_an_operator_adds_a_village_with_a_cover_photo_and_sees_it(app, client, operator):
    assert client.get("/villages/new").status_code == 200

    response = client.post(
        "/villages/new",
        data=village_form(cover=(io.BytesIO(image_bytes("JPEG", (1200, 800))), "cover.jpg")),
        content_type="multipart/form-data",
    )

    assert response.status_code == 302
    assert location(response).endswith("/villages/햇살마을")
    page = client.get(location(response)).get_data(as_text=True)
    assert "The village is created." in page
    assert "<h1>햇살마을</h1>" in page
    with app.app_context():
        cover = db.session.scalar(select(Village)).cover_photo
        cover_url = f"/media/{cover.path('medium')}"
    assert cover_url in page
    assert client.get(cover_url).mimetype == "image/jpeg"


def test_an_operator_edits_a_village_and_its_url_stays(app, client, operator):
    with app.app_context():
        slug = make_village("햇살마을").slug
    assert "햇살마을" in client.get(f"/villages/{slug}/edit").get_data(as_text=True)

    response = client.post(f"/villages/{slug}/edit", data=village_form(name="달빛마을", region="jeju"))

    assert location(response).endswith(f"/villages/{slug}")
    page = client.get(f"/villages/{slug}").get_data(as_text=True)
    assert "<h1>달빛마을</h1>" in page
    assert "Jeju" in page


def test_an_edit_without_a_new_cover_keeps_the_old_one(app, client, operator):
    cover = (io.BytesIO(image_bytes()), "cover.jpg")
    slug = location(client.post("/villages/new", data=village_form(cover=cover), content_type="multipart/form-data"))
    slug = slug.rsplit("/", 1)[1]
    with app.app_context():
        cover_id = db.session.scalar(select(Village.cover_photo_id))

    response = client.post(f"/villages/{slug}/edit", data=village_form(description="새 소개"))

    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Village.cover_photo_id)) == cover_id
        assert db.session.scalar(select(func.count()).select_from(Photo)) == 1


@pytest.mark.parametrize("path", ["/villages/new", "/villages/{slug}/edit"])
def test_a_signed_in_non_operator_is_forbidden_and_nothing_changes(app, client, auth, path):
    with app.app_context():
        make_user("buyer@example.com")
        slug = make_village("햇살마을").slug
    auth.login("buyer@example.com")
    path = path.format(slug=slug)

    assert client.get(path).status_code == 403
    assert client.post(path, data=village_form(name="몰래마을")).status_code == 403

    with app.app_context():
        assert [v.name for v in db.session.scalars(select(Village))] == ["햇살마을"]


@pytest.mark.parametrize("path", ["/villages/new", "/villages/{slug}/edit"])
def test_a_visitor_is_sent_to_sign_in(app, client, path):
    with app.app_context():
        slug = make_village("햇살마을").slug
    path = path.format(slug=slug)

    for response in (client.get(path), client.post(path, data=village_form(name="몰래마을"))):
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
    assert village_count(app) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"region": "atlantis"}, "Not a valid choice"),
        ({"kind": "mall"}, "Not a valid choice"),
        ({"name": "가" * 81}, "Field cannot be longer than 80 characters."),
        ({"name": ""}, "This field is required."),
    ],
    ids=["unknown-region", "unknown-kind", "long-name", "no-name"],
)
def test_an_invalid_village_is_shown_again_with_a_clear_message(app, client, operator, fields, message):
    response = client.post("/villages/new", data=village_form(**fields))

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert message in page
    assert 'aria-invalid="true"' in page
    assert village_count(app) == 0


def test_a_non_image_cover_is_refused_with_a_message_and_nothing_is_created(app, client, operator):
    response = client.post(
        "/villages/new",
        data=village_form(cover=(io.BytesIO(b"GIF89a but not really"), "cover.gif")),
        content_type="multipart/form-data",
    )

    assert response.status_code == 200
    assert "This file is not a photo we can read" in response.get_data(as_text=True)
    assert village_count(app) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Photo)) == 0


def test_a_village_called_new_does_not_hide_the_new_village_page(app, client, operator):
    response = client.post("/villages/new", data=village_form(name="New"))

    village_url = location(response)
    assert not village_url.endswith("/villages/new")
    assert "<h1>New</h1>" in client.get(village_url).get_data(as_text=True)
    assert "Add a village" in client.get("/villages/new").get_data(as_text=True)


def test_villages_with_the_same_name_get_their_own_pages(app, client, operator):
    first = location(client.post("/villages/new", data=village_form(region="gangwon")))
    second = location(client.post("/villages/new", data=village_form(region="jeju")))

    assert first != second
    assert "Gangwon" in client.get(first).get_data(as_text=True)
    assert "Jeju" in client.get(second).get_data(as_text=True)
