"""Following rules: any signed-in account may follow a producer (not itself); only the producer
sees who follows them."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from farmstore.accounts.models import User
from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.producers.models import Producer
from farmstore.regulars.models import Follow
from farmstore.stories.services import require_owner


def follow(*, user: User, producer: Producer, now: datetime) -> None:
    """Become a regular of `producer`. Following again changes nothing."""
    if producer.user_id == user.id:
        raise DomainError(_l("You cannot follow your own farm."))
    if is_following(user, producer):
        return
    db.session.add(Follow(user_id=user.id, producer_id=producer.id, created_at=now))
    try:
        db.session.commit()
    except IntegrityError:  # a double click: the first request already followed
        db.session.rollback()


def unfollow(*, user: User, producer: Producer) -> None:
    """Stop following; unfollowing twice changes nothing."""
    db.session.execute(delete(Follow).where(Follow.user_id == user.id, Follow.producer_id == producer.id))
    db.session.commit()


def is_following(user, producer: Producer) -> bool:
    """True when the (possibly anonymous) user follows `producer`."""
    if user is None or not user.is_authenticated:
        return False
    return db.session.get(Follow, (user.id, producer.id)) is not None


def follower_count(producer: Producer) -> int:
    """How many regulars a producer has."""
    return db.session.scalar(select(func.count()).select_from(Follow).where(Follow.producer_id == producer.id))


def followers(producer: Producer, *, by) -> list[Follow]:
    """The producer's regulars, newest first: only the producer may see them."""
    require_owner(producer, by)
    return list(
        db.session.scalars(
            select(Follow)
            .where(Follow.producer_id == producer.id)
            .options(selectinload(Follow.user))
            .order_by(Follow.created_at.desc())
        )
    )


def followed_producer_ids(user: User) -> list[int]:
    """Producers this account follows."""
    return list(db.session.scalars(select(Follow.producer_id).where(Follow.user_id == user.id)))


# ---------------------------------------------------------------- new stories to followers

FANOUT_BATCH = 500


def notify_followers_of_post(post_id: int, *, now: datetime, batch: int | None = None) -> int:
    """Email every follower of the post's producer about a new story, once each, in batches.

    Each batch claims the next range of follower ids by moving the post's cursor with a
    conditional UPDATE, in the same transaction as the batch's outbox messages: two workers (or a
    worker and the tick) fanning out the same post never write a follower's email twice, and a
    run killed halfway resumes at the cursor. Memory stays flat in the number of followers.
    Batches of FOLLOWER_FANOUT_BATCH. Returns the emails written by this run."""
    from farmstore.notifications.services import queue_email
    from farmstore.stories.models import StoryPost, Subject
    from farmstore.urls import external_url

    batch = batch or current_app.config.get("FOLLOWER_FANOUT_BATCH") or FANOUT_BATCH
    written = 0
    while True:
        row = db.session.execute(
            select(
                StoryPost.followers_notified_at,
                StoryPost.followers_notified_through,
                StoryPost.hidden_at,
                Subject.producer_id,
            )
            .join(Subject, Subject.id == StoryPost.subject_id)
            .where(StoryPost.id == post_id)
        ).one_or_none()
        if row is None or row.followers_notified_at is not None:
            db.session.rollback()
            return written
        if row.hidden_at is not None:  # hidden by an operator before anyone was told: tell nobody more
            db.session.execute(update(StoryPost).where(StoryPost.id == post_id).values(followers_notified_at=now))
            db.session.commit()
            return written
        cursor, producer_id = row.followers_notified_through or 0, row.producer_id
        users = list(
            db.session.scalars(
                select(User)
                .join(Follow, Follow.user_id == User.id)
                .where(Follow.producer_id == producer_id, Follow.user_id > cursor)
                .order_by(Follow.user_id)
                .limit(batch)
            )
        )
        if not users:  # everyone told: the post is done
            db.session.execute(
                update(StoryPost)
                .where(StoryPost.id == post_id, StoryPost.followers_notified_at.is_(None))
                .values(followers_notified_at=now)
            )
            db.session.commit()
            return written
        claimed = db.session.execute(
            update(StoryPost)
            .where(StoryPost.id == post_id, func.coalesce(StoryPost.followers_notified_through, 0) == cursor)
            .values(followers_notified_through=users[-1].id)
        )
        if claimed.rowcount != 1:  # another worker took this range meanwhile: read the cursor again
            db.session.rollback()
            continue
        post = db.session.get(StoryPost, post_id)
        link = external_url(
            "stories.post", producer_slug=post.subject.producer.slug, subject_slug=post.subject.slug, post_id=post_id
        )
        for user in users:
            if user.email:
                queue_email(
                    to=user.email, template="story_new", locale=user.locale, now=now, user=user, post=post,
                    producer=post.subject.producer, link=link,
                )  # fmt: skip
                written += 1
        db.session.commit()  # the batch's rows are expired and, unreferenced, dropped: memory stays flat


def notify_followers_of_new_posts(*, now: datetime) -> int:
    """Tick job: fan out every story whose followers have not all been told yet (posts written
    before this feature existed are marked told by the migration). Returns emails written."""
    from farmstore.stories.models import StoryPost

    pending = db.session.scalars(
        select(StoryPost.id).where(StoryPost.followers_notified_at.is_(None)).order_by(StoryPost.id)
    ).all()
    return sum(notify_followers_of_post(post_id, now=now) for post_id in pending)
