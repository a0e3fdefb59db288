"""Producer pages: creating a profile, seeing it, and nobody but the owner editing it."""

from urllib.parse import unquote

from farmstore.extensions import db
from farmstore.producers.models import Producer
from tests.factories import image_bytes, make_producer, make_user, make_village


def test_a_buyer_becomes_a_producer_and_appears_on_the_village_page(app, client, auth):
    with app.app_context():
        make_user("grandma@example.com")
        village = make_village("들꽃마을")
        village_id, village_slug = village.id, village.slug
    auth.login("grandma@example.com")

    response = client.post(
        "/producers/new",
        data={"farm_name": "들꽃차 할머니", "village_id": village_id, "about": "구절초를 말립니다.", "contact": "033-1234"},
    )

    assert response.status_code == 302
    assert unquote(response.headers["Location"]).endswith("/producers/들꽃차-할머니")
    page = client.get(f"/villages/{village_slug}").get_data(as_text=True)
    assert "들꽃차 할머니" in page


def test_another_account_cannot_edit_a_producer(app, client, auth):
    with app.app_context():
        producer = make_producer(farm_name="느릅골 한우농장")
        make_user("stranger@example.com")
        slug, village_id = producer.slug, producer.village_id
    auth.login("stranger@example.com")

    assert client.get(f"/producers/{slug}/edit").status_code == 403
    response = client.post(f"/producers/{slug}/edit", data={"farm_name": "Hijacked", "village_id": village_id})

    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(Producer, 1 if False else producer.id).farm_name == "느릅골 한우농장"


def test_a_non_image_upload_is_refused_with_a_message_and_nothing_is_created(app, client, auth):
    with app.app_context():
        make_user("farmer@example.com")
        village_id = make_village().id
    auth.login("farmer@example.com")

    response = client.post(
        "/producers/new",
        data={"farm_name": "사과밭", "village_id": village_id, "photo": (__import__("io").BytesIO(b"not an image"), "x.jpg")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 200
    assert "This file is not a photo" in response.get_data(as_text=True) or "사진" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Producer).count() == 0
    assert image_bytes()
