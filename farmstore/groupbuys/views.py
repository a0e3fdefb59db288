"""Group-buy pages: the progress everyone sees, pledging, and the producer's drafting."""

from __future__ import annotations

import contextlib

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from farmstore.csvfile import csv_response
from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.forms import reward_bps, show_error
from farmstore.groupbuys import bp, services
from farmstore.groupbuys.forms import (
    CancelGroupBuyForm,
    ClaimForm,
    FinalWeightForm,
    GroupBuyForm,
    PledgeForm,
    WaitlistForm,
)
from farmstore.groupbuys.models import HOLDING_PLEDGE_STATUSES, GroupBuyWaitlistEntry, Pledge
from farmstore.payments import stripe_flow, toss_flow
from farmstore.payments.providers import CARD_PROVIDERS
from farmstore.payments.toss_gateway import TossError
from farmstore.payments.views import stripe_page, toss_page, toss_widget_page
from farmstore.producers.services import get_producer
from farmstore.referrals import services as referrals
from farmstore.sales.forms import CheckInForm
from farmstore.sales.services import pickup_points_of
from farmstore.stories.services import subjects_of
from farmstore.timeutil import local_to_utc, utcnow
from farmstore.urls import external_url
from farmstore.web import found, owner_only


def progress_lines(group_buy, households: int) -> dict:
    """The progress sentences of the page, in the reader's language (shared by the page and its JSON)."""
    return {
        "pledged": ngettext(
            "%(pledged)d of %(total)d units pledged by %(num)d household",
            "%(pledged)d of %(total)d units pledged by %(num)d households",
            households, pledged=group_buy.units_pledged, total=group_buy.total_units,
        ),
        "percent": _(
            "%(pct)d%% of the minimum (%(min)d units) · %(pct_total)d%% of all units",
            pct=group_buy.percent_of_minimum, min=group_buy.min_units, pct_total=group_buy.percent_of_total,
        ),
    }  # fmt: skip


@bp.get("/group-buys/<int:group_buy_id>/progress.json")
def progress(group_buy_id: int):
    """The live numbers of the progress box, polled by static/js/progress.js."""
    group_buy = found(services.get_group_buy, group_buy_id)
    if group_buy.status == "draft" and not group_buy.producer.is_owned_by(current_user):
        abort(404)
    households = services.households(group_buy)
    return {
        "units_pledged": group_buy.units_pledged, "total_units": group_buy.total_units,
        "households": households, "status": group_buy.status, "minimum_reached": group_buy.minimum_reached,
        "lines": progress_lines(group_buy, households),
    }  # fmt: skip


@bp.get("/group-buys/<int:group_buy_id>")
def show(group_buy_id: int):
    """Progress, the plan, and the pledge form (or the buyer's pledge)."""
    group_buy = found(services.get_group_buy, group_buy_id)
    if group_buy.subject_id is None:  # the coupons of a market deal: its page is the deal's
        from farmstore.deals.services import deal_of_group_buy

        deal = deal_of_group_buy(group_buy.id)
        if deal is None:
            abort(404)
        return redirect(url_for("deals.show", deal_id=deal.id))
    mine = services.latest_pledge_of(group_buy, current_user) if current_user.is_authenticated else None
    holding = mine is not None and mine.status in HOLDING_PLEDGE_STATUSES
    form = _payment_choices(
        PledgeForm(
            units=mine.units if holding else 1, show_name=mine.show_name if holding else False,
            payment_method=mine.payment_method if holding else "pickup",
        )
    )  # fmt: skip
    return render_template(
        "groupbuys/show.html",
        group_buy=group_buy,
        now=utcnow(),
        mine=mine,
        holding=holding,
        form=form,
        households=services.households(group_buy),
        progress_lines=progress_lines,
        names=services.public_pledgers(group_buy),
        cancel_form=CancelGroupBuyForm(),
        place=services.waitlist_entry_of(group_buy, current_user) if current_user.is_authenticated else None,
        waitlist_form=WaitlistForm(),
        claim_form=_payment_choices(ClaimForm()),
    )


def _payment_choices(form: PledgeForm) -> PledgeForm:
    """Offer only the ways of paying this site takes."""
    form.payment_method.choices = [
        c for c in form.payment_method.choices if c.value in current_app.config["PAYMENT_PROVIDERS"]
    ]
    return form


@bp.post("/group-buys/<int:group_buy_id>/pledge")
@login_required
def pledge(group_buy_id: int):
    """Pledge or change one's pledge. Paying by card needs a saved card first: a new card is
    saved on the card page, which comes back here through `card_saved`."""
    group_buy = found(services.get_group_buy, group_buy_id)
    form = PledgeForm()
    card = None
    try:
        if not form.validate_on_submit():
            raise DomainError(_("Pledge at least one unit."))
        method = form.payment_method.data
        if method in CARD_PROVIDERS and method in current_app.config["PAYMENT_PROVIDERS"]:
            mine = services.pledge_of(group_buy, current_user)
            same = mine and mine.status == "active" and mine.payment_method == method
            card = mine.card_payment_method_id if same else None
            if card is None:
                return redirect(
                    url_for(
                        "groupbuys.card" if method == "stripe" else "groupbuys.toss_card", group_buy_id=group_buy_id,
                        units=form.units.data, show_name=int(form.show_name.data),
                    )
                )  # fmt: skip
        _save_pledge(group_buy, form.units.data, form.show_name.data, form.payment_method.data, card)
    except DomainError as error:
        flash(error.message, "error")
    return redirect(url_for("groupbuys.show", group_buy_id=group_buy_id))


def _save_pledge(group_buy, units: int, show_name: bool, payment_method: str, card: str | None) -> None:
    """Pledge through the service and say what happens next."""
    services.pledge(
        group_buy=group_buy, buyer=current_user, units=units, show_name=show_name, payment_method=payment_method,
        card_payment_method_id=card, now=utcnow(),
    )  # fmt: skip
    if payment_method in CARD_PROVIDERS:
        flash(_("Your pledge is saved with your card. It is charged only if the minimum is reached."), "success")
    else:
        flash(_("Your pledge is saved. Nobody pays unless the minimum is reached by the deadline."), "success")
    # The pledger's share link is ready on the page, to fill the group-buy (over today's link
    # limit, the page offers the button instead).
    with contextlib.suppress(DomainError):
        referrals.share(current_user, kind="groupbuy", target_id=group_buy.id, now=utcnow())


def _units_asked() -> tuple[int, bool]:
    """The units and name consent carried through the card page (the service checks them again)."""
    return request.args.get("units", 1, type=int), request.args.get("show_name", 0, type=int) == 1


@bp.get("/group-buys/<int:group_buy_id>/card")
@login_required
def card(group_buy_id: int):
    """Save a card for a pledge with Stripe's Payment Element (a SetupIntent): nothing is charged
    now. Stripe.js then sends the buyer to `card_saved`."""
    group_buy = found(services.get_group_buy, group_buy_id)
    units, show_name = _units_asked()
    if not group_buy.takes_pledges(utcnow()) or "stripe" not in current_app.config["PAYMENT_PROVIDERS"]:
        return redirect(url_for("groupbuys.show", group_buy_id=group_buy_id))
    client_secret, error = None, None
    try:
        client_secret = stripe_flow.start_card_setup(current_user, now=utcnow())
    except DomainError as failure:
        error = failure.message
    response = make_response(
        render_template(
            "groupbuys/card.html", group_buy=group_buy, units=units, client_secret=client_secret, error=error,
            publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
            return_url=external_url(
                "groupbuys.card_saved", group_buy_id=group_buy_id, units=units, show_name=int(show_name)
            ),
        )
    )  # fmt: skip
    return stripe_page(response)


@bp.get("/group-buys/<int:group_buy_id>/card/saved")
@login_required
def card_saved(group_buy_id: int):
    """Stripe.js's return: the card is checked with Stripe, then the pledge is made with it."""
    group_buy = found(services.get_group_buy, group_buy_id)
    units, show_name = _units_asked()
    try:
        saved = stripe_flow.finish_card_setup(current_user, request.args.get("setup_intent", ""), now=utcnow())
        _save_pledge(group_buy, units, show_name, "stripe", saved)
    except DomainError as error:
        flash(error.message, "error")
    return redirect(url_for("groupbuys.show", group_buy_id=group_buy_id))


@bp.get("/group-buys/<int:group_buy_id>/card/toss")
@login_required
def toss_card(group_buy_id: int):
    """Register a card for a pledge in Toss's billing widget: nothing is charged now. Toss then
    sends the buyer to `toss_card_saved` with an authKey."""
    group_buy = found(services.get_group_buy, group_buy_id)
    units, show_name = _units_asked()
    if not group_buy.takes_pledges(utcnow()) or "toss" not in current_app.config["PAYMENT_PROVIDERS"]:
        return redirect(url_for("groupbuys.show", group_buy_id=group_buy_id))
    config = current_app.config
    response = make_response(
        render_template(
            "groupbuys/toss_card.html", group_buy=group_buy, units=units, client_key=config["TOSS_CLIENT_KEY"],
            script_url=config["TOSS_SCRIPT_URL"], customer_key=toss_flow.customer_key(current_user),
            success_url=external_url(
                "groupbuys.toss_card_saved", group_buy_id=group_buy_id, units=units, show_name=int(show_name)
            ),
            fail_url=external_url("groupbuys.toss_card_failed", group_buy_id=group_buy_id),
        )
    )  # fmt: skip
    return toss_page(response)


@bp.get("/group-buys/<int:group_buy_id>/card/toss/saved")
@login_required
def toss_card_saved(group_buy_id: int):
    """Toss's billing redirect: the authKey becomes a billing key, and the pledge is made with it
    (a key whose pledge is refused is deleted at once)."""
    group_buy = found(services.get_group_buy, group_buy_id)
    units, show_name = _units_asked()
    try:
        billing_key = toss_flow.issue_billing_key(
            current_user, auth_key=request.args.get("authKey", ""),
            toss_customer_key=request.args.get("customerKey", ""),
        )  # fmt: skip
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("groupbuys.show", group_buy_id=group_buy_id))
    try:
        _save_pledge(group_buy, units, show_name, "toss", billing_key)
    except DomainError as error:
        flash(error.message, "error")
        with contextlib.suppress(TossError):
            toss_flow.delete_billing_key(billing_key)
    return redirect(url_for("groupbuys.show", group_buy_id=group_buy_id))


@bp.get("/group-buys/<int:group_buy_id>/card/toss/failed")
@login_required
def toss_card_failed(group_buy_id: int):
    """Toss's billing widget did not finish: say why; nothing was pledged or charged."""
    flash(toss_flow.failure_message(request.args.get("code", ""), request.args.get("message", "")), "error")
    return redirect(url_for("groupbuys.show", group_buy_id=group_buy_id))


@bp.post("/pledges/<int:pledge_id>/withdraw")
@login_required
def withdraw(pledge_id: int):
    record = db.session.get(Pledge, pledge_id)
    if record is None or record.buyer_id != current_user.id:
        abort(404)
    try:
        services.withdraw(record, by=current_user, now=utcnow())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("Your pledge is withdrawn."), "info")
    return redirect(url_for("groupbuys.show", group_buy_id=record.group_buy_id))


@bp.route("/producers/<slug>/group-buys/new", methods=["GET", "POST"])
@login_required
def new(slug: str):
    """The producer drafts a group-buy of one of their subjects."""
    producer = found(get_producer, slug)
    owner_only(producer)
    form = GroupBuyForm()
    form.subject_id.choices = [(s.id, f"{s.name} · {s.kind_label}") for s in subjects_of(producer)]
    form.pickup_point_id.choices = [(0, _("No pickup: delivery"))] + [
        (p.id, f"{p.name} · {p.area}") for p in pickup_points_of(producer)
    ]
    if form.validate_on_submit():
        tz = current_app.config["BABEL_DEFAULT_TIMEZONE"]
        local = {name: getattr(form, name).data for name in ("deadline", "pickup_starts_at", "pickup_ends_at")}
        try:
            group_buy = services.create_group_buy(
                producer=producer, by=current_user, subject_id=form.subject_id.data, title=form.title.data,
                story=form.story.data or "", unit_label=form.unit_label.data, unit_price=form.unit_price.data,
                total_units=form.total_units.data, min_units=form.min_units.data,
                per_buyer_max=form.per_buyer_max.data, deadline=local_to_utc(local["deadline"], tz),
                pickup_point_id=form.pickup_point_id.data or None,
                pickup_starts_at=local_to_utc(local["pickup_starts_at"], tz) if local["pickup_starts_at"] else None,
                pickup_ends_at=local_to_utc(local["pickup_ends_at"], tz) if local["pickup_ends_at"] else None,
                delivery_note=form.delivery_note.data or "", reward_bps=reward_bps(form.reward_percent),
                price_per_kg=form.price_per_kg.data, grams_per_unit=form.grams_per_unit.data, now=utcnow(),
            )  # fmt: skip
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Your group-buy is drafted. Check it, then open it."), "success")
            return redirect(url_for("groupbuys.show", group_buy_id=group_buy.id))
    return render_template("groupbuys/form.html", producer=producer, form=form)


@bp.post("/group-buys/<int:group_buy_id>/open")
@login_required
def open_(group_buy_id: int):
    group_buy = found(services.get_group_buy, group_buy_id)
    owner_only(group_buy.producer)
    try:
        services.open_group_buy(group_buy, by=current_user, now=utcnow())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("Your group-buy is open. Share it!"), "success")
    return redirect(url_for("groupbuys.show", group_buy_id=group_buy_id))


@bp.post("/group-buys/<int:group_buy_id>/cancel")
@login_required
def cancel(group_buy_id: int):
    group_buy = found(services.get_group_buy, group_buy_id)
    owner_only(group_buy.producer)
    form = CancelGroupBuyForm()
    try:
        if not form.validate_on_submit():
            raise DomainError(_("Tell pledgers why it is cancelled."))
        services.cancel_group_buy(group_buy, by=current_user, reason=form.reason.data, now=utcnow())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("The group-buy is cancelled; nobody will be charged."), "info")
    return redirect(url_for("groupbuys.show", group_buy_id=group_buy_id))


@bp.route("/group-buys/<int:group_buy_id>/allocation", methods=["GET", "POST"])
@login_required
def allocation(group_buy_id: int):
    """The producer's allocation sheet: who gets how many units; check-in by pickup code."""
    group_buy = found(services.get_group_buy, group_buy_id)
    owner_only(group_buy.producer)
    form = CheckInForm()
    if form.validate_on_submit():
        try:
            record = services.check_in_pledge(group_buy=group_buy, code=form.code.data, by=current_user, now=utcnow())
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Handed over (%(code)s).", code=record.pickup_code), "success")
            return redirect(url_for("groupbuys.allocation", group_buy_id=group_buy_id))
    pledges = services.allocation(group_buy, by=current_user)
    return render_template(
        "groupbuys/allocation.html", group_buy=group_buy, pledges=pledges, form=form, weight_form=FinalWeightForm()
    )


@bp.post("/pledges/<int:pledge_id>/final-weight")
@login_required
def final_weight(pledge_id: int):
    """The producer enters a share's final weight on the allocation sheet; the difference is
    settled at once."""
    record = db.session.get(Pledge, pledge_id)
    if record is None:
        abort(404)
    owner_only(record.group_buy.producer)
    form = FinalWeightForm()
    try:
        if not form.validate_on_submit() or form.grams.data is None:
            raise DomainError(_("Enter the final weight in grams, above zero."))
        services.settle_final_weight(record, grams=form.grams.data, by=current_user, now=utcnow())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("Final weight saved for %(code)s.", code=record.pickup_code), "success")
    return redirect(url_for("groupbuys.allocation", group_buy_id=record.group_buy_id))


@bp.get("/group-buys/<int:group_buy_id>/allocation.csv")
@login_required
def allocation_csv(group_buy_id: int):
    group_buy = found(services.get_group_buy, group_buy_id)
    owner_only(group_buy.producer)
    body = services.allocation_csv(group_buy, services.allocation(group_buy, by=current_user))
    return csv_response(body, f"allocation-{group_buy.id}.csv")


@bp.get("/pledges/<int:pledge_id>/pay")
@login_required
def pay(pledge_id: int):
    """The buyer pays a pledge whose card was declined (or an offer taken by card) with
    Stripe's Payment Element, before its grace period ends. The webhook and the tick record the
    payment whether or not the browser comes back."""
    record = db.session.get(Pledge, pledge_id)
    if record is None or record.buyer_id != current_user.id:
        abort(404)
    back = url_for("groupbuys.show", group_buy_id=record.group_buy_id)
    if record.status != "unpaid" or record.payment_method not in CARD_PROVIDERS:
        return redirect(back)
    payment = services.record_payment(record)
    if record.payment_method == "toss":
        return _toss_pay(record, payment, back)
    client_secret, error = None, None
    try:
        client_secret = stripe_flow.checkout_secret_after_decline(payment, now=utcnow())
    except DomainError as failure:
        error = failure.message
    else:
        if client_secret is None:  # paid, or too late, meanwhile
            return redirect(back)
    response = make_response(
        render_template(
            "groupbuys/pay.html", pledge=record, group_buy=record.group_buy, payment=payment,
            client_secret=client_secret, error=error, publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
            return_url=external_url("groupbuys.show", group_buy_id=record.group_buy_id),
        )
    )  # fmt: skip
    return stripe_page(response)


def _toss_pay(record: Pledge, payment, back: str):
    """Pay an unpaid pledge in Toss's widget, for the payment's next attempt."""
    toss_flow.reopen_after_decline(payment)
    if payment.status != "pending":  # paid, or too late, meanwhile
        return redirect(back)
    return toss_widget_page(
        "groupbuys/pay_toss.html", payment, order_name=record.group_buy.title[:100],
        success_url=external_url("groupbuys.toss_paid", pledge_id=record.id),
        fail_url=external_url("groupbuys.toss_pay_failed", pledge_id=record.id), pledge=record,
        group_buy=record.group_buy,
    )  # fmt: skip


def _my_toss_pledge(pledge_id: int) -> Pledge:
    record = db.session.get(Pledge, pledge_id)
    if record is None or record.buyer_id != current_user.id or record.payment_method != "toss":
        abort(404)
    return record


@bp.get("/pledges/<int:pledge_id>/pay/toss/success")
@login_required
def toss_paid(pledge_id: int):
    """Toss's redirect after the widget: our server confirms for the amount it holds."""
    record = _my_toss_pledge(pledge_id)
    try:
        toss_flow.confirm(
            services.record_payment(record), payment_key=request.args.get("paymentKey", ""),
            toss_order_id=request.args.get("orderId", ""), amount=request.args.get("amount", ""), now=utcnow(),
        )  # fmt: skip
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("Thank you! Your payment arrived and your pledge is paid."), "success")
    return redirect(url_for("groupbuys.show", group_buy_id=record.group_buy_id))


@bp.get("/pledges/<int:pledge_id>/pay/toss/fail")
@login_required
def toss_pay_failed(pledge_id: int):
    """The widget did not finish: say why; the pledge keeps its units until its grace period ends."""
    record = _my_toss_pledge(pledge_id)
    flash(toss_flow.failure_message(request.args.get("code", ""), request.args.get("message", "")), "error")
    return redirect(url_for("groupbuys.show", group_buy_id=record.group_buy_id))


@bp.post("/group-buys/<int:group_buy_id>/waitlist")
@login_required
def join_waitlist(group_buy_id: int):
    group_buy = found(services.get_group_buy, group_buy_id)
    form = WaitlistForm()
    try:
        if not form.validate_on_submit():
            raise DomainError(_("You can wait for 1 to %(n)d.", n=group_buy.per_buyer_max))
        services.join_waitlist(group_buy=group_buy, buyer=current_user, units=form.units.data, now=utcnow())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("You are on the waitlist. If units become free, we hold them for you and email you."), "success")
    return redirect(url_for("groupbuys.show", group_buy_id=group_buy_id))


def _my_place(entry_id: int) -> GroupBuyWaitlistEntry:
    """The signed-in buyer's waitlist place (404 for anyone else's)."""
    entry = db.session.get(GroupBuyWaitlistEntry, entry_id)
    if entry is None or entry.buyer_id != current_user.id:
        abort(404)
    return entry


@bp.post("/group-buy-waitlist/<int:entry_id>/leave")
@login_required
def leave_waitlist(entry_id: int):
    entry = _my_place(entry_id)
    services.leave_waitlist(entry, by=current_user, now=utcnow())
    flash(_("You left the waitlist."), "info")
    return redirect(url_for("groupbuys.show", group_buy_id=entry.group_buy_id))


@bp.post("/group-buy-waitlist/<int:entry_id>/claim")
@login_required
def claim(entry_id: int):
    """Take the units held for you; paying by card goes on to the pledge's pay page."""
    entry = _my_place(entry_id)
    form = ClaimForm()
    try:
        if not form.validate_on_submit():
            raise DomainError(_("This form has expired. Please submit it again."))
        record = services.claim_offer(entry, by=current_user, payment_method=form.payment_method.data, now=utcnow())
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("groupbuys.show", group_buy_id=entry.group_buy_id))
    if record.payment_method == "stripe":
        return redirect(url_for("groupbuys.pay", pledge_id=record.id))
    flash(_("They are yours. Pay when you get your share."), "success")
    return redirect(url_for("groupbuys.show", group_buy_id=entry.group_buy_id))
