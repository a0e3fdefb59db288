"""Following rules: any signed-in account may follow a producer (not itself); only the producer
sees who follows them."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
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
