"""Story rules: a producer manages their own subjects, claims and dated stories; nobody else can;
dates in the future are refused; timelines are newest first, a page at a time."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from farmstore.catalog.models import Product
from farmstore.errors import DomainError, NotAllowed, NotFound
from farmstore.extensions import db
from farmstore.media.models import RENDITIONS, SIZES, Photo
from farmstore.media.storage import get_storage
from farmstore.stories import services
from farmstore.stories.models import Claim, StoryPhoto, StoryPost, Subject
from tests.factories import image_bytes, make_producer, make_user, make_village
from tests.stories.conftest import NOW, TODAY, count, english, make_claim, make_post, make_subject, media_files, upload

pytestmark = pytest.mark.usefixtures("ctx")


def create(producer, by=None, **fields) -> Subject:
    """create_subject by the owner with a valid subject for every field not given."""
    values = {
        "kind": "animal", "name": "누렁이", "started_on": None, "breed": "", "location": "", "description": "",
        "now": NOW,
    } | fields  # fmt: skip
    return services.create_subject(producer=producer, by=by or producer.user, **values)


def update(subject, by=None, **fields) -> Subject:
    """update_subject by the owner keeping every field not given."""
    values = {
        "kind": subject.kind, "name": subject.name, "started_on": subject.started_on, "breed": subject.breed,
        "location": subject.location, "description": subject.description, "now": NOW,
    } | fields  # fmt: skip
    return services.update_subject(subject, by=by or subject.producer.user, **values)


def write(subject, by=None, **fields) -> StoryPost:
    """write_post by the owner: a short story dated TODAY, with `fields` changed."""
    values = {"happened_on": TODAY, "title": "", "body": "풀을 잘 먹었어요.", "now": NOW} | fields
    return services.write_post(subject, by=by or subject.producer.user, **values)


def edit(post, by=None, **fields) -> StoryPost:
    """edit_post by the owner keeping every field not given."""
    values = {"happened_on": post.happened_on, "title": post.title, "body": post.body, "now": NOW} | fields
    return services.edit_post(post, by=by or post.subject.producer.user, **values)


def stored_files(photo: Photo) -> list[bytes | None]:
    """The stored renditions of `photo` (None where a file is missing)."""
    storage = get_storage()
    return [storage.get(photo.path(name)) for name in SIZES]


def coloured_jpeg(colour: tuple[int, int, int]) -> bytes:
    """A JPEG of one colour."""
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "JPEG")
    return out.getvalue()


def colour_of(photo: Photo) -> tuple[int, int, int]:
    """The colour of a stored one-colour photo, each channel rounded to 200 or 30."""
    pixel = Image.open(io.BytesIO(get_storage().get(photo.path("thumb")))).getpixel((10, 10))
    return tuple(200 if value > 115 else 30 for value in pixel)


# Subjects


def test_a_producer_adds_a_subject_with_everything_it_shows():
    producer = make_producer(farm_name="느릅골 한우농장")

    subject = create(
        producer,
        kind="herd",
        name=" 송아지들 ",
        started_on=date(2024, 3, 2),
        breed=" 한우 ",
        location=" north slope pasture ",
        description=" Six calves. ",
        cover=upload(),
    )

    subject = db.session.get(Subject, subject.id)
    assert (subject.kind, subject.name, subject.slug) == ("herd", "송아지들", "송아지들")
    assert (subject.breed, subject.location, subject.description) == ("한우", "north slope pasture", "Six calves.")
    assert subject.started_on == date(2024, 3, 2)
    assert subject.producer_id == producer.id
    assert subject.created_at == NOW
    assert all(stored_files(subject.cover_photo))


def test_a_subject_born_in_the_future_is_refused():
    producer = make_producer()

    with pytest.raises(DomainError) as refused:
        create(producer, started_on=TODAY + timedelta(days=1))

    assert refused.value.field == "started_on"
    assert english(refused.value) == "This date is in the future."
    assert count(Subject) == 0


def test_born_today_in_seoul_is_not_the_future_even_when_it_is_still_yesterday_in_utc():
    producer = make_producer()
    evening_utc = datetime(2025, 5, 31, 20, 0, tzinfo=UTC)  # already 1 June, 5 a.m., in Seoul

    subject = create(producer, started_on=date(2025, 6, 1), now=evening_utc)

    assert subject.started_on == date(2025, 6, 1)


def test_editing_a_subject_to_a_future_planting_date_is_refused_and_changes_nothing():
    subject = make_subject(make_producer(), "north field", kind="field", started_on=date(2025, 4, 1))

    with pytest.raises(DomainError) as refused:
        update(subject, name="south field", started_on=TODAY + timedelta(days=30))

    assert refused.value.field == "started_on"
    db.session.rollback()
    assert (subject.name, subject.started_on) == ("north field", date(2025, 4, 1))


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "   "}, "name", "Give it a name, like Nureongi or the north field."),
        ({"kind": "spaceship"}, "kind", "Choose what kind of subject this is."),
    ],
)
def test_a_subject_needs_a_name_and_a_known_kind(fields, field, message):
    with pytest.raises(DomainError) as refused:
        create(make_producer(), **fields)

    assert (refused.value.field, english(refused.value)) == (field, message)
    assert count(Subject) == 0


def test_two_subjects_with_the_same_name_get_distinct_slugs():
    producer = make_producer()

    first, second, third = (create(producer, name="누렁이") for _ in range(3))

    assert [first.slug, second.slug, third.slug] == ["누렁이", "누렁이-2", "누렁이-3"]


def test_the_same_name_under_two_producers_keeps_the_plain_slug_for_both():
    first = create(make_producer(), name="Nureongi")
    second = create(make_producer(), name="Nureongi")

    assert (first.slug, second.slug) == ("nureongi", "nureongi")


def test_a_subject_named_like_one_of_our_url_words_gets_a_slug_that_does_not_clash():
    subject = create(make_producer(), name="New")

    assert subject.slug == "new-1"  # /subjects/new is the form for adding a subject


def test_renaming_a_subject_keeps_its_url():
    subject = make_subject(make_producer(), "누렁이")

    update(subject, name="황소 누렁이", breed="한우")

    subject = db.session.get(Subject, subject.id)
    assert (subject.name, subject.slug, subject.breed) == ("황소 누렁이", "누렁이", "한우")


def test_deleting_a_subject_removes_its_claims_stories_and_every_photo_file():
    subject = create(make_producer(), cover=upload())
    services.add_claim(subject, by=subject.producer.user, text="grass-fed", certificate=upload())
    post = write(subject, photos=[upload(), upload()])
    photo_ids = [subject.cover_photo_id, subject.claims[0].certificate_photo_id, *(p.photo_id for p in post.photos)]
    assert len(media_files()) == 4 * len(RENDITIONS)

    services.delete_subject(subject, by=subject.producer.user)

    assert (count(Subject), count(Claim), count(StoryPost), count(StoryPhoto)) == (0, 0, 0, 0)
    assert db.session.scalars(select(Photo.id).where(Photo.id.in_(photo_ids))).all() == []
    assert media_files() == []


def test_deleting_a_subject_keeps_the_products_that_came_from_it():
    subject = make_subject(make_producer())
    product = Product(
        producer=subject.producer, slug="box", name="Box", unit="box", category="meat", subjects=[subject]
    )
    db.session.add(product)
    db.session.commit()

    services.delete_subject(subject, by=subject.producer.user)

    db.session.expire_all()
    assert db.session.get(Product, product.id).subjects == []


# Who may change what


@pytest.fixture
def intruders():
    """Accounts that must not change another producer's subjects: a producer and a plain buyer."""
    return [make_producer().user, make_user()]


def test_nobody_but_the_owner_adds_a_subject(intruders):
    producer = make_producer()

    for intruder in intruders:
        with pytest.raises(NotAllowed):
            create(producer, by=intruder)

    assert count(Subject) == 0


def test_nobody_but_the_owner_edits_or_deletes_a_subject(intruders):
    subject = make_subject(make_producer(), "누렁이")

    for intruder in intruders:
        with pytest.raises(NotAllowed):
            update(subject, by=intruder, name="Hijacked")
        with pytest.raises(NotAllowed):
            services.delete_subject(subject, by=intruder)

    db.session.expire_all()
    assert db.session.get(Subject, subject.id).name == "누렁이"


def test_nobody_but_the_owner_adds_or_removes_claims(intruders):
    subject = make_subject(make_producer())
    claim = make_claim(subject, "grass-fed")

    for intruder in intruders:
        with pytest.raises(NotAllowed):
            services.add_claim(subject, by=intruder, text="organic")
        with pytest.raises(NotAllowed):
            services.remove_claim(claim, by=intruder)

    db.session.expire_all()
    assert db.session.scalars(select(Claim.text)).all() == ["grass-fed"]


def test_nobody_but_the_owner_writes_edits_or_deletes_stories(intruders):
    subject = make_subject(make_producer())
    post = make_post(subject, "First grass")

    for intruder in intruders:
        with pytest.raises(NotAllowed):
            write(subject, by=intruder, title="Fake")
        with pytest.raises(NotAllowed):
            edit(post, by=intruder, title="Hijacked")
        with pytest.raises(NotAllowed):
            services.delete_post(post, by=intruder)

    db.session.expire_all()
    assert db.session.scalars(select(StoryPost.title)).all() == ["First grass"]
    assert db.session.get(StoryPost, post.id).edited_at is None


# Claims


def test_a_claim_with_a_certificate_photo():
    subject = make_subject(make_producer())

    claim = services.add_claim(subject, by=subject.producer.user, text=" grass-fed ", certificate=upload())

    claim = db.session.get(Claim, claim.id)
    assert (claim.text, claim.subject_id) == ("grass-fed", subject.id)
    assert claim.certificate_photo.alt == "grass-fed"
    assert all(stored_files(claim.certificate_photo))


def test_a_claim_without_a_certificate():
    subject = make_subject(make_producer())

    claim = services.add_claim(subject, by=subject.producer.user, text="no pesticides")

    assert db.session.get(Claim, claim.id).certificate_photo is None
    assert media_files() == []


def test_an_empty_claim_is_refused():
    subject = make_subject(make_producer())

    with pytest.raises(DomainError) as refused:
        services.add_claim(subject, by=subject.producer.user, text="  ")

    assert refused.value.field == "text"
    assert count(Claim) == 0


def test_a_fake_certificate_refuses_the_claim():
    subject = make_subject(make_producer())

    with pytest.raises(DomainError) as refused:
        services.add_claim(
            subject, by=subject.producer.user, text="organic", certificate=upload(b"%PDF-1.4 not a photo")
        )

    assert refused.value.field == "certificate"
    db.session.rollback()
    assert (count(Claim), count(Photo)) == (0, 0)


def test_removing_a_claim_removes_its_certificate_too():
    subject = make_subject(make_producer())
    kept = services.add_claim(subject, by=subject.producer.user, text="grass-fed")
    claim = services.add_claim(subject, by=subject.producer.user, text="organic", certificate=upload())
    certificate_id = claim.certificate_photo_id

    services.remove_claim(claim, by=subject.producer.user)

    assert db.session.scalars(select(Claim.id)).all() == [kept.id]
    assert db.session.get(Photo, certificate_id) is None
    assert media_files() == []


# Stories


def test_a_story_with_three_photos_keeps_them_in_the_order_given():
    subject = make_subject(make_producer())
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    uploads = [upload(coloured_jpeg(colour)) for colour in colours]

    post = write(subject, title="Spring", body="Out on the grass.", photos=uploads)

    post = db.session.get(StoryPost, post.id)
    assert (post.title, post.body, post.happened_on, post.created_at) == ("Spring", "Out on the grass.", TODAY, NOW)
    assert [item.position for item in post.photos] == [0, 1, 2]
    assert [colour_of(item.photo) for item in post.photos] == colours
    assert len(media_files()) == 3 * len(RENDITIONS)


def test_a_story_without_a_date_is_dated_today_in_seoul():
    subject = make_subject(make_producer())
    evening_utc = datetime(2025, 5, 31, 20, 0, tzinfo=UTC)  # already 1 June in Seoul

    post = write(subject, happened_on=None, now=evening_utc)

    assert post.happened_on == date(2025, 6, 1)


def test_a_story_dated_in_the_future_is_refused():
    subject = make_subject(make_producer())

    with pytest.raises(DomainError) as refused:
        write(subject, happened_on=TODAY + timedelta(days=1), photos=[upload()])

    assert refused.value.field == "happened_on"
    assert english(refused.value) == "This date is in the future."
    db.session.rollback()
    assert (count(StoryPost), count(Photo)) == (0, 0)
    assert media_files() == []  # the date is checked before any photo is stored


@pytest.mark.parametrize(("title", "body"), [("", ""), ("  ", "\n\n  ")])
def test_an_empty_story_is_refused(title, body):
    subject = make_subject(make_producer())

    with pytest.raises(DomainError) as refused:
        write(subject, title=title, body=body)

    assert refused.value.field == "body"
    assert english(refused.value) == "Write something for this story."
    assert count(StoryPost) == 0


def test_a_story_may_be_only_a_title():
    subject = make_subject(make_producer())

    post = write(subject, title="Calved!", body="")

    assert (post.title, post.body) == ("Calved!", "")


def test_more_than_eight_photos_are_refused():
    subject = make_subject(make_producer())

    with pytest.raises(DomainError) as refused:
        write(subject, photos=[upload() for _ in range(9)])

    assert refused.value.field == "photos"
    assert english(refused.value) == "Add at most 8 photos at a time."
    db.session.rollback()
    assert (count(StoryPost), count(Photo)) == (0, 0)


def test_eight_photos_are_fine():
    subject = make_subject(make_producer())

    post = write(subject, photos=[upload(image_bytes(size=(64, 48))) for _ in range(8)])

    assert len(post.photos) == 8


def test_a_fake_image_among_the_photos_refuses_the_whole_story():
    subject = make_subject(make_producer())
    photos = [upload(), upload(b"<html>not a photo</html>", "cat.jpg"), upload()]

    with pytest.raises(DomainError) as refused:
        write(subject, photos=photos)

    assert refused.value.field == "photos"
    assert english(refused.value) == "This file is not a photo we can read (JPEG, PNG, WebP or GIF)."
    db.session.rollback()
    assert (count(StoryPost), count(StoryPhoto), count(Photo)) == (0, 0, 0)


def test_editing_a_story_marks_it_edited():
    post = make_post(make_subject(make_producer()), "First grass", body="Ate well.")
    later = NOW + timedelta(hours=2)

    edit(post, body="Ate very well.", now=later)

    post = db.session.get(StoryPost, post.id)
    assert (post.body, post.created_at, post.edited_at) == ("Ate very well.", NOW, later)


def test_saving_a_story_unchanged_does_not_mark_it_edited():
    post = make_post(make_subject(make_producer()), "First grass", body="Ate well.")

    edit(post, title=" First grass ", body="Ate well.\n")

    assert db.session.get(StoryPost, post.id).edited_at is None


def test_photos_added_while_editing_come_after_the_existing_ones_up_to_eight_in_all():
    post = write(make_subject(make_producer()), photos=[upload(), upload()])
    first_ids = [item.photo_id for item in post.photos]

    edit(post, photos=[upload()])

    assert [item.position for item in post.photos] == [0, 1, 2]
    assert [item.photo_id for item in post.photos][:2] == first_ids
    with pytest.raises(DomainError) as refused:
        edit(post, photos=[upload() for _ in range(6)])
    assert refused.value.field == "photos"
    db.session.rollback()
    assert len(db.session.get(StoryPost, post.id).photos) == 3


def test_editing_a_story_to_a_future_date_is_refused():
    post = make_post(make_subject(make_producer()), happened_on=date(2025, 5, 1))

    with pytest.raises(DomainError) as refused:
        edit(post, happened_on=TODAY + timedelta(days=1))

    assert refused.value.field == "happened_on"
    db.session.rollback()
    assert db.session.get(StoryPost, post.id).happened_on == date(2025, 5, 1)


def test_deleting_a_story_removes_its_rows_and_photo_files():
    subject = make_subject(make_producer())
    kept = write(subject, title="Kept", photos=[upload()])
    post = write(subject, title="Gone", photos=[upload(), upload()])
    photo_ids = [item.photo_id for item in post.photos]

    services.delete_post(post, by=subject.producer.user)

    assert db.session.scalars(select(StoryPost.title)).all() == ["Kept"]
    assert db.session.scalars(select(Photo.id).where(Photo.id.in_(photo_ids))).all() == []
    assert count(StoryPhoto) == 1
    assert media_files() == sorted(get_storage().root / kept.photos[0].photo.path(name) for name in RENDITIONS)


# Reading


def test_the_timeline_is_newest_first_by_date_then_by_order_of_writing():
    subject = make_subject(make_producer())
    make_post(subject, "May, written first", happened_on=date(2025, 5, 1))
    make_post(subject, "June", happened_on=date(2025, 6, 1))
    make_post(subject, "May, written second", happened_on=date(2025, 5, 1))
    make_post(subject, "April, written last", happened_on=date(2025, 4, 1))
    make_post(make_subject(make_producer(), "다른 소"), "Another subject's story")

    page = services.timeline(subject)

    assert [post.title for post in page.items] == [
        "June",
        "May, written second",
        "May, written first",
        "April, written last",
    ]


@pytest.mark.parametrize(
    ("asked", "shown", "titles"), [(1, 1, (25, 16)), (3, 3, (5, 1)), (99, 3, (5, 1)), (0, 1, (25, 16))]
)
def test_twenty_five_stories_make_three_pages_and_a_page_past_the_end_shows_the_last(asked, shown, titles):
    subject = make_subject(make_producer())
    for day in range(1, 26):
        make_post(subject, f"Day {day}", happened_on=date(2025, 5, day))

    page = services.timeline(subject, page=asked)

    assert (page.number, page.pages, page.total) == (shown, 3, 25)
    assert (page.items[0].title, page.items[-1].title) == tuple(f"Day {n}" for n in titles)
    assert (page.has_prev, page.has_next) == (shown > 1, shown < 3)


def test_recent_posts_of_some_subjects_producers_or_one_village():
    village = make_village("들꽃마을")
    near = make_producer(village=village)
    far = make_producer(village=make_village("바다마을"))
    cow, field = make_subject(near, "누렁이"), make_subject(near, "north field", kind="field")
    boat = make_subject(far, "Haenam-ho", kind="boat")
    make_post(cow, "cow", happened_on=date(2025, 5, 3))
    make_post(field, "field", happened_on=date(2025, 5, 2))
    make_post(boat, "boat", happened_on=date(2025, 5, 1))

    def titles(**filters) -> list[str]:
        return [post.title for post in services.recent_posts(**filters)]

    assert titles() == ["cow", "field", "boat"]
    assert titles(limit=2) == ["cow", "field"]
    assert titles(subject_ids=[field.id, boat.id]) == ["field", "boat"]
    assert titles(producer_ids=[far.id]) == ["boat"]
    assert titles(village_id=village.id) == ["cow", "field"]
    assert titles(subject_ids=[]) == []


def test_a_subject_is_found_by_its_producer_and_its_own_slug():
    first, second = make_producer(), make_producer()
    make_subject(first, "누렁이")
    theirs = make_subject(second, "누렁이")

    assert services.get_subject(second.slug, "누렁이").id == theirs.id
    with pytest.raises(NotFound):
        services.get_subject(first.slug, "황소")
    with pytest.raises(NotFound):
        services.get_subject("nobody", "누렁이")


def test_a_story_is_found_only_on_its_own_subjects_timeline():
    producer = make_producer()
    cow, calf = make_subject(producer, "누렁이"), make_subject(producer, "송아지")
    post = make_post(cow)

    assert services.get_post(cow, post.id).id == post.id
    with pytest.raises(NotFound):
        services.get_post(calf, post.id)


def test_a_producers_subjects_by_name():
    producer = make_producer()
    for name in ("황소", "누렁이", "Apple orchard"):
        make_subject(producer, name)
    make_subject(make_producer(), "다른 농장의 소")

    assert [s.name for s in services.subjects_of(producer)] == ["Apple orchard", "누렁이", "황소"]
