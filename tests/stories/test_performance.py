"""Subject and story pages stay cheap however long a timeline grows: the number of SQL statements
does not grow with the data, and a story page's HTML with its CSS and scripts stays under 100 KB."""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from datetime import date, timedelta
from urllib.parse import urljoin

import pytest
from sqlalchemy import event

from farmstore.catalog.models import Product, ProductPhoto
from farmstore.extensions import db
from farmstore.media.models import Photo
from farmstore.stories.forms import PostForm
from farmstore.stories.models import StoryPhoto, StoryPost
from tests.factories import make_producer, make_user
from tests.stories.conftest import NOW, OWNER_EMAIL, make_claim, make_photo, make_subject, page_tags

PAGE_BUDGET = 100 * 1024
SMALL = {"posts": 5, "photos": 2, "claims": 1, "products": 1}
LARGE = {"posts": 500, "photos": 50, "claims": 6, "products": 4}


def photo_row() -> Photo:
    """A photo row, not yet added, with no files behind it."""
    return Photo(key=secrets.token_hex(16), width=1600, height=1200, alt="사진")


def fill_timeline(owner_email: str, *, posts: int, photos: int, claims: int, products: int) -> tuple[str, int]:
    """A producer's subject with `posts` stories (the newest carry `photos` photos, two to a story),
    `claims` claims with certificates and `products` products with a photo each. Rows are inserted
    directly; no photo files exist. Returns the subject's URL and its newest story's id."""
    producer = make_producer(make_user(owner_email))
    subject = make_subject(producer, "누렁이", cover_photo=make_photo(), description="A **gentle** cow.")
    for n in range(claims):
        make_claim(subject, f"claim {n}", certificate=make_photo())
    stories = []
    for n in range(posts):
        happened_on = date(2025, 5, 31) - timedelta(days=n // 3)
        body = f"Day {n}: she ate **well**."
        stories.append(
            StoryPost(subject=subject, happened_on=happened_on, title=f"Story {n}", body=body, created_at=NOW)
        )
    for n in range(photos):
        stories[n // 2].photos.append(StoryPhoto(photo=photo_row(), position=n % 2))
    for n in range(products):
        product = Product(
            producer=producer, slug=f"box-{n}", name=f"Box {n}", unit="box", category="meat", subjects=[subject]
        )
        product.photos = [ProductPhoto(photo=photo_row(), position=0)]
        db.session.add(product)
    db.session.add_all(stories)
    db.session.commit()
    return f"/producers/{producer.slug}/subjects/{subject.slug}", stories[0].id


@contextmanager
def sql_statements(app):
    """Collects the SQL statements the app's engine runs inside the block."""
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def statements_for(app, client, auth, path: str, owner_email: str) -> tuple[int, int]:
    """How many SQL statements GET `path` runs for a visitor, and for the signed-in owner."""
    counts = []
    for signed_in in (False, True):
        if signed_in:
            auth.login(owner_email)
        with sql_statements(app) as statements:
            response = client.get(path)
        assert response.status_code == 200
        counts.append(len(statements))
    auth.logout()
    return counts[0], counts[1]


@pytest.mark.parametrize(
    ("page", "path_of"),
    [
        ("subject timeline", lambda subject_url, _post_id: subject_url),
        ("story", lambda subject_url, post_id: f"{subject_url}/posts/{post_id}"),
    ],
)
def test_the_number_of_sql_statements_does_not_grow_with_the_timeline(app, client, auth, page, path_of):
    with app.app_context():
        small_path = path_of(*fill_timeline("small@example.com", **SMALL))
        large_path = path_of(*fill_timeline("large@example.com", **LARGE))
    client.get(small_path)  # warm up: the app's first request loads templates and translations

    small = statements_for(app, client, auth, small_path, "small@example.com")
    large = statements_for(app, client, auth, large_path, "large@example.com")

    print(f"\n{page}: {small} SQL statements (visitor, owner) with 5 stories, {large} with 500 stories and 50 photos")
    assert small == large


PARAGRAPH = "새벽에 누렁이가 송아지를 낳았습니다. **어미도 새끼도 건강합니다.** 첫 젖을 잘 먹였어요.\n\n"
BODY_LIMIT = PostForm.body.kwargs["validators"][0].max  # the form's Length(max=...)
LONGEST_BODY = (PARAGRAPH * 1000)[:BODY_LIMIT]


@pytest.mark.parametrize(
    ("story", "title", "body"),
    [
        ("a long day's story", "누렁이가 송아지를 낳았어요", PARAGRAPH * 40),
        ("the longest story the form accepts", "가" * 120, LONGEST_BODY),
    ],
)
def test_a_story_page_with_eight_photos_its_css_and_scripts_is_under_100_kb(app, client, story, title, body):
    with app.app_context():
        producer = make_producer(make_user(OWNER_EMAIL), farm_name="느릅골 한우농장")
        subject = make_subject(producer, "누렁이", cover_photo=make_photo())
        post = StoryPost(subject=subject, happened_on=date(2025, 5, 31), title=title, body=body, created_at=NOW)
        post.photos = [StoryPhoto(photo=photo_row(), position=n) for n in range(8)]
        db.session.add(post)
        db.session.commit()
        path = f"/producers/{producer.slug}/subjects/{subject.slug}/posts/{post.id}"

    page = client.get(path)
    tags = page_tags(page.get_data(as_text=True)).tags
    assets = [t.attributes["href"] for t in tags if t.name == "link" and t.attributes.get("rel") == "stylesheet"]
    assets += [t.attributes["src"] for t in tags if t.name == "script" and "src" in t.attributes]
    sizes = {asset: len(client.get(urljoin(path, asset)).data) for asset in assets}

    total = len(page.data) + sum(sizes.values())
    print(f"\n{story}: {total / 1024:.1f} KB (HTML {len(page.data) / 1024:.1f} KB, CSS and scripts {sizes})")
    assert sizes
    assert all(sizes.values())
    assert total < PAGE_BUDGET
