"""Village pages."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from farmstore.errors import DomainError
from farmstore.forms import show_error
from farmstore.groupbuys.services import open_group_buys
from farmstore.stories.services import recent_posts
from farmstore.timeutil import utcnow
from farmstore.villages import bp, services
from farmstore.villages.forms import VillageForm
from farmstore.villages.regions import REGIONS
from farmstore.web import found

VILLAGE_STORIES = 6


def _operator_only() -> None:
    """Stop anyone who is not an operator with 403."""
    if not current_user.is_operator:
        abort(403)


@bp.get("/villages")
def index():
    """Every village and market, optionally in one region (`?region=gangwon`)."""
    region = request.args.get("region") if request.args.get("region") in REGIONS else None
    return render_template(
        "villages/index.html", villages=services.list_villages(region), region=region, regions=REGIONS
    )


@bp.get("/villages/<slug>")
def show(slug: str):
    """A village with its producers."""
    village = found(services.get_village, slug)
    stories = recent_posts(limit=VILLAGE_STORIES, village_id=village.id)
    group_buys = open_group_buys(now=utcnow(), village_id=village.id)
    return render_template("villages/show.html", village=village, stories=stories, group_buys=group_buys, now=utcnow())


@bp.route("/villages/new", methods=["GET", "POST"])
@login_required
def create():
    """Operators add a village or market."""
    _operator_only()
    form = VillageForm()
    if form.validate_on_submit():
        try:
            village = services.create_village(by=current_user, cover=form.cover.data, now=utcnow(), **_fields(form))
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("The village is created."), "success")
            return redirect(url_for("villages.show", slug=village.slug))
    return render_template("villages/form.html", form=form, village=None)


@bp.route("/villages/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str):
    """Operators edit a village; its URL stays the same."""
    _operator_only()
    village = found(services.get_village, slug)
    form = VillageForm(obj=village)
    if form.validate_on_submit():
        try:
            services.update_village(village, by=current_user, cover=form.cover.data, **_fields(form))
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("The village is saved."), "success")
            return redirect(url_for("villages.show", slug=village.slug))
    return render_template("villages/form.html", form=form, village=village)


def _fields(form: VillageForm) -> dict:
    """The service's keyword arguments from a validated form."""
    return {
        "name": form.name.data,
        "region": form.region.data,
        "kind": form.kind.data,
        "description": form.description.data or "",
    }
