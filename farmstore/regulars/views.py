"""Follow and unfollow a producer; the producer's list of regulars; the buyer's feed."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from farmstore.errors import DomainError
from farmstore.producers.services import get_producer
from farmstore.regulars import bp, services
from farmstore.stories.services import recent_posts
from farmstore.timeutil import utcnow
from farmstore.web import found, owner_only

FEED_LENGTH = 30


@bp.post("/producers/<slug>/follow")
@login_required
def follow(slug: str):
    """Follow a producer (again is fine); following one's own farm is refused with a message."""
    producer = found(get_producer, slug)
    try:
        services.follow(user=current_user, producer=producer, now=utcnow())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("You follow %(farm)s. Their new stories will appear in your feed.", farm=producer.farm_name), "success")
    return redirect(url_for("producers.show", slug=slug))


@bp.post("/producers/<slug>/unfollow")
@login_required
def unfollow(slug: str):
    """Stop following a producer."""
    producer = found(get_producer, slug)
    services.unfollow(user=current_user, producer=producer)
    flash(_("You no longer follow %(farm)s.", farm=producer.farm_name), "info")
    return redirect(url_for("producers.show", slug=slug))


@bp.get("/producers/<slug>/followers")
@login_required
def followers(slug: str):
    """The producer's regulars, shown to the producer only."""
    producer = found(get_producer, slug)
    owner_only(producer)
    return render_template(
        "regulars/followers.html", producer=producer, follows=services.followers(producer, by=current_user)
    )


@bp.get("/feed")
@login_required
def feed():
    """The newest stories of the producers the signed-in account follows."""
    producer_ids = services.followed_producer_ids(current_user)
    posts = recent_posts(limit=FEED_LENGTH, producer_ids=producer_ids) if producer_ids else []
    return render_template("regulars/feed.html", posts=posts, following=len(producer_ids))
