"""Operators' pages: deciding evangelist applications, recording farm visits, hiding content.
Everyone else gets 403."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from farmstore.accounts.views import safe_next
from farmstore.errors import DomainError
from farmstore.evangelists import bp, moderation, services
from farmstore.evangelists.forms import DeclineForm, HideContentForm, VerifyForm
from farmstore.forms import show_error
from farmstore.producers.services import get_producer
from farmstore.timeutil import utcnow
from farmstore.web import found

moderation.register_story_posts_and_products()


def operator_only() -> None:
    """The 403 page unless the signed-in user is an operator."""
    if not current_user.is_operator:
        abort(403)


@bp.get("/operator/evangelists")
@login_required
def operator_applications():
    """Applications waiting for a decision, with each village's current evangelist."""
    operator_only()
    applications = services.pending_applications()
    taken = {a.village_id: services.village_evangelist(a.village_id) for a in applications}
    return render_template(
        "evangelists/operator/applications.html", applications=applications, taken=taken, decline_form=DeclineForm()
    )


@bp.post("/operator/adoptions/<int:adoption_id>/approve")
@login_required
def approve(adoption_id: int):
    operator_only()
    adoption = found(services.get_adoption, adoption_id)
    try:
        services.approve_adoption(adoption, operator=current_user, now=utcnow())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("%(name)s is now the evangelist of %(village)s.", name=adoption.user.display_name,
                village=adoption.village.name), "success")  # fmt: skip
    return redirect(url_for("evangelists.operator_applications"))


@bp.post("/operator/adoptions/<int:adoption_id>/decline")
@login_required
def decline(adoption_id: int):
    operator_only()
    adoption = found(services.get_adoption, adoption_id)
    form = DeclineForm()
    try:
        services.decline_adoption(adoption, operator=current_user, reason=form.reason.data or "", now=utcnow())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("The application is declined; the applicant is told by email."), "info")
    return redirect(url_for("evangelists.operator_applications"))


@bp.post("/operator/adoptions/<int:adoption_id>/end")
@login_required
def end(adoption_id: int):
    """An operator ends an active adoption (the evangelist left, or misbehaved)."""
    operator_only()
    adoption = found(services.get_adoption, adoption_id)
    try:
        services.end_adoption(adoption, by=current_user, now=utcnow())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("The adoption is ended; the village can be adopted again."), "info")
    return redirect(url_for("villages.show", slug=adoption.village.slug))


@bp.route("/operator/producers/<slug>/verify", methods=["GET", "POST"])
@login_required
def verify(slug: str):
    """An operator records the evangelist's farm visit."""
    operator_only()
    producer = found(get_producer, slug)
    form = VerifyForm()
    if form.validate_on_submit():
        try:
            services.verify_producer(operator=current_user, producer=producer, visited_on=form.visited_on.data,
                                     now=utcnow())  # fmt: skip
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("The farm is marked as verified."), "success")
            return redirect(url_for("producers.show", slug=producer.slug))
    evangelist = services.village_evangelist(producer.village_id)
    return render_template("evangelists/operator/verify.html", producer=producer, form=form, evangelist=evangelist)


@bp.route("/operator/hide/<kind>/<int:item_id>", methods=["GET", "POST"])
@login_required
def hide(kind: str, item_id: int):
    """An operator hides a story post, product or other registered content, with a reason."""
    operator_only()
    if kind not in moderation.HIDEABLE:
        abort(404)
    item = found(moderation.get_hideable, kind, item_id)
    form = HideContentForm()
    if form.validate_on_submit():
        try:
            moderation.hide_content(operator=current_user, kind=kind, item_id=item_id, reason=form.reason.data,
                                    now=utcnow())  # fmt: skip
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Hidden. The owner sees it with your reason; nobody else does."), "success")
            return redirect(safe_next("evangelists.hidden"))
    return render_template(
        "evangelists/operator/hide.html", form=form, kind=kind, item=item, label=moderation.HIDEABLE[kind].label
    )


@bp.post("/operator/unhide/<kind>/<int:item_id>")
@login_required
def unhide(kind: str, item_id: int):
    operator_only()
    if kind not in moderation.HIDEABLE:
        abort(404)
    found(moderation.get_hideable, kind, item_id)
    moderation.unhide_content(operator=current_user, kind=kind, item_id=item_id, now=utcnow())
    flash(_("Shown again."), "info")
    return redirect(url_for("evangelists.hidden"))


@bp.get("/operator/hidden")
@login_required
def hidden():
    """Everything operators have hidden, newest first."""
    operator_only()
    return render_template("evangelists/operator/hidden.html", items=moderation.hidden_items())
