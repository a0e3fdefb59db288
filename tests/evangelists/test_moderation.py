"""Operators hide abusive story posts and products with a reason: gone from every public page,
still visible to their owner with the reason; operators only."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from farmstore.accounts.services import find_user_by_email
from farmstore.errors import DomainError, NotAllowed
from farmstore.evangelists import moderation
from farmstore.evangelists.models import AuditEntry
from farmstore.extensions import db
from farmstore.timeutil import utcnow
from tests.catalog.conftest import make_post, make_product, make_subject
from tests.evangelists.conftest import NOW, build_world


@pytest.fixture
def content(app):
    """A story post and a product of 느릅골 with distinctive words; returns ids and URLs."""
    with app.app_context():
        world = build_world()
        subject = make_subject(world.producer, "누렁이")
        post = make_post(subject, "욕설이 담긴 이야기", body="nasty words here")
        product = make_product(world.producer, "수상한 세트", description="nasty product")
        base = f"/producers/{world.producer.slug}"
        return {
            "post": post.id, "product": product.id, "subject_url": f"{base}/subjects/{subject.slug}",
            "post_url": f"{base}/subjects/{subject.slug}/posts/{post.id}",
            "product_url": f"{base}/products/{product.slug}", "producer_url": base,
            "village_url": f"/villages/{world.village.slug}",
        }  # fmt: skip


def public_pages(client, content) -> str:
    pages = [content["subject_url"], content["producer_url"], content["village_url"], "/", "/search?q=nasty",
             "/products"]  # fmt: skip
    return "".join(client.get(path).get_data(as_text=True) for path in pages)


def test_an_operator_hides_a_story_and_a_product_with_a_reason(client, auth, content):
    assert "욕설이 담긴 이야기" in public_pages(client, content)
    auth.login("operator@example.com")
    assert "Hide (operator)" in client.get(content["post_url"]).get_data(as_text=True)
    refused = client.post(f"/operator/hide/story/{content['post']}", data={"reason": ""})
    assert "This field is required." in refused.get_data(as_text=True)
    response = client.post(f"/operator/hide/story/{content['post']}?next={content['subject_url']}",
                           data={"reason": "Insults a neighbour"})  # fmt: skip
    assert unquote(response.headers["Location"]) == content["subject_url"]
    client.post(f"/operator/hide/product/{content['product']}", data={"reason": "Not food"})
    assert "Insults a neighbour" in client.get("/operator/hidden").get_data(as_text=True)
    auth.logout()

    pages = public_pages(client, content)
    assert "욕설이 담긴 이야기" not in pages and "수상한 세트" not in pages
    assert client.get(content["post_url"]).status_code == 404
    assert client.get(content["product_url"]).status_code == 404

    auth.login("buyer@example.com")
    assert client.get(content["post_url"]).status_code == 404
    auth.logout()
    auth.login("farmer@example.com")
    assert "Hidden by an operator: Insults a neighbour" in client.get(content["post_url"]).get_data(as_text=True)
    assert "Hidden by an operator: Not food" in client.get(content["product_url"]).get_data(as_text=True)
    assert "욕설이 담긴 이야기" in client.get(content["subject_url"]).get_data(as_text=True)
    assert "수상한 세트" in client.get(content["producer_url"]).get_data(as_text=True)


def test_showing_again_puts_it_back(app, client, auth, content):
    auth.login("operator@example.com")
    client.post(f"/operator/hide/story/{content['post']}", data={"reason": "Mistake"})
    client.post(f"/operator/unhide/story/{content['post']}")
    auth.logout()
    assert client.get(content["post_url"]).status_code == 200
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["hid", "unhid"]


def test_unknown_kinds_and_rows_are_404(client, auth, content):
    auth.login("operator@example.com")
    assert client.get("/operator/hide/spaceship/1").status_code == 404
    assert client.get("/operator/hide/story/999999").status_code == 404


def test_the_service_refuses_non_operators_and_blank_reasons(app, content):
    with app.app_context(), force_locale("en"):
        farmer, operator = find_user_by_email("farmer@example.com"), find_user_by_email("operator@example.com")
        with pytest.raises(NotAllowed):
            moderation.hide_content(operator=farmer, kind="story", item_id=content["post"], reason="x", now=NOW)
        with pytest.raises(DomainError, match="Say why"):
            moderation.hide_content(operator=operator, kind="story", item_id=content["post"], reason=" ", now=NOW)
        item = moderation.hide_content(operator=operator, kind="product", item_id=content["product"], reason="r",
                                       now=utcnow())  # fmt: skip
        assert item.is_hidden and item.hidden_reason == "r"
