"""Question pages through the test client: asking from a page, the inbox, answering (403 for
anyone but the producer and their evangelist), private questions (404 for others), hiding, the
badge on the producer page, and the operators' rising view."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from farmstore.catalog.models import Product
from farmstore.extensions import db
from farmstore.inquiries import services
from farmstore.inquiries.models import Question
from farmstore.timeutil import utcnow
from tests.catalog.conftest import make_product
from tests.groupbuys.conftest import make_group_buy
from tests.inquiries.conftest import ask, build_world, reload_world
from tests.sales.conftest import make_point, make_sale
from tests.stories.conftest import make_subject


@pytest.fixture
def world(app):
    """`build_world` with a product and a field, as slugs and ids (each request has its own context)."""
    with app.app_context():
        made = build_world()
        product = make_product(made.producer, "배추 한 상자", category="vegetables")
        return SimpleNamespace(
            slug=made.producer.slug,
            product_id=product.id,
            product_url=f"/producers/{made.producer.slug}/products/{product.slug}",
            subject_slug=make_subject(made.producer, "북쪽 밭", kind="field").slug,
        )


def question_data(**fields):
    data = {
        "question-body": "언제 수확하나요?",
        "question-topic": "availability",
        "question-kind": "question",
        "question-about_kind": "producer",
    }
    return data | fields


def only_question() -> Question:
    return db.session.scalar(select(Question))


def test_a_buyer_asks_from_a_product_page_and_lands_back_on_it(app, client, auth, world):
    auth.login("buyer@example.com")
    page = client.get(world.product_url).get_data(as_text=True)
    assert "Ask 느릅골 농장" in page
    assert 'name="question-about_kind" type="hidden" value="product"' in page

    response = client.post(
        f"/producers/{world.slug}/questions",
        data=question_data(**{"question-about_kind": "product", "question-about_id": world.product_id}),
    )
    assert response.status_code == 302
    assert unquote(response.headers["Location"]).endswith(world.product_url)
    with app.app_context():
        question = only_question()
        assert (question.about_kind, question.about_id) == ("product", world.product_id)
        assert question.asker_id == reload_world().buyer.id
    assert "Your question is sent" in client.get(world.product_url).get_data(as_text=True)


@pytest.mark.parametrize("page", ["subject", "sale", "group_buy", "producer"])
def test_every_producer_page_offers_the_question_form(app, client, auth, world, page):
    with app.app_context():
        now, w = utcnow(), reload_world()
        product = db.session.get(Product, world.product_id)
        sale = make_sale(w.producer, [(product, 10_000, 5, 2)], point=make_point(w.producer), now=now)
        urls = {
            "subject": f"/producers/{world.slug}/subjects/{world.subject_slug}",
            "sale": f"/sales/{sale.id}",
            "group_buy": f"/group-buys/{make_group_buy(w.producer, now=now).id}",
            "producer": f"/producers/{world.slug}",
        }  # fmt: skip
    auth.login("buyer@example.com")
    html = client.get(urls[page]).get_data(as_text=True)
    assert f'name="question-about_kind" type="hidden" value="{page}"' in html


def test_signed_out_visitors_are_asked_to_sign_in(client, world):
    assert "Sign in to ask a question." in client.get(world.product_url).get_data(as_text=True)
    response = client.post(f"/producers/{world.slug}/questions", data=question_data())
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_an_empty_question_is_refused_with_a_message(app, client, auth, world):
    auth.login("buyer@example.com")
    response = client.post(f"/producers/{world.slug}/questions", data=question_data(**{"question-body": ""}))
    assert response.status_code == 302
    assert "Write your question" in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert only_question() is None


def test_asking_about_another_farms_page_is_a_404(app, client, auth, world):
    with app.app_context():
        other = make_product(reload_world().far_producer, "남의 상품").id
    auth.login("buyer@example.com")
    data = question_data(**{"question-about_kind": "product", "question-about_id": other})
    assert client.post(f"/producers/{world.slug}/questions", data=data).status_code == 404


def test_the_inbox_is_for_the_producer_and_their_evangelist(app, client, auth, world):
    with app.app_context():
        ask(reload_world(), body="오래 기다린 질문", now=utcnow() - timedelta(hours=30))
    for email in ("owner@example.com", "evangelist@example.com"):
        auth.login(email)
        page = client.get(f"/producers/{world.slug}/questions").get_data(as_text=True)
        assert "오래 기다린 질문" in page
        assert "1 question waits for an answer." in page
        auth.logout()
    for email in ("buyer@example.com", "far@example.com"):
        auth.login(email)
        assert client.get(f"/producers/{world.slug}/questions").status_code == 403
        auth.logout()
    assert client.get("/producers/nobody/questions").status_code in (302, 404)


@pytest.mark.parametrize("who", ["buyer@example.com", "stranger@example.com", "far@example.com"])
def test_answering_as_the_producer_is_refused_for_anyone_else(app, client, auth, world, who):
    with app.app_context():
        question_id = ask(reload_world()).id
    auth.login(who)
    response = client.post(f"/questions/{question_id}/answer", data={"body": "제가 농부예요."})
    assert response.status_code == 403
    with app.app_context():
        assert only_question().answered_at is None


def test_the_evangelist_answers_and_the_page_says_who(app, client, auth, world):
    with app.app_context():
        question_id = ask(reload_world(), about_kind="product", about_id=world.product_id).id
    auth.login("evangelist@example.com")
    response = client.post(f"/questions/{question_id}/answer", data={"body": "다음 주에 수확해요."})
    assert response.status_code == 302
    auth.logout()

    page = client.get(world.product_url).get_data(as_text=True)
    assert "다음 주에 수확해요." in page
    assert "answered by 정다운, evangelist of 들꽃마을" in page


def test_an_empty_answer_shows_the_form_again(app, client, auth, world):
    with app.app_context():
        question_id = ask(reload_world()).id
    auth.login("owner@example.com")
    response = client.post(f"/questions/{question_id}/answer", data={"body": ""})
    assert response.status_code == 400
    assert "This field is required." in response.get_data(as_text=True)


def test_a_private_question_is_a_404_for_others(app, client, auth, world):
    with app.app_context():
        question = ask(reload_world(), body="비밀 질문", private=True)
        services.answer_question(question, by=reload_world().owner, body="비밀 답", now=utcnow())
        question_id = question.id
    assert client.get(f"/questions/{question_id}").status_code == 404
    assert "비밀 답" not in client.get(world.product_url.rsplit("/products", 1)[0]).get_data(as_text=True)
    auth.login("stranger@example.com")
    assert client.get(f"/questions/{question_id}").status_code == 404
    auth.logout()
    for email in ("buyer@example.com", "owner@example.com", "evangelist@example.com"):
        auth.login(email)
        assert "비밀 답" in client.get(f"/questions/{question_id}").get_data(as_text=True)
        auth.logout()


def test_my_questions_lists_what_i_asked(app, client, auth, world):
    with app.app_context():
        ask(reload_world(), body="내가 물은 것")
    auth.login("buyer@example.com")
    assert "내가 물은 것" in client.get("/my/questions").get_data(as_text=True)
    auth.logout()
    auth.login("stranger@example.com")
    assert "내가 물은 것" not in client.get("/my/questions").get_data(as_text=True)


def test_an_operator_hides_a_question_and_others_cannot(app, client, auth, world):
    with app.app_context():
        question = ask(reload_world(), body="나쁜 말")
        services.answer_question(question, by=reload_world().owner, body="답", now=utcnow())
        question_id = question.id
    auth.login("owner@example.com")
    assert client.post(f"/questions/{question_id}/hide", data={"reason": "싫어요"}).status_code == 403
    auth.logout()

    auth.login("operator@example.com")
    assert client.post(f"/questions/{question_id}/hide", data={"reason": "욕설"}).status_code == 302
    assert "Hidden by an operator: 욕설" in client.get(f"/questions/{question_id}").get_data(as_text=True)
    auth.logout()
    assert client.get(f"/questions/{question_id}").status_code == 404
    assert "나쁜 말" not in client.get(f"/producers/{world.slug}").get_data(as_text=True)


def test_the_producer_page_shows_the_median_and_the_badge(app, client, world):
    with app.app_context():
        now = utcnow()
        for hours in (1, 3, 5):
            question = ask(reload_world(), now=now - timedelta(days=2))
            services.answer_question(
                question, by=reload_world().owner, body="답", now=now - timedelta(days=2, hours=-hours)
            )
    page = client.get(f"/producers/{world.slug}").get_data(as_text=True)
    assert "Median answer time: 3 h (last 90 days)" in page
    assert "Usually answers within a day" in page


def test_no_badge_without_enough_answers(app, client, world):
    page = client.get(f"/producers/{world.slug}").get_data(as_text=True)
    assert "Usually answers within a day" not in page
    assert "Median answer time" not in page


def test_rising_this_week_is_for_operators_only(app, client, auth, world):
    with app.app_context():
        now = utcnow()
        for days_ago in (1, 2):
            ask(reload_world(), topic="delivery", kind="complaint", now=now - timedelta(days=days_ago))
        ask(reload_world(), topic="price", now=now - timedelta(days=9))
    for email in ("buyer@example.com", "owner@example.com", "evangelist@example.com"):
        auth.login(email)
        assert client.get("/operator/questions/rising").status_code == 403
        auth.logout()
    auth.login("operator@example.com")
    page = client.get("/operator/questions/rising").get_data(as_text=True)
    assert page.index("Delivery") < page.index("Price")
    assert "Hot this week" in page
    assert "들꽃마을 (2)" in page
    assert "+2" in page
    assert "-1" in page


def test_rising_this_week_links_to_the_questions_and_reads_right_in_korean(app, client, auth, world):
    with app.app_context():
        now = utcnow()
        recent = ask(reload_world(), topic="delivery", now=now - timedelta(days=1)).id
        old = ask(reload_world(), topic="price", now=now - timedelta(days=9)).id
    auth.login("operator@example.com")
    html = client.get("/operator/questions/rising").get_data(as_text=True)
    assert f'href="/questions/{recent}"' in html
    assert f'href="/questions/{old}"' not in html  # last week's are counted, not listed
    korean = client.get("/operator/questions/rising", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert '<th class="num">증감</th>' in korean
    assert '<button type="submit">바꾸기</button>' in korean  # the language button keeps its own word
