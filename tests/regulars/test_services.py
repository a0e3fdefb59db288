"""Following rules: one follow per buyer and producer, never one's own farm, and only the
producer sees who follows them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import func, select

from farmstore.errors import DomainError, NotAllowed
from farmstore.extensions import db
from farmstore.regulars import services
from farmstore.regulars.models import Follow
from farmstore.regulars.services import (
    followed_producer_ids,
    follower_count,
    followers,
    is_following,
    unfollow,
)
from tests.catalog.conftest import NOW
from tests.factories import make_producer, make_user

pytestmark = pytest.mark.usefixtures("ctx")


def follows() -> list[tuple[int, int]]:
    """Every (user_id, producer_id) pair."""
    return list(db.session.execute(select(Follow.user_id, Follow.producer_id)).tuples())


def follow(user, producer, *, minutes: int = 0) -> None:
    """`user` follows `producer`, `minutes` after NOW."""
    services.follow(user=user, producer=producer, now=NOW + timedelta(minutes=minutes))


def test_following_twice_leaves_one_follow():
    buyer, producer = make_user(), make_producer()

    follow(buyer, producer)
    follow(buyer, producer, minutes=5)

    assert follows() == [(buyer.id, producer.id)]
    assert is_following(buyer, producer)
    assert db.session.get(Follow, (buyer.id, producer.id)).created_at == NOW


def test_a_follow_racing_another_for_the_same_pair_is_not_an_error(monkeypatch):
    buyer, producer = make_user(), make_producer()
    follow(buyer, producer)
    # The second request checked before the first one committed.
    monkeypatch.setattr(services, "is_following", lambda _user, _producer: False)

    follow(buyer, producer, minutes=1)

    assert follows() == [(buyer.id, producer.id)]


def test_unfollowing_twice_or_without_following_is_fine():
    buyer, producer, other = make_user(), make_producer(), make_producer()
    follow(buyer, producer)
    follow(buyer, other)

    unfollow(user=buyer, producer=producer)
    unfollow(user=buyer, producer=producer)
    unfollow(user=make_user(), producer=producer)

    assert follows() == [(buyer.id, other.id)]
    assert not is_following(buyer, producer)


def test_a_producer_cannot_follow_their_own_farm():
    producer = make_producer()

    with pytest.raises(DomainError) as refused:
        follow(producer.user, producer)

    assert str(refused.value.message) == "You cannot follow your own farm."
    assert follows() == []


def test_a_producer_may_follow_another_farm():
    producer, neighbour = make_producer(), make_producer()

    follow(producer.user, neighbour)

    assert followed_producer_ids(producer.user) == [neighbour.id]


def test_nobody_signed_in_follows_anyone():
    assert not is_following(AnonymousUserMixin(), make_producer())
    assert not is_following(None, make_producer())


def test_follower_count_counts_each_producers_own_regulars():
    producer, other = make_producer(), make_producer()
    for buyer in (make_user(), make_user(), make_user()):
        follow(buyer, producer)
    follow(make_user(), other)

    assert (follower_count(producer), follower_count(other), follower_count(make_producer())) == (3, 1, 0)


def test_the_producer_sees_their_followers_newest_first():
    producer = make_producer()
    first, second = make_user(display_name="김할머니"), make_user(display_name="박선생")
    follow(first, producer, minutes=0)
    follow(second, producer, minutes=10)
    follow(make_user(), make_producer())

    assert [f.user.display_name for f in followers(producer, by=producer.user)] == ["박선생", "김할머니"]


def test_nobody_else_sees_a_producers_followers():
    producer = make_producer()
    buyer = make_user()
    follow(buyer, producer)

    for stranger in (buyer, make_producer().user, AnonymousUserMixin()):
        with pytest.raises(NotAllowed):
            followers(producer, by=stranger)


def test_followed_producer_ids_are_only_this_accounts():
    buyer, one, two = make_user(), make_producer(), make_producer()
    follow(buyer, one)
    follow(buyer, two)
    follow(make_user(), make_producer())

    assert sorted(followed_producer_ids(buyer)) == sorted([one.id, two.id])
    assert followed_producer_ids(make_user()) == []
    assert db.session.scalar(select(func.count()).select_from(Follow)) == 3
