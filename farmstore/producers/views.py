"""Producer pages."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.datastructures import FileStorage
from wtforms import SelectChoice

from farmstore.catalog.services import products_of
from farmstore.errors import DomainError
from farmstore.forms import show_error
from farmstore.groupbuys.services import open_group_buys
from farmstore.producers import bp, services
from farmstore.producers.forms import ProducerForm
from farmstore.regulars.services import follower_count, is_following
from farmstore.sales.forms import AreaRequestForm
from farmstore.sales.services import lowest_prices, open_sales, upcoming_sales
from farmstore.stories.services import recent_posts, subjects_of
from farmstore.timeutil import utcnow
from farmstore.villages.services import list_villages
from farmstore.web import found, owner_only

PRODUCER_STORIES = 5


def _producer_form(**kwargs) -> ProducerForm:
    """The profile form, offering every village."""
    form = ProducerForm(**kwargs)
    form.village_id.choices = [SelectChoice(v.id, f"{v.name} · {v.region_label}") for v in list_villages()]
    return form


def _fields(form: ProducerForm) -> dict:
    """The service's keyword arguments from a validated form."""
    # A form filled from a producer holds its current Photo in `photo` until a file is uploaded.
    upload = form.photo.data if isinstance(form.photo.data, FileStorage) else None
    return {
        "farm_name": form.farm_name.data,
        "village_id": form.village_id.data,
        "about": form.about.data or "",
        "contact": form.contact.data or "",
        "photo": upload,
    }


@bp.get("/producers/<slug>")
def show(slug: str):
    """A producer's public page."""
    producer = found(services.get_producer, slug)
    now = utcnow()
    products = products_of(producer, include_hidden=producer.is_owned_by(current_user))
    return render_template(
        "producers/show.html",
        producer=producer,
        subjects=subjects_of(producer),
        products=products,
        prices=lowest_prices([p.id for p in products], now=now),
        stories=recent_posts(limit=PRODUCER_STORIES, producer_ids=[producer.id]),
        following=is_following(current_user, producer),
        sales=open_sales(now=now, producer_ids=[producer.id]) + upcoming_sales(now=now, producer_ids=[producer.id]),
        now=now,
        area_form=AreaRequestForm(),
        group_buys=open_group_buys(now=now, producer_ids=[producer.id]),
        followers=follower_count(producer),
    )


@bp.route("/producers/new", methods=["GET", "POST"])
@login_required
def create():
    """An account becomes a producer; one that already is goes to its edit page."""
    if current_user.producer is not None:
        return redirect(url_for("producers.edit", slug=current_user.producer.slug))
    form = _producer_form()
    if form.validate_on_submit():
        try:
            producer = services.create_producer(user=current_user, now=utcnow(), **_fields(form))
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Your producer page is ready. Share it with your regulars!"), "success")
            return redirect(url_for("producers.show", slug=producer.slug))
    return render_template("producers/form.html", form=form, producer=None)


@bp.route("/producers/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str):
    """The owner edits their profile; anyone else gets 403."""
    producer = found(services.get_producer, slug)
    owner_only(producer)
    form = _producer_form(obj=producer)
    if form.validate_on_submit():
        try:
            services.update_producer(producer, by=current_user, **_fields(form))
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Your producer page is saved."), "success")
            return redirect(url_for("producers.show", slug=producer.slug))
    return render_template("producers/form.html", form=form, producer=producer)
