"""Evangelist pages: applying to adopt a village, handing it over, invitations, the dashboard."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from farmstore.errors import DomainError
from farmstore.evangelists import boards, bp, services
from farmstore.evangelists.forms import ApplyForm, CodeForm, HandoverForm, InvitationForm, JoinForm
from farmstore.forms import show_error
from farmstore.timeutil import utcnow
from farmstore.villages.services import get_village
from farmstore.web import found


def _back(error: DomainError, endpoint: str = "evangelists.dashboard", **values):
    """Flash a refused action and go back."""
    flash(error.message, "error")
    return redirect(url_for(endpoint, **values))


@bp.route("/villages/<slug>/adopt", methods=["GET", "POST"])
@login_required
def apply(slug: str):
    """A signed-in user asks the operators to let them adopt this village."""
    village = found(get_village, slug)
    form = ApplyForm()
    if form.validate_on_submit():
        try:
            services.apply_to_adopt(user=current_user, village_id=village.id, motivation=form.motivation.data,
                                    now=utcnow())  # fmt: skip
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Thank you! The operators will read your application and answer by email."), "success")
            return redirect(url_for("evangelists.dashboard"))
    evangelist = services.village_evangelist(village.id)
    return render_template("evangelists/apply.html", village=village, form=form, evangelist=evangelist)


@bp.get("/evangelist")
@login_required
def dashboard():
    """The evangelist's village dashboard; for anyone else, their applications and handovers."""
    adoption = services.active_adoption_of_user(current_user)
    now = utcnow()
    if adoption is None:
        return render_template(
            "evangelists/status.html",
            adoptions=services.adoptions_of(current_user),
            handovers=services.handovers_offered_to(current_user),
        )
    return render_template(
        "evangelists/dashboard.html",
        adoption=adoption,
        board=boards.village_board(adoption.village, now=now),
        impact=boards.impact(current_user),
        invitations=services.invitations_of(current_user, now=now),
        invitation_form=InvitationForm(),
        handover_form=HandoverForm(),
        handovers=services.handovers_offered_to(current_user),
        now=now,
    )


@bp.post("/evangelist/invitations")
@login_required
def invite():
    """The evangelist makes a new invitation."""
    form = InvitationForm()
    if not form.validate_on_submit():
        return _back(DomainError(_("Check the note: it is too long.")))
    try:
        invitation = services.create_invitation(by=current_user, note=form.note.data or "", now=utcnow())
    except DomainError as error:
        return _back(error)
    flash(_("Invitation %(code)s is ready. Share its link or code with the producer.", code=invitation.code), "success")
    return redirect(url_for("evangelists.dashboard", _anchor="invitations"))


@bp.post("/evangelist/invitations/<int:invitation_id>/revoke")
@login_required
def revoke(invitation_id: int):
    """The evangelist withdraws an unused invitation; others get 403."""
    invitation = found(services.get_invitation, invitation_id)
    if invitation.evangelist_id != current_user.id:
        abort(403)
    try:
        services.revoke_invitation(invitation, by=current_user, now=utcnow())
    except DomainError as error:
        return _back(error)
    flash(_("The invitation is withdrawn; its code no longer works."), "info")
    return redirect(url_for("evangelists.dashboard", _anchor="invitations"))


@bp.post("/evangelist/handover")
@login_required
def offer_handover():
    """The evangelist names a successor, who must accept."""
    adoption = services.active_adoption_of_user(current_user)
    if adoption is None:
        abort(403)
    form = HandoverForm()
    try:
        services.offer_handover(adoption, by=current_user, successor_email=form.email.data or "", now=utcnow())
    except DomainError as error:
        return _back(error)
    flash(_("We emailed your successor. The village is theirs once they accept."), "success")
    return redirect(url_for("evangelists.dashboard"))


@bp.route("/evangelist/handover/<int:adoption_id>", methods=["GET", "POST"])
@login_required
def handover(adoption_id: int):
    """The named successor reads the offer and accepts it; nobody else may see it."""
    adoption = found(services.get_adoption, adoption_id)
    if adoption.successor_id != current_user.id or not adoption.is_active:
        abort(403)
    form = HandoverForm()
    if form.is_submitted():
        try:
            services.accept_handover(adoption, by=current_user, now=utcnow())
        except DomainError as error:
            return _back(error)
        flash(_("You are now the evangelist of %(village)s.", village=adoption.village.name), "success")
        return redirect(url_for("evangelists.dashboard"))
    return render_template("evangelists/handover.html", adoption=adoption, form=form)


@bp.post("/evangelist/handover/<int:adoption_id>/cancel")
@login_required
def cancel_handover(adoption_id: int):
    """The evangelist withdraws the offer, or the successor declines it."""
    adoption = found(services.get_adoption, adoption_id)
    try:
        services.cancel_handover(adoption, by=current_user)
    except DomainError:
        abort(403)
    flash(_("The handover is cancelled."), "info")
    return redirect(url_for("evangelists.dashboard"))


@bp.post("/evangelist/step-down")
@login_required
def step_down():
    """The evangelist ends their adoption; the village can be adopted again."""
    adoption = services.active_adoption_of_user(current_user)
    if adoption is None:
        abort(403)
    services.end_adoption(adoption, by=current_user, now=utcnow())
    flash(_("You no longer look after %(village)s. Thank you for your help!", village=adoption.village.name), "info")
    return redirect(url_for("evangelists.dashboard"))


@bp.route("/join", methods=["GET", "POST"])
def join_with_code():
    """Someone types the code an evangelist gave them."""
    form = CodeForm()
    if form.validate_on_submit():
        return redirect(url_for("evangelists.join", code=services.normalise_code(form.code.data)))
    return render_template("evangelists/join_code.html", form=form)


@bp.route("/join/<code>", methods=["GET", "POST"])
def join(code: str):
    """An invitation: visitors are asked to join or sign in first, then fill in their farm."""
    now = utcnow()
    try:
        invitation = services.open_invitation(code, now=now)
    except DomainError as error:
        return render_template("evangelists/join_refused.html", message=error.message), 410
    form = JoinForm()
    if current_user.is_authenticated and current_user.producer is None and form.validate_on_submit():
        try:
            producer = services.accept_invitation(
                code=code, user=current_user, farm_name=form.farm_name.data, about=form.about.data or "",
                contact=form.contact.data or "", now=now,
            )  # fmt: skip
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Welcome to %(village)s! Your producer page is ready.", village=invitation.village.name), "success")
            return redirect(url_for("producers.show", slug=producer.slug))
    evangelist = invitation.evangelist
    return render_template("evangelists/join.html", invitation=invitation, evangelist=evangelist, form=form)


@bp.app_template_global()
def village_adoptions(village_id: int) -> list:
    """For the village page: its evangelist and everyone before them."""
    return services.village_history(village_id)


@bp.app_template_global()
def producer_trust(producer) -> dict:
    """For the producer page: the latest farm visit and the evangelist who onboarded them."""
    helper = services.helper_of(producer)
    return {"verification": services.latest_verification(producer), "helper": helper.user if helper else None}


from farmstore.evangelists import operator_views  # noqa: E402, F401  (registers the operators' routes)
