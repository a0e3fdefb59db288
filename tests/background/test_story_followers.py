"""A new story is emailed to each of the producer's regulars once, in their language, in batches;
with Celery the fan-out is enqueued after the post commits, without it the tick's job does it."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from farmstore.extensions import db
from farmstore.notifications.models import OutboxMessage
from farmstore.regulars.services import follow, notify_followers_of_new_posts, notify_followers_of_post
from farmstore.stories.models import StoryPost
from farmstore.stories.services import write_post
from farmstore.tasks import JOB_TASKS
from tests.background.test_after_commit import needs_redis, queue  # noqa: F401 (fixture)
from tests.background.workers import TEST_REDIS_URL
from tests.factories import make_producer, make_user, make_village
from tests.stories.conftest import NOW, make_subject


def farm_with_regulars(count: int):
    """느릅골 농장 with a field and `count` regulars (every second one reads Korean); a stranger."""
    producer = make_producer(make_user("owner@example.com"), make_village("들꽃마을"), farm_name="느릅골 농장")
    subject = make_subject(producer, "북쪽 밭", kind="field")
    regulars = [make_user(f"regular{n}@example.com", locale="ko" if n % 2 else "en") for n in range(count)]
    for user in regulars:
        follow(user=user, producer=producer, now=NOW)
    make_user("stranger@example.com")
    return producer, subject, regulars


def new_post(producer, subject) -> StoryPost:
    return write_post(subject, by=producer.user, happened_on=None, title="첫 서리", body="배추가 달아졌어요.", now=NOW)


def recipients() -> Counter:
    return Counter(db.session.scalars(select(OutboxMessage.to_address)))


def test_every_regular_gets_one_email_about_a_new_story_in_their_language(ctx):
    producer, subject, regulars = farm_with_regulars(5)
    post = new_post(producer, subject)

    assert notify_followers_of_post(post.id, now=NOW, batch=2) == 5  # three batches of at most two

    assert recipients() == Counter({user.email: 1 for user in regulars})
    subjects = {m.to_address: m.subject for m in db.session.scalars(select(OutboxMessage))}
    assert subjects["regular0@example.com"] == "New story from 느릅골 농장: 첫 서리"
    assert subjects["regular1@example.com"] == "느릅골 농장의 새 이야기: 첫 서리"
    body = db.session.scalars(select(OutboxMessage.body_text)).first()
    assert f"/posts/{post.id}" in body
    db.session.refresh(post)
    assert post.followers_notified_at == NOW
    assert post.followers_notified_through == regulars[-1].id


def test_fanning_out_again_or_from_the_tick_writes_nothing_more(ctx):
    producer, subject, _regulars = farm_with_regulars(3)
    post = new_post(producer, subject)

    assert JOB_TASKS["story_followers"].apply().get() == 3  # without Celery, the tick's job does it
    assert notify_followers_of_post(post.id, now=NOW) == 0
    assert notify_followers_of_new_posts(now=NOW) == 0
    assert sum(recipients().values()) == 3


def test_a_run_killed_halfway_resumes_at_its_cursor(ctx):
    producer, subject, regulars = farm_with_regulars(4)
    post = new_post(producer, subject)
    post.followers_notified_through = regulars[1].id  # the first two were told before the crash
    db.session.commit()

    assert notify_followers_of_post(post.id, now=NOW) == 2
    assert set(recipients()) == {regulars[2].email, regulars[3].email}


def test_a_story_hidden_before_the_fan_out_is_sent_to_nobody(ctx):
    producer, subject, _regulars = farm_with_regulars(2)
    post = new_post(producer, subject)
    post.hidden_at = NOW
    db.session.commit()

    assert notify_followers_of_new_posts(now=NOW) == 0
    assert recipients() == Counter()


@needs_redis
@pytest.mark.app_config(CELERY_BROKER_URL=TEST_REDIS_URL)
def test_with_celery_the_fan_out_is_enqueued_once_the_post_is_committed(ctx, queue):  # noqa: F811
    producer, subject, _regulars = farm_with_regulars(2)
    assert queue() == []

    post = new_post(producer, subject)

    assert queue() == [("farmstore.notify_followers", [post.id])]
