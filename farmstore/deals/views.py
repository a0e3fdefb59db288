"""Market deal pages: today's deals, a market's calendar, a deal, my coupons, and the stall's
pages (set up, plan a deal, take coupons, the money)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from farmstore.deals import bp, services
from farmstore.deals.forms import BuyForm, DealForm, RedeemForm, StallForm
from farmstore.errors import DomainError, NotAllowed
from farmstore.forms import show_error
from farmstore.groupbuys import services as groupbuys
from farmstore.stories.views import qr_svg
from farmstore.timeutil import utcnow
from farmstore.villages.services import get_village
from farmstore.web import found


@bp.get("/deals")
def index():
    """Today's deal of every market and the next drops."""
    now = utcnow()
    return render_template(
        "deals/index.html", today=services.todays_deals(now=now), upcoming=services.upcoming_deals(now=now, limit=10),
        now=now,
    )  # fmt: skip


@bp.get("/villages/<slug>/deals")
def market(slug: str):
    """A market's calendar: its deal today, the deals planned ahead, and the latest ones."""
    village = found(get_village, slug)
    if village.kind != "market":
        abort(404)
    now = utcnow()
    today = [d for d in services.todays_deals(now=now) if d.village_id == village.id]
    return render_template(
        "deals/market.html", village=village, today=today[0] if today else None, now=now,
        upcoming=services.upcoming_deals(now=now, village=village),
        recent=services.recent_deals(now=now, village=village), stalls=services.stalls_of(village),
    )  # fmt: skip


@bp.get("/deals/<int:deal_id>")
def show(deal_id: int):
    """One deal, shareable: what the coupon is worth, progress to tipping, and buying."""
    deal = found(services.get_deal, deal_id)
    now = utcnow()
    mine = groupbuys.latest_pledge_of(deal.group_buy, current_user) if current_user.is_authenticated else None
    form = BuyForm(coupons=mine.units if mine and mine.status == "active" else 1)
    form.payment_method.choices = [
        c for c in form.payment_method.choices if c.value in current_app.config["PAYMENT_PROVIDERS"]
    ]
    return render_template(
        "deals/show.html", deal=deal, group_buy=deal.group_buy, stall=services.stall_of(deal.producer), now=now,
        state=deal.state(now), mine=mine, form=form,
    )  # fmt: skip


@bp.post("/deals/<int:deal_id>/buy")
@login_required
def buy(deal_id: int):
    """Buy coupons (or change how many): pay at the stall, or by card through the group-buy's
    card page (the card is saved now and charged only if the deal tips)."""
    deal = found(services.get_deal, deal_id)
    form = BuyForm()
    try:
        if not form.validate_on_submit():
            raise DomainError(_("Buy at least one coupon."))
        if form.payment_method.data == "stripe" and "stripe" in current_app.config["PAYMENT_PROVIDERS"]:
            return redirect(url_for("groupbuys.card", group_buy_id=deal.group_buy_id, units=form.coupons.data))
        services.buy_coupons(deal=deal, buyer=current_user, coupons=form.coupons.data, now=utcnow())
        flash(_("Saved. If the deal tips, your coupons arrive by email and on My coupons."), "success")
    except DomainError as error:
        flash(error.message, "error")
    return redirect(url_for("deals.show", deal_id=deal_id))


@bp.get("/my/coupons")
@login_required
def my_coupons():
    """The buyer's coupons, each with its code and QR, valid or used or expired."""
    coupons = services.coupons_of(current_user)
    qr = {c.id: qr_svg(c.code) for c in coupons}
    return render_template("deals/my_coupons.html", coupons=coupons, now=utcnow(), qr=qr)


def _stall(slug: str, *, redeem: bool = False):
    """The stall behind `slug`, if the signed-in user may manage it (404 otherwise: a stall's
    back office is not for others to find)."""
    producer = found(services.get_stall_producer, slug)
    allowed = services.may_redeem if redeem else services.may_manage
    if not allowed(current_user, producer):
        abort(404)
    return producer


@bp.route("/stalls/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit_stall(slug: str):
    """Where the stall is and when it opens (the stall, its evangelist or an operator)."""
    producer = _stall(slug)
    stall = services.stall_of(producer)
    form = StallForm(obj=stall)
    if form.validate_on_submit():
        try:
            services.save_stall(
                producer=producer, by=current_user, number=form.number.data, location=form.location.data,
                opens_at=form.opens_at.data, closes_at=form.closes_at.data, now=utcnow(),
            )  # fmt: skip
            flash(_("The stall is saved."), "success")
            return redirect(url_for("deals.market", slug=producer.village.slug))
        except DomainError as error:
            show_error(form, error)
    return render_template("deals/stall_form.html", form=form, producer=producer), 422 if form.errors else 200


@bp.route("/stalls/<slug>/deals/new", methods=["GET", "POST"])
@login_required
def new_deal(slug: str):
    """Plan a deal for one day of the market."""
    producer = _stall(slug)
    form = DealForm()
    if form.validate_on_submit():
        try:
            deal = services.create_deal(
                producer=producer, by=current_user, title=form.title.data, story=form.story.data, day=form.day.data,
                drop_time=form.drop_time.data, deadline_time=form.deadline_time.data, price=form.price.data,
                face_value=form.face_value.data, item=form.item.data, min_coupons=form.min_coupons.data,
                cap=form.cap.data, per_buyer=form.per_buyer.data, redeem_days=form.redeem_days.data, now=utcnow(),
            )  # fmt: skip
            flash(_("The deal is planned. It drops by itself at its drop time."), "success")
            return redirect(url_for("deals.show", deal_id=deal.id))
        except DomainError as error:
            show_error(form, error)
    return render_template("deals/deal_form.html", form=form, producer=producer), 422 if form.errors else 200


@bp.route("/stalls/<slug>/redeem", methods=["GET", "POST"])
@login_required
def redeem(slug: str):
    """The stall's phone page: type (or scan) a coupon's code to take it; today's coupons below."""
    producer = _stall(slug, redeem=True)
    form = RedeemForm()
    taken = None
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                taken = services.redeem(producer=producer, code=form.code.data, by=current_user, now=utcnow())
                form = RedeemForm(formdata=None)
            except (DomainError, NotAllowed) as error:
                show_error(form, error)
                status = 422
        else:
            status = 422
    now = utcnow()
    today = services.redeemed_today(producer, now=now)
    return render_template(
        "deals/redeem.html", producer=producer, form=form, taken=taken, today=today, now=now,
        today_total=sum(c.price for c in today),
    ), status  # fmt: skip


@bp.get("/stalls/<slug>/report")
@login_required
def report(slug: str):
    """The stall's coupons and money: sold, redeemed, unredeemed, held and owed."""
    producer = _stall(slug)
    return render_template(
        "deals/report.html", producer=producer,
        report=services.stall_report(producer, by=current_user, now=utcnow()),
        policy=current_app.config["DEAL_UNREDEEMED_POLICY"],
    )  # fmt: skip
