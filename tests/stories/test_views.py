"""Subject timelines and story pages through the test client: the owner manages them through the
forms; nobody else can; feeds, QR labels and link previews point at BASE_URL."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from urllib.parse import unquote, urlsplit

import pytest
from sqlalchemy import select

from farmstore.extensions import db
from farmstore.media.models import RENDITIONS, Photo
from farmstore.stories import services
from farmstore.stories.models import Claim, StoryPhoto, StoryPost, Subject
from farmstore.stories.views import qr_svg
from farmstore.timeutil import utcnow
from tests.factories import PASSWORD, image_bytes, make_producer, make_user
from tests.stories.conftest import (
    OWNER_EMAIL,
    count,
    make_farm,
    make_photo,
    make_post,
    make_subject,
    media_files,
    page_tags,
)

ATOM = "{http://www.w3.org/2005/Atom}"


def jpeg(filename: str = "photo.jpg") -> tuple[io.BytesIO, str]:
    """A JPEG file field value for the test client."""
    return io.BytesIO(image_bytes()), filename


def subject_form(**fields) -> dict:
    """A valid subject form, with `fields` changed."""
    return {
        "kind": "animal", "name": "황소", "started_on": "2024-03-02", "breed": "한우",
        "location": "behind the barn", "description": "A big **bull**.",
    } | fields  # fmt: skip


def post_form(**fields) -> dict:
    """A valid story form, with `fields` changed."""
    return {"happened_on": "2025-05-02", "title": "Rain", "body": "Stayed in the barn."} | fields


def tomorrow(app) -> str:
    """Tomorrow in Seoul, as a form sends a date."""
    with app.app_context():
        return (services.today(utcnow()) + timedelta(days=1)).isoformat()


def html(response) -> str:
    """The response body as text."""
    return response.get_data(as_text=True)


def story_titles(page: str) -> list[str]:
    """The titles of the stories on a timeline page, top to bottom."""
    return re.findall(r'<article class="story">.*?<h3><a href="[^"]*">(.*?)</a></h3>', page, re.S)


def redirect_target(response) -> str:
    """Where a redirect goes, percent-decoded."""
    return unquote(response.headers["Location"])


# Subjects


def test_the_owner_adds_a_subject_with_a_cover_and_is_asked_for_its_first_story(app, client, auth, farm):
    auth.login(OWNER_EMAIL)

    response = client.post(f"/producers/{farm.producer_slug}/subjects/new", data=subject_form(cover=jpeg()))

    assert response.status_code == 302
    assert redirect_target(response) == f"/producers/{farm.producer_slug}/subjects/황소/posts/new"
    page = html(client.get(f"/producers/{farm.producer_slug}/subjects/황소"))
    assert "<h1>황소</h1>" in page
    assert "Animal · 한우" in page
    assert "<dt>Born</dt><dd>Mar 2, 2024</dd>" in page
    assert "behind the barn" in page
    assert "A big <strong>bull</strong>." in page
    assert 'class="cover"' in page
    with app.app_context():
        assert db.session.scalar(select(Subject).where(Subject.slug == "황소")).cover_photo is not None


def test_a_field_says_planted_rather_than_born(client, farm, app):
    with app.app_context():
        producer = db.session.get(Subject, farm.subject_id).producer
        make_subject(producer, "north field", kind="field", started_on=date(2025, 3, 20))

    page = html(client.get(f"/producers/{farm.producer_slug}/subjects/north-field"))

    assert "<dt>Planted</dt><dd>Mar 20, 2025</dd>" in page


def test_a_subject_born_in_the_future_is_refused_by_the_form(app, client, auth, farm):
    auth.login(OWNER_EMAIL)

    response = client.post(f"/producers/{farm.producer_slug}/subjects/new", data=subject_form(started_on=tomorrow(app)))

    assert response.status_code == 200
    assert "This date is in the future." in html(response)
    with app.app_context():
        assert count(Subject) == 1


def test_the_owner_edits_a_subject_and_its_url_stays(app, client, auth, farm):
    auth.login(OWNER_EMAIL)

    response = client.post(f"{farm.subject_url}/edit", data=subject_form(name="황소 누렁이", kind="animal"))

    assert response.status_code == 302
    assert redirect_target(response) == farm.subject_url
    assert "<h1>황소 누렁이</h1>" in html(client.get(farm.subject_url))


def test_editing_a_subject_to_a_future_date_shows_the_message_and_saves_nothing(app, client, auth, farm):
    auth.login(OWNER_EMAIL)

    response = client.post(f"{farm.subject_url}/edit", data=subject_form(name="Renamed", started_on=tomorrow(app)))

    assert response.status_code == 200
    assert "This date is in the future." in html(response)
    with app.app_context():
        assert db.session.get(Subject, farm.subject_id).name == "누렁이"


def test_the_owner_deletes_a_subject_and_its_page_is_gone(app, client, auth, farm):
    auth.login(OWNER_EMAIL)

    response = client.post(f"{farm.subject_url}/delete")

    assert response.status_code == 302
    assert redirect_target(response) == f"/producers/{farm.producer_slug}"
    assert client.get(farm.subject_url).status_code == 404
    with app.app_context():
        assert (count(Subject), count(Claim), count(StoryPost)) == (0, 0, 0)


def test_two_subjects_with_the_same_name_get_distinct_urls(client, auth, farm):
    auth.login(OWNER_EMAIL)

    first = client.post(f"/producers/{farm.producer_slug}/subjects/new", data=subject_form(name="송아지"))
    second = client.post(f"/producers/{farm.producer_slug}/subjects/new", data=subject_form(name="송아지"))

    assert redirect_target(first).endswith("/subjects/송아지/posts/new")
    assert redirect_target(second).endswith("/subjects/송아지-2/posts/new")


def test_the_same_subject_name_under_two_producers_keeps_the_plain_url_for_both(app, client, farm):
    with app.app_context():
        other = make_farm("other@example.com", farm_name="바다 농장", subject_name="누렁이")

    assert other.subject_slug == farm.subject_slug == "누렁이"
    assert "느릅골 한우농장" in html(client.get(farm.subject_url))
    assert "바다 농장" in html(client.get(other.subject_url))


# Who may change what

INTRUDERS = ["anonymous", "buyer", "another producer"]
ACTIONS = [
    ("GET", "/producers/{producer}/subjects/new", None),
    ("POST", "/producers/{producer}/subjects/new", lambda: subject_form(cover=jpeg())),
    ("GET", "{subject}/edit", None),
    ("POST", "{subject}/edit", lambda: subject_form(name="Hijacked", cover=jpeg())),
    ("POST", "{subject}/delete", dict),
    ("POST", "{subject}/claims", lambda: {"text": "organic", "certificate": jpeg()}),
    ("POST", "{subject}/claims/{claim}/delete", dict),
    ("GET", "{subject}/posts/new", None),
    ("POST", "{subject}/posts/new", lambda: post_form(new_photos=[jpeg()])),
    ("GET", "{post}/edit", None),
    ("POST", "{post}/edit", lambda: post_form(title="Hijacked", new_photos=[jpeg()])),
    ("POST", "{post}/delete", dict),
]


def everything() -> tuple:
    """What the stories tables hold, to check that a refused request changed nothing."""
    return (
        db.session.execute(select(Subject.id, Subject.name, Subject.slug, Subject.cover_photo_id)).all(),
        db.session.execute(select(Claim.id, Claim.text)).all(),
        db.session.execute(select(StoryPost.id, StoryPost.title, StoryPost.body, StoryPost.edited_at)).all(),
        count(StoryPhoto),
        count(Photo),
    )


@pytest.mark.parametrize("who", INTRUDERS)
@pytest.mark.parametrize(("method", "path", "data"), ACTIONS)
def test_nobody_but_the_owner_changes_subjects_claims_or_stories(app, client, auth, farm, who, method, path, data):
    with app.app_context():
        if who == "buyer":
            make_user("intruder@example.com")
        elif who == "another producer":
            make_producer(make_user("intruder@example.com"))
        before = everything()
    if who != "anonymous":
        auth.login("intruder@example.com")
    url = path.format(producer=farm.producer_slug, subject=farm.subject_url, claim=farm.claim_id, post=farm.post_url)

    response = client.open(url, method=method, data=data() if data else None)

    if who == "anonymous":
        assert response.status_code == 302
        assert redirect_target(response).startswith("/login?next=")
    else:
        assert response.status_code == 403
    with app.app_context():
        assert everything() == before
        assert media_files() == []


def test_the_owners_own_buttons_are_not_shown_to_others(client, auth, farm):
    auth.login(OWNER_EMAIL)
    owner_page = html(client.get(farm.subject_url))
    auth.logout()
    visitor_page = html(client.get(farm.subject_url))

    for page, shown in ((owner_page, True), (visitor_page, False)):
        assert (f'href="{farm.subject_url}/edit"' in unquote(page)) is shown
        assert (f'action="{farm.subject_url}/claims"' in unquote(page)) is shown
        assert (f'href="{farm.subject_url}/posts/new"' in unquote(page)) is shown


@pytest.mark.parametrize(
    "path",
    [
        "/producers/nobody/subjects/누렁이",
        "{subject}x",
        "{subject}x/label",
        "{subject}/posts/999999",
        "/producers/nobody/stories.atom",
        "/villages/nowhere/stories.atom",
    ],
)
def test_unknown_producers_subjects_and_stories_are_not_found(client, farm, path):
    assert client.get(path.format(subject=farm.subject_url)).status_code == 404


@pytest.mark.parametrize(
    ("method", "suffix", "data"),
    [
        ("GET", "/posts/{post}", None),
        ("GET", "/posts/{post}/edit", None),
        ("POST", "/posts/{post}/edit", post_form(title="Moved")),
        ("POST", "/posts/{post}/delete", None),
        ("POST", "/claims/{claim}/delete", None),
    ],
)
def test_a_story_or_claim_is_only_found_under_its_own_subject(app, client, auth, farm, method, suffix, data):
    with app.app_context():
        producer = db.session.get(Subject, farm.subject_id).producer
        calf = make_subject(producer, "송아지")
        calf_url = f"/producers/{farm.producer_slug}/subjects/{calf.slug}"
        before = everything()
    auth.login(OWNER_EMAIL)

    response = client.open(calf_url + suffix.format(post=farm.post_id, claim=farm.claim_id), method=method, data=data)

    assert response.status_code == 404
    with app.app_context():
        assert everything() == before


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_deleting_needs_the_forms_csrf_token(app, client, auth, farm):
    client.post("/login", data={"email": OWNER_EMAIL, "password": PASSWORD, "csrf_token": csrf_token(client, "/login")})

    refused = client.post(f"{farm.subject_url}/delete")
    with app.app_context():
        assert count(Subject) == 1
    deleted = client.post(
        f"{farm.subject_url}/delete", data={"csrf_token": csrf_token(client, f"{farm.subject_url}/edit")}
    )

    assert refused.status_code == 400
    assert deleted.status_code == 302
    with app.app_context():
        assert count(Subject) == 0


def csrf_token(client, path: str) -> str:
    """The first CSRF token on the page at `path`."""
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html(client.get(path))).group(1)


# Claims


def test_the_owner_adds_a_claim_with_a_certificate_photo(app, client, auth, farm):
    auth.login(OWNER_EMAIL)

    response = client.post(f"{farm.subject_url}/claims", data={"text": "no antibiotics", "certificate": jpeg()})

    assert response.status_code == 302
    page = html(client.get(farm.subject_url))
    assert '<span class="badge">no antibiotics</span>' in page
    certificate_url = re.search(r'<a href="(/media/[^"]+/large\.jpg)">certificate</a>', page).group(1)
    certificate = client.get(certificate_url)
    assert (certificate.status_code, certificate.mimetype) == (200, "image/jpeg")


def test_a_claim_without_a_certificate_is_just_a_badge(client, auth, farm):
    auth.login(OWNER_EMAIL)

    client.post(f"{farm.subject_url}/claims", data={"text": "no pesticides"})

    page = html(client.get(farm.subject_url))
    assert '<span class="badge">no pesticides</span>' in page
    assert ">certificate</a>" not in page


def test_an_empty_claim_is_refused_with_a_message(app, client, auth, farm):
    auth.login(OWNER_EMAIL)

    response = client.post(f"{farm.subject_url}/claims", data={"text": ""}, follow_redirects=True)

    assert "This field is required." in html(response)
    with app.app_context():
        assert count(Claim) == 1


def test_a_fake_certificate_is_refused_with_a_message(app, client, auth, farm):
    auth.login(OWNER_EMAIL)

    response = client.post(
        f"{farm.subject_url}/claims",
        data={"text": "organic", "certificate": (io.BytesIO(b"%PDF-1.4"), "cert.jpg")},
        follow_redirects=True,
    )

    assert "This file is not a photo we can read (JPEG, PNG, WebP or GIF)." in html(response)
    with app.app_context():
        assert (count(Claim), count(Photo)) == (1, 0)


def test_the_owner_removes_a_claim(app, client, auth, farm):
    auth.login(OWNER_EMAIL)

    response = client.post(f"{farm.subject_url}/claims/{farm.claim_id}/delete")

    assert response.status_code == 302
    assert '<span class="badge">grass-fed</span>' not in html(client.get(farm.subject_url))
    with app.app_context():
        assert count(Claim) == 0


# Stories


def test_the_owner_publishes_a_story_with_three_photos(app, client, auth, farm):
    auth.login(OWNER_EMAIL)

    response = client.post(
        f"{farm.subject_url}/posts/new",
        data=post_form(
            title="Out to pasture", body="First day **outside**.", new_photos=[jpeg(f"{n}.jpg") for n in "abc"]
        ),
    )

    assert response.status_code == 302
    with app.app_context():
        post = db.session.scalar(select(StoryPost).where(StoryPost.title == "Out to pasture"))
        keys = [item.photo.key for item in post.photos]
        post_url = f"{farm.subject_url}/posts/{post.id}"
        assert len(media_files()) == 3 * len(RENDITIONS)
    assert redirect_target(response) == post_url
    assert len(keys) == 3
    page = html(client.get(post_url))
    assert "First day <strong>outside</strong>." in page
    images = [t.attributes for t in page_tags(page).tags if t.name == "img"]
    assert [image["src"].split("/")[3] for image in images] == keys
    assert all(" 320w" in image["srcset"] and "/large.jpg" in image["srcset"] for image in images)
    assert ["loading" in image for image in images] == [False, True, True]  # the first photo is seen at once


def test_an_empty_photo_input_publishes_a_story_without_photos(app, client, auth, farm):
    auth.login(OWNER_EMAIL)

    response = client.post(
        f"{farm.subject_url}/posts/new", data=post_form(title="No photos today", new_photos=(io.BytesIO(b""), ""))
    )

    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(StoryPost).where(StoryPost.title == "No photos today")).photos == []
        assert count(Photo) == 0


def test_the_new_story_form_is_dated_today(app, client, auth, farm):
    auth.login(OWNER_EMAIL)
    with app.app_context():
        today = services.today(utcnow()).isoformat()

    page = html(client.get(f"{farm.subject_url}/posts/new"))

    assert f'value="{today}"' in page


def test_the_timeline_shows_stories_newest_first(app, client, farm):
    with app.app_context():
        subject = db.session.get(Subject, farm.subject_id)
        make_post(subject, "June", happened_on=date(2025, 6, 1))
        make_post(subject, "May, written later", happened_on=date(2025, 5, 1))
        make_post(subject, "April", happened_on=date(2025, 4, 1))

    page = html(client.get(farm.subject_url))

    assert story_titles(page) == ["June", "May, written later", "First grass", "April"]


def test_twenty_five_stories_make_three_pages(app, client, farm):
    with app.app_context():
        subject = db.session.get(Subject, farm.subject_id)
        for day in range(1, 25):
            make_post(subject, f"Day {day}", happened_on=date(2025, 4, day))

    first, third, beyond = (html(client.get(f"{farm.subject_url}?page={n}")) for n in (1, 3, 99))

    assert "Page 1 of 3" in first
    assert len(story_titles(first)) == 10
    assert story_titles(first)[0] == "First grass"
    assert 'rel="next" href="' in first
    assert 'rel="prev"' not in first
    assert "Page 3 of 3" in third
    assert story_titles(third) == ["Day 5", "Day 4", "Day 3", "Day 2", "Day 1"]
    assert 'rel="next"' not in third
    assert "Page 3 of 3" in beyond
    assert story_titles(beyond) == story_titles(third)
    assert "Page 1 of 3" in html(client.get(f"{farm.subject_url}?page=abc"))


def test_editing_a_story_says_so_on_its_page_and_on_the_timeline(app, client, auth, farm):
    auth.login(OWNER_EMAIL)
    assert 'class="edited"' not in html(client.get(farm.post_url))

    response = client.post(f"{farm.post_url}/edit", data=post_form(title="First grass", body="She ate very well."))

    assert response.status_code == 302
    page = html(client.get(farm.post_url))
    assert "She ate very well." in page
    assert re.search(r'<span class="edited">edited [^<]+</span>', page)
    assert '<span class="edited">edited</span>' in html(client.get(farm.subject_url))


def test_the_edit_form_shows_the_story_as_it_is(client, auth, farm):
    auth.login(OWNER_EMAIL)

    page = html(client.get(f"{farm.post_url}/edit"))

    assert 'value="2025-05-01"' in page
    assert 'value="First grass"' in page
    assert "She ate **well** today.</textarea>" in page


def test_the_owner_deletes_a_story_with_its_photo_files(app, client, auth, farm):
    auth.login(OWNER_EMAIL)
    client.post(f"{farm.subject_url}/posts/new", data=post_form(title="Doomed", new_photos=[jpeg(), jpeg()]))
    with app.app_context():
        post_id = db.session.scalar(select(StoryPost.id).where(StoryPost.title == "Doomed"))
        assert len(media_files()) == 2 * len(RENDITIONS)

    response = client.post(f"{farm.subject_url}/posts/{post_id}/delete")

    assert response.status_code == 302
    assert redirect_target(response) == farm.subject_url
    assert client.get(f"{farm.subject_url}/posts/{post_id}").status_code == 404
    with app.app_context():
        assert db.session.scalars(select(StoryPost.id)).all() == [farm.post_id]
        assert (count(StoryPhoto), count(Photo)) == (0, 0)
        assert media_files() == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"happened_on": "tomorrow"}, "This date is in the future."),
        ({"title": "", "body": "  "}, "Write something for this story."),
        ({"new_photos": [jpeg(f"{n}.jpg") for n in range(9)]}, "Add at most 8 photos at a time."),
        (
            {"new_photos": [jpeg(), (io.BytesIO(b"GIF89a not really"), "fake.gif"), jpeg()]},
            "This file is not a photo we can read (JPEG, PNG, WebP or GIF).",
        ),
    ],
    ids=["future date", "empty", "nine photos", "a fake photo"],
)
def test_a_refused_story_shows_why_and_saves_nothing(app, client, auth, farm, fields, message):
    auth.login(OWNER_EMAIL)
    if fields.get("happened_on") == "tomorrow":
        fields = fields | {"happened_on": tomorrow(app)}

    response = client.post(f"{farm.subject_url}/posts/new", data=post_form(**fields))

    assert response.status_code == 200
    assert message in html(response)
    with app.app_context():
        assert (count(StoryPost), count(StoryPhoto), count(Photo)) == (1, 0, 0)


# Feeds


@pytest.fixture
def three_farms(app, farm):
    """`farm` and two more farms in other villages, each with one story of its own."""
    with app.app_context():
        sea = make_farm("sea@example.com", farm_name="바다 농장", subject_name="Haenam-ho")
        hill = make_farm("hill@example.com", farm_name="언덕 농장", subject_name="Apple orchard")
        for other, title in ((sea, "Big catch"), (hill, "Blossom")):
            db.session.get(StoryPost, other.post_id).title = title
        db.session.commit()
    return farm, sea, hill


def feed_entries(response) -> list[ET.Element]:
    """The entries of an Atom feed response (which must parse as XML)."""
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    root = ET.fromstring(response.data)  # noqa: S314 (our own feed, the thing under test)
    assert root.tag == f"{ATOM}feed"
    return root.findall(f"{ATOM}entry")


def entry_titles(response) -> set[str]:
    """The titles of an Atom feed's entries."""
    return {entry.findtext(f"{ATOM}title") for entry in feed_entries(response)}


def test_the_site_feed_has_every_farms_stories(client, three_farms):
    assert entry_titles(client.get("/stories.atom")) == {"First grass", "Big catch", "Blossom"}


def test_a_producer_feed_has_only_that_producers_stories(client, three_farms):
    farm, sea, _hill = three_farms

    assert entry_titles(client.get(f"/producers/{sea.producer_slug}/stories.atom")) == {"Big catch"}
    assert entry_titles(client.get(f"/producers/{farm.producer_slug}/stories.atom")) == {"First grass"}


def test_a_village_feed_has_only_that_villages_stories(client, three_farms):
    _farm, _sea, hill = three_farms

    assert entry_titles(client.get(f"/villages/{hill.village_slug}/stories.atom")) == {"Blossom"}


def test_a_feed_entry_carries_the_story_as_escaped_html_with_its_photos(app, client, farm):
    with app.app_context():
        subject = db.session.get(Subject, farm.subject_id)
        make_post(subject, "Tom & Jerry <3", body="Ate <script>x</script>**well**.", photos=2)

    response = client.get(f"/producers/{farm.producer_slug}/stories.atom")

    raw = response.get_data(as_text=True)
    assert "Ate &lt;strong&gt;well&lt;/strong&gt;." in raw
    assert "<script" not in raw
    entry = feed_entries(response)[0]
    assert entry.findtext(f"{ATOM}title") == "Tom & Jerry <3"
    content = entry.find(f"{ATOM}content")
    assert content.get("type") == "html"
    assert content.text.startswith("<p>Ate <strong>well</strong>.</p>")
    assert content.text.count('<img src="http://farmstore.test/media/') == 2


def test_a_control_character_pasted_into_a_story_does_not_break_the_feed(app, client, farm):
    with app.app_context():
        post = db.session.get(StoryPost, farm.post_id)
        post.title, post.body = "First\x01 grass", "Ate\x0b well\x1f."
        db.session.commit()

    entry = feed_entries(client.get("/stories.atom"))[0]

    assert entry.findtext(f"{ATOM}title") == "First grass"
    assert entry.findtext(f"{ATOM}content") == "<p>Ate well.</p>"


def test_feed_links_are_on_base_url_whatever_host_the_request_names(client, farm):
    response = client.get(f"/producers/{farm.producer_slug}/stories.atom", headers={"Host": "evil.example"})

    raw = response.get_data(as_text=True)
    assert "evil.example" not in raw
    entry = feed_entries(response)[0]
    assert unquote(entry.findtext(f"{ATOM}id")) == f"http://farmstore.test{farm.post_url}"


@pytest.mark.parametrize("where", ["subject", "post", "producer", "village", "home"])
def test_pages_link_to_their_feed(client, farm, where):
    path, feed = {
        "subject": (farm.subject_url, f"/producers/{farm.producer_slug}/stories.atom"),
        "post": (farm.post_url, f"/producers/{farm.producer_slug}/stories.atom"),
        "producer": (f"/producers/{farm.producer_slug}", f"/producers/{farm.producer_slug}/stories.atom"),
        "village": (f"/villages/{farm.village_slug}", f"/villages/{farm.village_slug}/stories.atom"),
        "home": ("/", "/stories.atom"),
    }[where]

    links = page_tags(html(client.get(path))).links("alternate")

    assert [(link["type"], unquote(link["href"])) for link in links] == [("application/atom+xml", feed)]
    assert entry_titles(client.get(links[0]["href"])) == {"First grass"}


# QR label


def test_the_qr_label_points_at_base_url_whatever_host_the_request_names(client, farm):
    response = client.get(f"{farm.subject_url}/label", headers={"Host": "evil.example"})

    page = html(response)
    printed = re.search(r'<p class="muted small">([^<]+)</p>', page).group(1)
    assert response.status_code == 200
    assert unquote(printed) == f"http://farmstore.test{farm.subject_url}"
    assert "<svg" in page
    assert str(qr_svg(printed)) in page  # the code encodes exactly the printed URL
    assert "evil.example" not in page
    assert "Scan to meet 누렁이" in page


# Link previews


def assert_share_image_url(url: str, key: str) -> None:
    """`url` is the absolute URL of the 800×400 share rendition of the photo with `key`."""
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https")
    assert parts.netloc
    assert parts.path == f"/media/{key[:2]}/{key}/share.jpg"


def test_a_subject_page_has_link_preview_metadata(app, client, farm):
    with app.app_context():
        subject = db.session.get(Subject, farm.subject_id)
        subject.cover_photo = make_photo(width=2400, height=1600, alt="누렁이 in the sun")
        subject.description = "A **gentle** cow who loves clover."
        db.session.commit()
        key = subject.cover_photo.key

    meta = page_tags(html(client.get(farm.subject_url))).meta()

    assert meta["og:title"] == "누렁이 · 느릅골 한우농장"
    assert meta["og:description"] == "A gentle cow who loves clover."
    assert_share_image_url(meta["og:image"], key)
    assert (meta["og:image:width"], meta["og:image:height"]) == ("800", "400")
    assert meta["twitter:card"] == "summary_large_image"
    assert meta["twitter:image"] == meta["og:image"]


def test_a_story_page_has_link_preview_metadata_with_its_first_photo(app, client, farm):
    with app.app_context():
        post = make_post(db.session.get(Subject, farm.subject_id), "Calved!", body="A *healthy* calf.", photos=2)
        key = post.photos[0].photo.key
        url = f"{farm.subject_url}/posts/{post.id}"

    meta = page_tags(html(client.get(url))).meta()

    assert meta["og:title"] == "Calved!"
    assert meta["og:description"] == "A healthy calf."
    assert_share_image_url(meta["og:image"], key)
    assert meta["twitter:card"] == "summary_large_image"


def test_a_story_without_photos_previews_with_the_subjects_cover(app, client, farm):
    with app.app_context():
        subject = db.session.get(Subject, farm.subject_id)
        subject.cover_photo = make_photo()
        db.session.commit()
        key = subject.cover_photo.key

    meta = page_tags(html(client.get(farm.post_url))).meta()

    assert_share_image_url(meta["og:image"], key)
    assert meta["og:description"] == "She ate well today."


def test_without_any_photo_the_preview_is_a_plain_summary(client, farm):
    meta = page_tags(html(client.get(farm.post_url))).meta()

    assert meta["og:image"].endswith("/static/img/share.png")  # the site's own card
    assert meta["twitter:card"] == "summary"


@pytest.mark.parametrize(("language", "locale"), [("ko", "ko_KR"), ("en", "en_US")])
def test_link_previews_name_the_readers_language(client, farm, language, locale):
    for path in (farm.subject_url, farm.post_url):
        meta = page_tags(html(client.get(path, headers={"Accept-Language": language}))).meta()

        assert meta["og:locale"] == locale
