"""Writing together, pages: the evangelist's draft forms (the areas' own forms, without photos)
and draft list, the producer's approval queue with the "publish directly" setting."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length

from farmstore.catalog.forms import ProductForm
from farmstore.catalog.services import products_of
from farmstore.errors import DomainError
from farmstore.evangelists import drafts
from farmstore.evangelists.services import active_adoption_of_user, can_publish_directly, helps, village_evangelist
from farmstore.forms import show_error
from farmstore.groupbuys.forms import GroupBuyForm
from farmstore.producers.models import Producer
from farmstore.producers.services import get_producer
from farmstore.sales.forms import SaleForm
from farmstore.sales.services import pickup_points_of
from farmstore.stories.forms import PostForm
from farmstore.stories.services import subjects_of
from farmstore.timeutil import local_to_utc, utcnow
from farmstore.web import found, owner_only

bp = Blueprint("drafts", __name__)


class StoryDraftForm(PostForm):
    """A story post for one of the producer's subjects; photos are added by the producer later."""

    subject_id = SelectField(_l("Which animal or field"), coerce=int, validate_choice=False)
    new_photos = None
    notify_pledgers = None


class ProductDraftForm(ProductForm):
    new_photos = None


class RejectForm(FlaskForm):
    reason = StringField(_l("Why not? Your evangelist will read it."), validators=[Length(max=500)])


def _utc(value: datetime | None) -> str | None:
    """A wall-clock time from the form as an ISO UTC string for the draft's JSON."""
    return local_to_utc(value, current_app.config["BABEL_DEFAULT_TIMEZONE"]).isoformat() if value else None


def _story_form(producer: Producer) -> tuple[FlaskForm, callable]:
    form = StoryDraftForm()
    form.subject_id.choices = [SelectChoice(s.id, f"{s.name} · {s.kind_label}") for s in subjects_of(producer)]
    return form, lambda f: {
        "subject_id": f.subject_id.data, "happened_on": f.happened_on.data.isoformat() if f.happened_on.data else None,
        "title": f.title.data or "", "body": f.body.data or "",
    }  # fmt: skip


def _product_form(producer: Producer) -> tuple[FlaskForm, callable]:
    form = ProductDraftForm()
    form.subject_ids.choices = [SelectChoice(s.id, f"{s.name} · {s.kind_label}") for s in subjects_of(producer)]
    return form, lambda f: {
        "name": f.name.data, "unit": f.unit.data, "category": f.category.data, "description": f.description.data or "",
        "subject_ids": f.subject_ids.data or [],
    }  # fmt: skip


def _sale_form(producer: Producer) -> tuple[FlaskForm, callable]:
    form = SaleForm()
    form.pickup_point_id.choices = [SelectChoice(p.id, f"{p.name} · {p.area}") for p in pickup_points_of(producer)]
    if request.method == "GET":
        for product in products_of(producer):
            form.items.append_entry({"product_id": product.id})
    return form, lambda f: {
        "title": f.title.data, "description": f.description.data or "", "pickup_point_id": f.pickup_point_id.data,
        "opens_at": _utc(f.opens_at.data), "closes_at": _utc(f.closes_at.data),
        "pickup_starts_at": _utc(f.pickup_starts_at.data), "pickup_ends_at": _utc(f.pickup_ends_at.data),
        "items": [
            {"product_id": int(row.product_id.data), "price": row.price.data or 0, "quantity": row.quantity.data,
             "per_buyer_limit": row.per_buyer_limit.data or row.quantity.data}
            for row in f.items if row.quantity.data
        ],
    }  # fmt: skip


def _group_buy_form(producer: Producer) -> tuple[FlaskForm, callable]:
    form = GroupBuyForm()
    form.subject_id.choices = [(s.id, f"{s.name} · {s.kind_label}") for s in subjects_of(producer)]
    form.pickup_point_id.choices = [(0, _("No pickup: delivery"))] + [
        (p.id, f"{p.name} · {p.area}") for p in pickup_points_of(producer)
    ]
    numbers = ("subject_id", "unit_price", "total_units", "min_units", "per_buyer_max", "pickup_point_id")
    texts = ("title", "story", "unit_label", "delivery_note")
    return form, lambda f: {
        **{name: getattr(f, name).data for name in numbers},
        **{name: getattr(f, name).data or "" for name in texts},
        **{name: _utc(getattr(f, name).data) for name in ("deadline", "pickup_starts_at", "pickup_ends_at")},
    }


FORMS = {"story": _story_form, "product": _product_form, "sale": _sale_form, "group_buy": _group_buy_form}


@bp.route("/producers/<slug>/drafts/new/<kind>", methods=["GET", "POST"])
@login_required
def new(slug: str, kind: str):
    """The village's evangelist writes something for a producer; anyone else gets 403."""
    producer = found(get_producer, slug)
    if kind not in FORMS:
        abort(404)
    if not helps(current_user, producer):
        abort(403)
    form, values = FORMS[kind](producer)
    if form.validate_on_submit():
        try:
            draft = drafts.submit_draft(producer=producer, by=current_user, kind=kind, data=values(form), now=utcnow())
        except DomainError as error:
            show_error(form, error)
        else:
            if draft.published_directly:
                flash(_("Published for %(farm)s, written with you.", farm=producer.farm_name), "success")
            else:
                flash(_("Sent to %(farm)s for approval.", farm=producer.farm_name), "success")
            return redirect(url_for("drafts.mine"))
    return render_template(
        "evangelists/drafts/form.html", producer=producer, kind=kind, kind_label=drafts.DRAFT_KINDS[kind], form=form,
        products={p.id: p for p in products_of(producer)} if kind == "sale" else {},
        direct=can_publish_directly(current_user, producer),
    )  # fmt: skip


@bp.get("/my/drafts")
@login_required
def mine():
    """An evangelist's drafts, and links to write for each producer of their village."""
    adoption = active_adoption_of_user(current_user)
    return render_template(
        "evangelists/drafts/mine.html",
        adoption=adoption,
        producers=adoption.village.producers if adoption else [],
        drafts=drafts.drafts_by(current_user),
        kinds=drafts.DRAFT_KINDS,
    )


@bp.get("/producers/<slug>/drafts")
@login_required
def queue(slug: str):
    """The producer's approval queue and their "publish directly" setting; 403 for others."""
    producer = found(get_producer, slug)
    owner_only(producer)
    return render_template(
        "evangelists/drafts/queue.html",
        producer=producer,
        drafts=drafts.approval_queue(producer, by=current_user),
        grant=drafts.open_grant(producer),
        evangelist=village_evangelist(producer.village_id),
        reject_form=RejectForm(formdata=None),
        draft_preview=drafts.preview_of,
    )


def _decide(draft_id: int, decide) -> object:
    draft = found(drafts.get_draft, draft_id)
    owner_only(draft.producer)
    try:
        decide(draft)
    except DomainError as error:
        flash(error.message, "error")
    return redirect(url_for("drafts.queue", slug=draft.producer.slug))


@bp.post("/drafts/<int:draft_id>/approve")
@login_required
def approve(draft_id: int):
    """The producer publishes a draft; anyone else gets 403."""

    def decide(draft):
        drafts.approve_draft(draft, by=current_user, now=utcnow())
        flash(_("Published, written with %(name)s.", name=draft.author.display_name if draft.author else ""), "success")

    return _decide(draft_id, decide)


@bp.post("/drafts/<int:draft_id>/reject")
@login_required
def reject(draft_id: int):
    """The producer turns a draft down; anyone else gets 403."""

    def decide(draft):
        drafts.reject_draft(draft, by=current_user, reason=RejectForm().reason.data or "", now=utcnow())
        flash(_("The draft is turned down."), "info")

    return _decide(draft_id, decide)


@bp.post("/producers/<slug>/publish-directly")
@login_required
def grant(slug: str):
    """The producer lets their evangelist publish without asking; 403 for others."""
    producer = found(get_producer, slug)
    owner_only(producer)
    try:
        drafts.grant_publish_directly(producer, by=current_user, now=utcnow())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("Your evangelist can now publish for you directly. You can take this back at any time."), "success")
    return redirect(url_for("drafts.queue", slug=slug))


@bp.post("/producers/<slug>/publish-directly/revoke")
@login_required
def revoke(slug: str):
    """The producer takes "publish directly" back; 403 for others."""
    producer = found(get_producer, slug)
    owner_only(producer)
    drafts.revoke_publish_directly(producer, by=current_user, now=utcnow())
    flash(_("From now on, what your evangelist writes waits for your approval."), "info")
    return redirect(url_for("drafts.queue", slug=slug))
