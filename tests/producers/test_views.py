"""Producer pages: creating a profile, seeing it, and nobody but the owner editing it."""

import io
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from farmstore.extensions import db
from farmstore.media.models import Photo
from farmstore.producers.models import Producer
from tests.factories import image_bytes, make_producer, make_user, make_village


def producer_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Producer))


def profile_form(village_id: int, **fields) -> dict:
    """A valid producer form, with `fields` changed."""
    return {"farm_name": "사과밭", "village_id": village_id, "about": "", "contact": ""} | fields


@pytest.fixture
def owner(app, auth, client):
    """A producer, signed in and reading English; returns the profile's (slug, village_id)."""
    with app.app_context():
        producer = make_producer(make_user("owner@example.com"), make_village("들꽃마을"), farm_name="느릅골 한우농장")
        found = producer.slug, producer.village_id
    auth.login("owner@example.com")
    client.set_cookie("locale", "en")
    return found


def test_a_buyer_becomes_a_producer_and_appears_on_the_village_page(app, client, auth):
    with app.app_context():
        make_user("grandma@example.com")
        village = make_village("들꽃마을")
        village_id, village_slug = village.id, village.slug
    auth.login("grandma@example.com")

    response = client.post(
        "/producers/new",
        data={
            "farm_name": "들꽃차 할머니",
            "village_id": village_id,
            "about": "구절초를 말립니다.",
            "contact": "033-1234",
        },
    )

    assert response.status_code == 302
    assert unquote(response.headers["Location"]).endswith("/producers/들꽃차-할머니")
    page = client.get(f"/villages/{village_slug}").get_data(as_text=True)
    assert "들꽃차 할머니" in page


def test_another_account_cannot_edit_a_producer(app, client, auth):
    with app.app_context():
        producer = make_producer(farm_name="느릅골 한우농장")
        make_user("stranger@example.com")
        producer_id, slug, village_id = producer.id, producer.slug, producer.village_id
    auth.login("stranger@example.com")

    assert client.get(f"/producers/{slug}/edit").status_code == 403
    response = client.post(f"/producers/{slug}/edit", data=profile_form(village_id, farm_name="Hijacked"))

    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(Producer, producer_id).farm_name == "느릅골 한우농장"


def test_a_non_image_upload_is_refused_with_a_message_and_nothing_is_created(app, client, auth):
    with app.app_context():
        make_user("farmer@example.com")
        village_id = make_village().id
    auth.login("farmer@example.com")
    client.set_cookie("locale", "en")

    response = client.post(
        "/producers/new",
        data=profile_form(village_id, photo=(io.BytesIO(b"not an image"), "x.jpg")),
        content_type="multipart/form-data",
    )

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "This file is not a photo we can read" in page
    assert "My producer page" not in page  # the refused profile is not mistaken for a real one
    assert producer_count(app) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Photo)) == 0


def test_the_owner_edits_their_own_profile(app, client, owner):
    slug, village_id = owner
    assert "느릅골 한우농장" in client.get(f"/producers/{slug}/edit").get_data(as_text=True)

    response = client.post(
        f"/producers/{slug}/edit", data=profile_form(village_id, farm_name="느릅골 목장", contact="010-1234-5678")
    )

    assert unquote(response.headers["Location"]).endswith(f"/producers/{slug}")
    page = client.get(f"/producers/{slug}").get_data(as_text=True)
    assert "Your producer page is saved." in page
    assert "<h1>느릅골 목장</h1>" in page
    assert "010-1234-5678" in page


def test_the_owner_edits_a_profile_with_a_photo_without_uploading_it_again(app, client, owner):
    slug, village_id = owner
    client.post(
        f"/producers/{slug}/edit",
        data=profile_form(village_id, photo=(io.BytesIO(image_bytes()), "farm.jpg")),
        content_type="multipart/form-data",
    )
    with app.app_context():
        photo_id = db.session.scalar(select(Producer.photo_id))
    assert photo_id is not None

    response = client.post(f"/producers/{slug}/edit", data=profile_form(village_id, about="봄에 송아지가 태어났어요."))

    assert response.status_code == 302
    with app.app_context():
        producer = db.session.scalar(select(Producer))
        assert (producer.photo_id, producer.about) == (photo_id, "봄에 송아지가 태어났어요.")
        assert db.session.scalar(select(func.count()).select_from(Photo)) == 1


@pytest.mark.parametrize("path", ["/producers/new", "/producers/{slug}/edit"])
def test_a_visitor_is_sent_to_sign_in(app, client, path):
    with app.app_context():
        producer = make_producer(farm_name="느릅골 한우농장")
        slug, village_id = producer.slug, producer.village_id
    path = path.format(slug=slug)

    for response in (client.get(path), client.post(path, data=profile_form(village_id, farm_name="Hijacked"))):
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
    with app.app_context():
        assert [p.farm_name for p in db.session.scalars(select(Producer))] == ["느릅골 한우농장"]


def test_a_producer_cannot_make_a_second_profile(app, client, owner):
    slug, village_id = owner

    for response in (client.get("/producers/new"), client.post("/producers/new", data=profile_form(village_id))):
        assert response.status_code == 302
        assert unquote(response.headers["Location"]).endswith(f"/producers/{slug}/edit")
    assert producer_count(app) == 1


def test_markdown_about_text_is_shown_without_scripts_and_with_safe_links(app, client, owner):
    slug, village_id = owner
    about = (
        "**풀**을 먹여 키웁니다.\n\n"
        "<script>alert('steal')</script>\n\n"
        '<img src="/x.png" onerror="alert(1)">\n\n'
        "[click me](javascript:alert(document.cookie)) "
        '<a href="JaVaScRiPt:alert(2)">or me</a> '
        "[our blog](https://blog.example.com/farm)"
    )
    client.post(f"/producers/{slug}/edit", data=profile_form(village_id, about=about))

    page = client.get(f"/producers/{slug}").get_data(as_text=True)

    assert "<strong>풀</strong>" in page
    assert "<script>" not in page
    assert "onerror" not in page
    assert 'href="javascript' not in page.lower()
    assert '<a href="https://blog.example.com/farm" rel="nofollow ugc noopener">our blog</a>' in page
    description = page.split('<meta name="description" content="', 1)[1].split('"', 1)[0]
    assert description.startswith("풀을 먹여 키웁니다.")  # plain text for search results, no Markdown marks


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"farm_name": "가" * 81}, "Field cannot be longer than 80 characters."),
        ({"farm_name": ""}, "This field is required."),
        ({"village_id": 9999}, "Choose your village from the list."),
        ({"village_id": "abc"}, "Invalid Choice: could not coerce."),
        ({"contact": "0" * 201}, "Field cannot be longer than 200 characters."),
    ],
    ids=["long-name", "no-name", "unknown-village", "not-a-village", "long-contact"],
)
def test_an_invalid_profile_is_shown_again_with_a_clear_message(app, client, auth, fields, message):
    with app.app_context():
        make_user("farmer@example.com")
        village_id = make_village().id
    auth.login("farmer@example.com")
    client.set_cookie("locale", "en")

    response = client.post("/producers/new", data=profile_form(village_id) | fields)

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert message in page
    assert 'aria-invalid="true"' in page
    assert producer_count(app) == 0


def test_an_invalid_edit_changes_nothing(app, client, owner):
    slug, village_id = owner

    response = client.post(f"/producers/{slug}/edit", data=profile_form(9999, farm_name="느릅골 목장"))

    assert "Choose your village from the list." in response.get_data(as_text=True)
    with app.app_context():
        producer = db.session.scalar(select(Producer))
        assert (producer.farm_name, producer.village_id) == ("느릅골 한우농장", village_id)


def test_the_producer_page_links_to_its_village(app, client):
    with app.app_context():
        producer = make_producer(village=make_village("들꽃마을", region="gangwon"), farm_name="들꽃차")
        slug, village_slug = producer.slug, producer.village.slug

    page = unquote(client.get(f"/producers/{slug}").get_data(as_text=True))

    assert f'<a href="/villages/{village_slug}">들꽃마을</a>' in page
    assert "/edit" not in page  # no edit link for visitors


@pytest.mark.parametrize("path", ["/producers/nobody", "/producers/nobody/edit"])
def test_an_unknown_producer_is_not_found(app, client, auth, path):
    with app.app_context():
        make_user("farmer@example.com")
    auth.login("farmer@example.com")

    assert client.get(path).status_code == 404
