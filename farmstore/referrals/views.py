"""Share links (/r/<token>), sharing, endorsements and a member's credit."""

from __future__ import annotations

import secrets

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, user_logged_in
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import Length

from farmstore.errors import DomainError
from farmstore.extensions import limiter
from farmstore.i18n import format_money
from farmstore.referrals import bp, services
from farmstore.stories.views import qr_svg
from farmstore.timeutil import utcnow
from farmstore.urls import external_url

GUEST_ARRIVALS_KEPT = 20  # producers a guest's session remembers links for


class ShareForm(FlaskForm):
    kind = HiddenField()
    target_id = HiddenField()
    show_name = BooleanField(_l("Show my name to the people I bring"), default=True)
    settings = HiddenField()  # "1" when sent from the link's settings, where show_name is shown


class EndorseForm(FlaskForm):
    kind = HiddenField()
    target_id = HiddenField()
    note = StringField(_l("A short note (optional)"), validators=[Length(max=services.ENDORSEMENT_NOTE_MAX)])


def _target_from(form) -> tuple[str, int]:
    try:
        return form.kind.data or "", int(form.target_id.data or "")
    except ValueError:
        abort(400)


@bp.get("/r/<token>")
def follow(token: str):
    """Open a share link: count the visit, remember who brought the visitor, go to the page.
    Unknown or tampered tokens simply lead home."""
    link = services.link_by_token(token)
    target = services.target_of(link.target_kind, link.target_id) if link else None
    if target is None:
        return redirect(url_for("main.home"))
    now = utcnow()
    guest = None
    if not current_user.is_authenticated:
        guest = session.setdefault("visitor", secrets.token_urlsafe(12))
    opened = services.open_link(link, user=current_user, guest=guest, now=now)
    if opened:
        session["shared_by_link"] = link.id  # greeted once, on the page they land on
    if opened and guest:
        arrivals = dict(session.get("arrivals", {}))
        key, value = services.guest_arrival(link, now=now)
        arrivals.pop(key, None)
        arrivals[key] = value  # newest last, so the oldest are dropped first
        session["arrivals"] = dict(list(arrivals.items())[-GUEST_ARRIVALS_KEPT:])
    return redirect(target.url)


@bp.app_context_processor
def _share_greeting() -> dict:
    """`share_greeting`: who sent the share link the visitor just opened (shown once)."""

    def greeting():
        link_id = session.pop("shared_by_link", None)
        return services.share_greeting(link_id) if link_id else None

    return {"share_greeting": greeting}


@user_logged_in.connect
def _adopt_arrivals(app, user, **_extra) -> None:
    """The links a guest arrived through become theirs when they sign in or register."""
    arrivals = session.pop("arrivals", None)
    if arrivals:
        services.adopt_guest_attributions(user, arrivals, now=utcnow())


@bp.post("/share")
@login_required
@limiter.limit("30 per minute")
def share():
    """Get (or make) the member's link to a page, then show it."""
    form = ShareForm()
    if not form.validate_on_submit():
        abort(400)
    kind, target_id = _target_from(form)
    try:
        show_name = form.show_name.data if form.settings.data == "1" else None
        link = services.share(current_user, kind=kind, target_id=target_id, now=utcnow(), show_name=show_name)
    except DomainError as error:
        flash(error.message, "error")
        target = services.target_of(kind, target_id)
        return redirect(target.url if target else url_for("main.home"))
    return redirect(url_for("referrals.link", token=link.token))


@bp.get("/share/<token>")
@login_required
def link(token: str):
    """The member's own share link: to copy, send or show as a QR code, with what it brought."""
    record = services.link_by_token(token)
    if record is None or record.user_id != current_user.id:
        abort(404)
    target = services.target_of(record.target_kind, record.target_id) or abort(404)
    url = external_url("referrals.follow", token=record.token)
    form = ShareForm(kind=record.target_kind, target_id=record.target_id, show_name=record.show_name, settings="1")
    return render_template(
        "referrals/link.html", link=record, target=target, url=url, qr=qr_svg(url), form=form,
        stats=services.link_stats(record), chain=services.chain_of(record.parent),
    )  # fmt: skip


@bp.post("/endorse")
@login_required
def endorse():
    """Recommend a producer or product publicly, or update one's note."""
    form = EndorseForm()
    if not form.validate_on_submit():
        flash(_("Keep your note under %(n)d characters.", n=services.ENDORSEMENT_NOTE_MAX), "error")
        return redirect(request.referrer or url_for("main.home"))
    kind, target_id = _target_from(form)
    try:
        services.endorse(current_user, kind=kind, target_id=target_id, note=form.note.data or "", now=utcnow())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("Thank you: your recommendation is public."), "success")
    target = services.target_of(kind, target_id)
    return redirect(target.url if target else url_for("main.home"))


@bp.post("/endorse/withdraw")
@login_required
def withdraw_endorsement():
    form = EndorseForm()
    if not form.validate_on_submit():
        abort(400)
    kind, target_id = _target_from(form)
    services.withdraw_endorsement(current_user, kind=kind, target_id=target_id)
    flash(_("You no longer recommend this."), "info")
    target = services.target_of(kind, target_id)
    return redirect(target.url if target else url_for("main.home"))


@bp.app_template_global()
def share_box(kind: str, target_id: int) -> dict:
    """What the share partial needs on a page: the viewer's link to it (if made) and the form."""
    mine = services.link_of(current_user, kind, target_id) if current_user.is_authenticated else None
    return {
        "link": mine,
        "url": external_url("referrals.follow", token=mine.token) if mine else None,
        "form": ShareForm(kind=kind, target_id=target_id),
    }


@bp.app_template_global()
def recommendations_box(kind: str, target_id: int, producer_id: int) -> dict:
    """What the recommendations partial needs: counts, names the viewer knows, the form."""
    found = services.recommendations(kind, target_id, viewer=current_user, producer_id=producer_id, now=utcnow())
    note = found.mine.note if found.mine else ""
    return {"found": found, "form": EndorseForm(kind=kind, target_id=target_id, note=note)}


@bp.app_template_filter("recommender")
def recommender(step) -> str:
    """How a recommender (a link or a recorded chain entry) is named to others: by name only with
    their consent, "a former member" once the account is gone."""
    if step.user is None:
        return _("a former member")
    return step.user.display_name if step.show_name else _("a neighbour")


@bp.app_template_global()
def credit_for(producer_id: int) -> dict:
    """What the signed-in member can spend with a producer at checkout: the total, and the gift
    certificates of the producer's market among it (nothing for guests)."""
    if not current_user.is_authenticated:
        return {"total": 0, "certificates": []}
    general, certificates = services.spendable_with(current_user, producer_id=producer_id, now=utcnow())
    return {"total": general + sum(c.remaining for c in certificates), "certificates": certificates}


@bp.app_template_global()
def certificate_line(certificate) -> str:
    """A gift certificate as buyers read it: "강릉 중앙시장 상품권 3,000원 · 2027년 3월 4일까지", or
    that it has expired or been used up."""
    name = certificate_name(certificate)
    last_day = format_date(certificate.valid_through, "long")
    if certificate.is_expired(utcnow()):
        return _("%(name)s · expired on %(date)s", name=name, date=last_day)
    if not certificate.remaining:
        return _("%(name)s · used up", name=name)
    return _("%(name)s %(amount)s · until %(date)s", name=name, amount=format_money(certificate.remaining),
             date=last_day)  # fmt: skip


@bp.app_template_global()
def certificate_spends(order) -> list:
    """(certificate, won) that the buyer's gift certificates paid of an order."""
    return services.certificate_spends(order=order)


@bp.app_template_global()
def certificate_name(certificate) -> str:
    """ "강릉 중앙시장 상품권": which market's gift certificate."""
    return _("%(market)s gift certificate", market=certificate.village.name)


from farmstore.referrals import insight_views  # noqa: E402, F401 (routes of the insight pages)
