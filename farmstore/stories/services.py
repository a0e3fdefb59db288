"""Story rules: a producer manages their own subjects, claims and timeline posts."""

from __future__ import annotations

from datetime import date, datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from farmstore.errors import DomainError, NotAllowed, NotFound
from farmstore.evangelists.moderation import visible
from farmstore.extensions import db
from farmstore.media.models import Photo
from farmstore.media.services import delete_photo_files, save_photo, save_photos
from farmstore.pagination import Page, paginate
from farmstore.producers.models import Producer
from farmstore.stories.models import SUBJECT_KINDS, TRACEABLE_KIND, Claim, StoryPhoto, StoryPost, Subject
from farmstore.text import unique_slug
from farmstore.timeutil import local_today
from farmstore.trace import check_animal_number

POSTS_PER_PAGE = 10
MAX_PHOTOS_PER_POST = 8


def require_owner(producer: Producer, user) -> None:
    """Only the producer's own account may change what it publishes."""
    if not producer.is_owned_by(user):
        raise NotAllowed(_l("Only the producer can change this."))


def today(now: datetime) -> date:
    """Today's date where the producers are."""
    return local_today(now, current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _subject_fields(*, kind: str, name: str, started_on: date | None, trace_number: str, now: datetime) -> tuple:
    """The trimmed name and the normalised traceability number, once both are acceptable."""
    name = name.strip()
    if not name:
        raise DomainError(_l("Give it a name, like Nureongi or the north field."), field="name")
    if kind not in SUBJECT_KINDS:
        raise DomainError(_l("Choose what kind of subject this is."), field="kind")
    if started_on and started_on > today(now):
        raise DomainError(_l("This date is in the future."), field="started_on")
    number = check_animal_number(trace_number)
    if number and kind != TRACEABLE_KIND:
        raise DomainError(
            _l("Only a single animal has a traceability number: give each animal its own page."),
            field="trace_number",
        )
    return name, number


def create_subject(
    *, producer: Producer, by, kind: str, name: str, started_on: date | None, breed: str, location: str,
    description: str, trace_number: str = "", cover=None, now: datetime,
) -> Subject:  # fmt: skip
    """A producer adds an animal, herd, field, orchard, hive or boat. Its birth or planting date
    cannot be in the future; an animal may carry its 12-digit traceability number."""
    require_owner(producer, by)
    name, number = _subject_fields(kind=kind, name=name, started_on=started_on, trace_number=trace_number, now=now)
    subject = Subject(
        producer=producer, kind=kind, name=name, started_on=started_on, breed=breed.strip(), trace_number=number,
        location=location.strip(), description=description.strip(), created_at=now, updated_at=now,
        slug=unique_slug(Subject, name, scope=Subject.producer_id == producer.id),
    )  # fmt: skip
    if cover:
        subject.cover_photo = save_photo(cover, uploaded_by=by, alt=name, field="cover")
    db.session.add(subject)
    db.session.commit()
    return subject


def update_subject(
    subject: Subject, *, by, kind: str, name: str, started_on: date | None, breed: str, location: str,
    description: str, trace_number: str | None = None, cover=None, now: datetime,
) -> Subject:  # fmt: skip
    """The owner edits a subject; its URL stays the same. The traceability number is kept when
    `trace_number` is None (an animal that becomes a herd loses it: it must be given again)."""
    require_owner(subject.producer, by)
    if trace_number is None:
        trace_number = subject.trace_number if kind == TRACEABLE_KIND else ""
    name, number = _subject_fields(kind=kind, name=name, started_on=started_on, trace_number=trace_number, now=now)
    if cover:
        subject.cover_photo = save_photo(cover, uploaded_by=by, alt=name, field="cover")
    subject.kind, subject.name, subject.started_on, subject.trace_number = kind, name, started_on, number
    subject.breed, subject.location, subject.description = breed.strip(), location.strip(), description.strip()
    db.session.commit()
    return subject


def delete_subject(subject: Subject, *, by) -> None:
    """The owner removes a subject with its claims and timeline, and every photo they showed
    (cover, certificates, story photos) stops being served."""
    require_owner(subject.producer, by)
    photos = _post_photos(select(StoryPost.id).where(StoryPost.subject_id == subject.id))
    photos += [p for p in (subject.cover_photo, *(c.certificate_photo for c in subject.claims)) if p is not None]
    db.session.delete(subject)
    for photo in photos:
        db.session.delete(photo)
    db.session.commit()
    delete_photo_files(photos)


def add_claim(subject: Subject, *, by, text: str, certificate=None) -> Claim:
    """The owner states something about a subject, optionally with a certificate photo."""
    require_owner(subject.producer, by)
    text = text.strip()
    if not text:
        raise DomainError(_l("Write the claim, like grass-fed or no pesticides."), field="text")
    claim = Claim(subject=subject, text=text)
    if certificate:
        claim.certificate_photo = save_photo(certificate, uploaded_by=by, alt=text, field="certificate")
    db.session.add(claim)
    db.session.commit()
    return claim


def remove_claim(claim: Claim, *, by) -> None:
    """The owner withdraws a claim; its certificate photo stops being served."""
    require_owner(claim.subject.producer, by)
    photos = [claim.certificate_photo] if claim.certificate_photo else []
    db.session.delete(claim)
    for photo in photos:
        db.session.delete(photo)
    db.session.commit()
    delete_photo_files(photos)


def _post_fields(*, happened_on: date | None, title: str, body: str, now: datetime) -> tuple[date, str, str]:
    happened_on = happened_on or today(now)
    if happened_on > today(now):
        raise DomainError(_l("This date is in the future."), field="happened_on")
    title, body = title.strip(), body.strip()
    if not title and not body:
        raise DomainError(_l("Write something for this story."), field="body")
    return happened_on, title, body


def write_post(
    subject: Subject, *, by, happened_on: date | None, title: str, body: str, photos=(), now: datetime
) -> StoryPost:
    """The owner adds a dated story (text and up to eight photos) to a subject's timeline."""
    require_owner(subject.producer, by)
    happened_on, title, body = _post_fields(happened_on=happened_on, title=title, body=body, now=now)
    saved = save_photos(photos, uploaded_by=by, alt=title or subject.name, limit=MAX_PHOTOS_PER_POST)
    post = StoryPost(subject=subject, author=by, happened_on=happened_on, title=title, body=body, created_at=now)
    post.photos = [StoryPhoto(photo=photo, position=i) for i, photo in enumerate(saved)]
    db.session.add(post)
    db.session.flush()
    _tell_followers_after_commit(post)
    db.session.commit()
    return post


def _tell_followers_after_commit(post: StoryPost) -> None:
    """With Celery, a worker emails the producer's followers once this post is committed; without
    it the tick's story_followers job does (farmstore.regulars.services.notify_followers_of_post)."""
    from farmstore.tasks import enqueue_after_commit, notify_followers

    enqueue_after_commit(db.session(), notify_followers, post.id)


def edit_post(
    post: StoryPost, *, by, happened_on: date | None, title: str, body: str, photos=(), now: datetime
) -> StoryPost:
    """The owner corrects a story; new photos are added after the existing ones, and the post
    is marked as edited."""
    require_owner(post.subject.producer, by)
    happened_on, title, body = _post_fields(happened_on=happened_on, title=title, body=body, now=now)
    room = MAX_PHOTOS_PER_POST - len(post.photos)
    saved = save_photos(photos, uploaded_by=by, alt=title or post.subject.name, limit=max(room, 0))
    start = len(post.photos)
    post.photos.extend(StoryPhoto(photo=photo, position=start + i) for i, photo in enumerate(saved))
    if (happened_on, title, body) != (post.happened_on, post.title, post.body) or saved:
        post.edited_at = now
    post.happened_on, post.title, post.body = happened_on, title, body
    db.session.commit()
    return post


def _post_photos(post_ids) -> list[Photo]:
    return list(db.session.scalars(select(Photo).join(StoryPhoto).where(StoryPhoto.post_id.in_(post_ids))))


def delete_post(post: StoryPost, *, by) -> None:
    """The owner deletes a story and its photos."""
    require_owner(post.subject.producer, by)
    photos = _post_photos([post.id])
    db.session.delete(post)
    for photo in photos:
        db.session.delete(photo)
    db.session.commit()
    delete_photo_files(photos)


def get_subject(producer_slug: str, subject_slug: str) -> Subject:
    """The subject at this URL, with what its page shows beside the timeline."""
    subject = db.session.scalar(
        select(Subject)
        .join(Producer)
        .where(Producer.slug == producer_slug, Subject.slug == subject_slug)
        .options(
            selectinload(Subject.producer).selectinload(Producer.village),
            selectinload(Subject.cover_photo),
            selectinload(Subject.claims).selectinload(Claim.certificate_photo),
        )
    )
    if subject is None:
        raise NotFound(_l("No such subject."))
    return subject


def get_post(subject: Subject, post_id: int) -> StoryPost:
    """A story on this subject's timeline."""
    post = db.session.scalar(
        select(StoryPost)
        .where(StoryPost.id == post_id, StoryPost.subject_id == subject.id)
        .options(selectinload(StoryPost.photos).selectinload(StoryPhoto.photo))
    )
    if post is None:
        raise NotFound(_l("No such story."))
    return post


def _posts_query():
    return select(StoryPost).options(
        selectinload(StoryPost.photos).selectinload(StoryPhoto.photo),
        selectinload(StoryPost.subject).selectinload(Subject.producer),
    )


def timeline(subject: Subject, *, page: int = 1, per_page: int = POSTS_PER_PAGE, include_hidden: bool = False) -> Page:
    """A subject's stories, newest first, one page at a time. Stories an operator hid are left
    out unless `include_hidden` (their owner is looking)."""
    query = (
        _posts_query()
        .where(StoryPost.subject_id == subject.id)
        .order_by(StoryPost.happened_on.desc(), StoryPost.id.desc())
    )
    if not include_hidden:
        query = query.where(visible(StoryPost))
    return paginate(query, page=page, per_page=per_page)


def recent_posts(
    *, limit: int = 10, subject_ids=None, producer_ids=None, village_id: int | None = None
) -> list[StoryPost]:
    """The newest stories, optionally only of some subjects, producers or one village; never
    the ones an operator hid."""
    query = _posts_query().join(StoryPost.subject).join(Subject.producer).where(visible(StoryPost))
    if subject_ids is not None:
        query = query.where(StoryPost.subject_id.in_(subject_ids))
    if producer_ids is not None:
        query = query.where(Subject.producer_id.in_(producer_ids))
    if village_id is not None:
        query = query.where(Producer.village_id == village_id)
    query = query.order_by(StoryPost.happened_on.desc(), StoryPost.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def subjects_of(producer: Producer) -> list[Subject]:
    """A producer's subjects, by name."""
    return list(
        db.session.scalars(
            select(Subject)
            .where(Subject.producer_id == producer.id)
            .options(selectinload(Subject.cover_photo))
            .order_by(Subject.name)
        )
    )
