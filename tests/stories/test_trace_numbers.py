"""An animal's traceability number (개체식별번호): the owner gives it in the subject form, only an animal
carries one, and the subject page and the QR label link it to the official 축산물이력제 lookup."""

from __future__ import annotations

import pytest

from farmstore.extensions import db
from farmstore.stories.models import Subject
from farmstore.trace import lookup_url
from tests.factories import make_producer, make_user
from tests.stories.conftest import OWNER_EMAIL

NUMBER = "002089461327"


def subject_form(**fields) -> dict:
    """The subject form as the owner sends it, with `fields` changed."""
    return {"kind": "animal", "name": "누렁이", "breed": "한우", "location": "", "description": ""} | fields


def stored_number(app, subject_id: int) -> str:
    with app.app_context():
        return db.session.get(Subject, subject_id).trace_number


def test_the_owner_gives_an_animal_its_number_and_the_page_links_the_lookup(app, client, auth, farm):
    auth.login(OWNER_EMAIL)

    response = client.post(
        f"{farm.subject_url}/edit", data=subject_form(trace_number="002 0894 6132 7"), follow_redirects=True
    )

    page = response.get_data(as_text=True)
    assert stored_number(app, farm.subject_id) == NUMBER
    assert f'href="{lookup_url(NUMBER)}"'.replace("&", "&amp;") in page
    assert "002 0894 6132 7" in page
    assert "Traceability number" in page
    edit_form = client.get(f"{farm.subject_url}/edit").get_data(as_text=True)
    assert f'value="{NUMBER}"' in edit_form


def test_the_qr_label_shows_the_number_with_its_lookup(app, client, auth, farm):
    with app.app_context():
        db.session.get(Subject, farm.subject_id).trace_number = NUMBER
        db.session.commit()

    label = client.get(f"{farm.subject_url}/label").get_data(as_text=True)

    assert "002 0894 6132 7" in label
    assert lookup_url(NUMBER).replace("&", "&amp;") in label


def test_a_subject_without_a_number_shows_no_lookup(client, farm):
    page = client.get(farm.subject_url).get_data(as_text=True)
    assert "mtrace.go.kr" not in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"trace_number": "12345"}, "An animal&#39;s traceability number is 12 digits, for example 002117250633."),
        ({"trace_number": "L0261202A1B2001"}, "An animal&#39;s traceability number is 12 digits"),
        (
            {"trace_number": NUMBER, "kind": "herd"},
            "Only a single animal has a traceability number: give each animal its own page.",
        ),
    ],
)
def test_a_bad_number_is_refused_with_a_message_and_nothing_changes(app, client, auth, farm, fields, message):
    auth.login(OWNER_EMAIL)

    response = client.post(f"{farm.subject_url}/edit", data=subject_form(name="Renamed", **fields))

    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    with app.app_context():
        subject = db.session.get(Subject, farm.subject_id)
        assert (subject.name, subject.trace_number, subject.kind) == ("누렁이", "", "animal")


def test_the_message_is_korean_for_a_korean_reader(client, auth, farm):
    auth.login(OWNER_EMAIL)

    response = client.post(
        f"{farm.subject_url}/edit", data=subject_form(trace_number="1234"), headers={"Accept-Language": "ko"}
    )

    assert "개체식별번호(이력번호)는 숫자 12자리예요." in response.get_data(as_text=True)


def test_a_new_animal_can_carry_its_number(app, client, auth, farm):
    auth.login(OWNER_EMAIL)

    client.post(f"/producers/{farm.producer_slug}/subjects/new", data=subject_form(name="송아지", trace_number=NUMBER))

    with app.app_context():
        assert db.session.scalar(db.select(Subject.trace_number).where(Subject.name == "송아지")) == NUMBER


def test_nobody_else_sets_an_animals_number(app, client, auth, farm):
    with app.app_context():
        make_producer(make_user("intruder@example.com"))
    auth.login("intruder@example.com")

    response = client.post(f"{farm.subject_url}/edit", data=subject_form(trace_number=NUMBER))

    assert response.status_code == 403
    assert stored_number(app, farm.subject_id) == ""
