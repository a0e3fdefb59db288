"""Subject timelines, story pages, their editing, QR labels and Atom feeds."""

from __future__ import annotations

import re

import qrcode
import qrcode.image.svg
from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from markupsafe import Markup

from farmstore.catalog.services import products_for_subject
from farmstore.errors import DomainError
from farmstore.forms import show_error
from farmstore.groupbuys.services import send_story_to_pledgers
from farmstore.producers.services import get_producer
from farmstore.sales.services import lowest_prices
from farmstore.stories import bp, services
from farmstore.stories.forms import ClaimForm, PostForm, SubjectForm
from farmstore.timeutil import utcnow
from farmstore.urls import external_url
from farmstore.villages.services import get_village
from farmstore.web import found, owner_only

NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed anywhere in XML 1.0


def _page_number() -> int:
    return request.args.get("page", 1, type=int) or 1


def _subject_fields(form: SubjectForm) -> dict:
    return {
        "kind": form.kind.data,
        "name": form.name.data,
        "started_on": form.started_on.data,
        "breed": form.breed.data or "",
        "location": form.location.data or "",
        "description": form.description.data or "",
        "trace_number": form.trace_number.data or "",
        "cover": form.cover.data,
    }


def _post_fields(form: PostForm) -> dict:
    return {
        "happened_on": form.happened_on.data,
        "title": form.title.data or "",
        "body": form.body.data or "",
        "photos": form.new_photos.data,
    }


@bp.route("/producers/<producer_slug>/subjects/new", methods=["GET", "POST"])
@login_required
def new_subject(producer_slug: str):
    producer = found(get_producer, producer_slug)
    owner_only(producer)
    form = SubjectForm()
    if form.validate_on_submit():
        try:
            subject = services.create_subject(producer=producer, by=current_user, now=utcnow(), **_subject_fields(form))
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("%(name)s has a timeline now. Write its first story!", name=subject.name), "success")
            return redirect(url_for("stories.new_post", producer_slug=producer.slug, subject_slug=subject.slug))
    return render_template("stories/subject_form.html", form=form, producer=producer, subject=None)


@bp.get("/producers/<producer_slug>/subjects/<subject_slug>")
def subject(producer_slug: str, subject_slug: str):
    subject = found(services.get_subject, producer_slug, subject_slug)
    page = services.timeline(subject, page=_page_number(), include_hidden=subject.producer.is_owned_by(current_user))
    products = products_for_subject(subject)
    return render_template(
        "stories/subject.html",
        subject=subject,
        page=page,
        claim_form=ClaimForm(),
        products=products,
        prices=lowest_prices([p.id for p in products], now=utcnow()),
    )


@bp.route("/producers/<producer_slug>/subjects/<subject_slug>/edit", methods=["GET", "POST"])
@login_required
def edit_subject(producer_slug: str, subject_slug: str):
    subject = found(services.get_subject, producer_slug, subject_slug)
    owner_only(subject.producer)
    form = SubjectForm(obj=subject)
    if form.validate_on_submit():
        try:
            services.update_subject(subject, by=current_user, now=utcnow(), **_subject_fields(form))
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("stories.subject", producer_slug=producer_slug, subject_slug=subject_slug))
    return render_template("stories/subject_form.html", form=form, producer=subject.producer, subject=subject)


@bp.post("/producers/<producer_slug>/subjects/<subject_slug>/delete")
@login_required
def delete_subject(producer_slug: str, subject_slug: str):
    subject = found(services.get_subject, producer_slug, subject_slug)
    owner_only(subject.producer)
    services.delete_subject(subject, by=current_user)
    flash(_("Deleted."), "info")
    return redirect(url_for("producers.show", slug=producer_slug))


@bp.post("/producers/<producer_slug>/subjects/<subject_slug>/claims")
@login_required
def add_claim(producer_slug: str, subject_slug: str):
    subject = found(services.get_subject, producer_slug, subject_slug)
    owner_only(subject.producer)
    form = ClaimForm()
    if form.validate_on_submit():
        try:
            services.add_claim(subject, by=current_user, text=form.text.data, certificate=form.certificate.data)
        except DomainError as error:
            flash(error.message, "error")
    else:
        for errors in form.errors.values():
            flash(" ".join(str(e) for e in errors), "error")
    return redirect(url_for("stories.subject", producer_slug=producer_slug, subject_slug=subject_slug))


@bp.post("/producers/<producer_slug>/subjects/<subject_slug>/claims/<int:claim_id>/delete")
@login_required
def remove_claim(producer_slug: str, subject_slug: str, claim_id: int):
    subject = found(services.get_subject, producer_slug, subject_slug)
    owner_only(subject.producer)
    claim = next((c for c in subject.claims if c.id == claim_id), None)
    if claim is None:
        abort(404)
    services.remove_claim(claim, by=current_user)
    return redirect(url_for("stories.subject", producer_slug=producer_slug, subject_slug=subject_slug))


@bp.route("/producers/<producer_slug>/subjects/<subject_slug>/posts/new", methods=["GET", "POST"])
@login_required
def new_post(producer_slug: str, subject_slug: str):
    subject = found(services.get_subject, producer_slug, subject_slug)
    owner_only(subject.producer)
    form = PostForm()
    if request.method == "GET":
        form.happened_on.data = services.today(utcnow())
    if form.validate_on_submit():
        try:
            post = services.write_post(subject, by=current_user, now=utcnow(), **_post_fields(form))
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Your story is published."), "success")
            if form.notify_pledgers.data:
                sent = send_story_to_pledgers(post, by=current_user, now=utcnow())
                flash(ngettext("Sent to %(num)d pledger.", "Sent to %(num)d pledgers.", sent), "info")
            return redirect(
                url_for("stories.post", producer_slug=producer_slug, subject_slug=subject_slug, post_id=post.id)
            )
    return render_template("stories/post_form.html", form=form, subject=subject, post=None)


@bp.get("/producers/<producer_slug>/subjects/<subject_slug>/posts/<int:post_id>")
def post(producer_slug: str, subject_slug: str, post_id: int):
    subject = found(services.get_subject, producer_slug, subject_slug)
    post = found(services.get_post, subject, post_id)
    if post.is_hidden and not subject.producer.is_owned_by(current_user):
        abort(404)
    return render_template("stories/post.html", subject=subject, post=post)


@bp.route("/producers/<producer_slug>/subjects/<subject_slug>/posts/<int:post_id>/edit", methods=["GET", "POST"])
@login_required
def edit_post(producer_slug: str, subject_slug: str, post_id: int):
    subject = found(services.get_subject, producer_slug, subject_slug)
    owner_only(subject.producer)
    post = found(services.get_post, subject, post_id)
    form = PostForm(obj=post)
    if form.validate_on_submit():
        try:
            services.edit_post(post, by=current_user, now=utcnow(), **_post_fields(form))
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect(
                url_for("stories.post", producer_slug=producer_slug, subject_slug=subject_slug, post_id=post.id)
            )
    return render_template("stories/post_form.html", form=form, subject=subject, post=post)


@bp.post("/producers/<producer_slug>/subjects/<subject_slug>/posts/<int:post_id>/delete")
@login_required
def delete_post(producer_slug: str, subject_slug: str, post_id: int):
    subject = found(services.get_subject, producer_slug, subject_slug)
    owner_only(subject.producer)
    services.delete_post(found(services.get_post, subject, post_id), by=current_user)
    flash(_("Deleted."), "info")
    return redirect(url_for("stories.subject", producer_slug=producer_slug, subject_slug=subject_slug))


def qr_svg(url: str) -> Markup:
    """An inline SVG QR code for `url` (vector, so it prints sharp at any size)."""
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    return Markup(image.to_string(encoding="unicode"))  # noqa: S704 (generated by qrcode, no user HTML)


@bp.get("/producers/<producer_slug>/subjects/<subject_slug>/label")
def label(producer_slug: str, subject_slug: str):
    """A printable label for a box: a QR code that opens the subject's timeline."""
    subject = found(services.get_subject, producer_slug, subject_slug)
    url = external_url("stories.subject", producer_slug=producer_slug, subject_slug=subject_slug)
    return render_template("stories/label.html", subject=subject, url=url, qr=qr_svg(url))


def _feed_entries(posts) -> list[tuple]:
    """Each post with its absolute URL and its photos' absolute URLs, on BASE_URL as `external_url`
    builds them, in one request context for the whole feed rather than one per URL."""
    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
        return [
            (
                post,
                url_for(
                    "stories.post",
                    producer_slug=post.subject.producer.slug,
                    subject_slug=post.subject.slug,
                    post_id=post.id,
                    _external=True,
                ),
                [
                    url_for(
                        "media.photo_file", prefix=item.photo.key[:2], key=item.photo.key, name="medium", _external=True
                    )
                    for item in post.photos
                ],
            )
            for post in posts
        ]


def _atom(title: str, page_url: str, posts) -> Response:
    """An Atom feed of `posts`. Its links are on BASE_URL, never the request's Host: readers keep
    entry ids for good and follow the links from elsewhere. Characters XML cannot carry (control
    characters pasted into a story or a name) are dropped, or one post would break the whole feed."""
    updated = max((p.edited_at or p.created_at for p in posts), default=utcnow())
    body = render_template(
        "stories/feed.xml",
        title=title,
        page_url=page_url,
        feed_url=external_url(request.endpoint, **request.view_args),
        entries=_feed_entries(posts),
        updated=updated,
    )
    return Response(NOT_XML.sub("", body), mimetype="application/atom+xml")


@bp.get("/stories.atom")
def site_feed():
    return _atom(_("New stories on farmstore"), external_url("main.home"), services.recent_posts(limit=30))


@bp.get("/producers/<producer_slug>/stories.atom")
def producer_feed(producer_slug: str):
    producer = found(get_producer, producer_slug)
    posts = services.recent_posts(limit=30, producer_ids=[producer.id])
    return _atom(producer.farm_name, external_url("producers.show", slug=producer.slug), posts)


@bp.get("/villages/<village_slug>/stories.atom")
def village_feed(village_slug: str):
    village = found(get_village, village_slug)
    posts = services.recent_posts(limit=30, village_id=village.id)
    return _atom(village.name, external_url("villages.show", slug=village.slug), posts)
