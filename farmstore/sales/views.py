"""Sale pages: announce, buy, pick up, and the producer's roster."""

from __future__ import annotations

import secrets

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from wtforms import SelectChoice

from farmstore.accounts.services import save_phone
from farmstore.catalog.services import products_of
from farmstore.csvfile import csv_response
from farmstore.errors import DomainError, NotAllowed
from farmstore.extensions import db
from farmstore.forms import reward_bps, show_error
from farmstore.payments import services as payments
from farmstore.producers.services import get_producer
from farmstore.referrals import services as referrals
from farmstore.sales import bp, calendar, services
from farmstore.sales.forms import (
    AreaRequestForm,
    CancelSaleForm,
    CheckInForm,
    OrderForm,
    PickupPointForm,
    RefundForm,
    SaleForm,
    WaitlistForm,
)
from farmstore.sales.models import SaleItem, WaitlistEntry
from farmstore.stories.views import qr_svg
from farmstore.timeutil import local_to_utc, utcnow
from farmstore.urls import external_url
from farmstore.web import found, owner_only


def _tz() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


@bp.route("/producers/<slug>/pickup-points", methods=["GET", "POST"])
@login_required
def pickup_points(slug: str):
    producer = found(get_producer, slug)
    owner_only(producer)
    form = PickupPointForm()
    if form.validate_on_submit():
        try:
            services.create_pickup_point(
                producer=producer, by=current_user, name=form.name.data, address=form.address.data,
                area=form.area.data, latitude=form.latitude.data, longitude=form.longitude.data,
                directions=form.directions.data or "", now=utcnow(),
            )  # fmt: skip
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Pickup point saved."), "success")
            return redirect(request.args.get("next") or url_for("sales.pickup_points", slug=slug))
    points = services.pickup_points_of(producer)
    return render_template("sales/pickup_points.html", producer=producer, points=points, form=form)


@bp.route("/producers/<slug>/sales/new", methods=["GET", "POST"])
@login_required
def new_sale(slug: str):
    producer = found(get_producer, slug)
    owner_only(producer)
    points = services.pickup_points_of(producer)
    if not points:
        flash(_("First add a pickup point: where buyers will meet you."), "info")
        return redirect(url_for("sales.pickup_points", slug=slug, next=url_for("sales.new_sale", slug=slug)))
    products = {p.id: p for p in products_of(producer)}
    form = SaleForm()
    form.pickup_point_id.choices = [SelectChoice(p.id, f"{p.name} · {p.area}") for p in points]
    if request.method == "GET":
        for product in products.values():
            form.items.append_entry({"product_id": product.id})
    if form.validate_on_submit():
        tz = _tz()
        try:
            sale = services.create_sale(
                producer=producer, by=current_user, title=form.title.data, description=form.description.data or "",
                pickup_point_id=form.pickup_point_id.data, opens_at=local_to_utc(form.opens_at.data, tz),
                closes_at=local_to_utc(form.closes_at.data, tz),
                pickup_starts_at=local_to_utc(form.pickup_starts_at.data, tz),
                pickup_ends_at=local_to_utc(form.pickup_ends_at.data, tz), items=_item_specs(form),
                reward_bps=reward_bps(form.reward_percent), now=utcnow(),
            )  # fmt: skip
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Your sale is announced."), "success")
            return redirect(url_for("sales.show", sale_id=sale.id))
    return render_template("sales/sale_form.html", producer=producer, form=form, products=products)


def _item_specs(form: SaleForm) -> list[services.ItemSpec]:
    """Rows with a quantity become sale items; empty rows are products left out of this sale."""
    specs = []
    for row in form.items:
        if not row.quantity.data:
            continue
        if row.price.data is None:
            raise DomainError(_("Give a price for every product you offer."), field="items")
        specs.append(
            services.ItemSpec(
                product_id=int(row.product_id.data or 0),
                price=row.price.data,
                quantity=row.quantity.data,
                per_buyer_limit=row.per_buyer_limit.data or row.quantity.data,
            )
        )
    return specs


def stock_line(item: SaleItem) -> str:
    """What is left of a sale item, in the reader's language (the page and its JSON share it)."""
    return _(
        "%(left)d of %(total)d left · up to %(limit)d per person",
        left=max(item.remaining, 0), total=item.quantity, limit=item.per_buyer_limit,
    )  # fmt: skip


@bp.get("/sales/<int:sale_id>/progress.json")
def progress(sale_id: int):
    """What is left of each item, polled by static/js/progress.js while the sale page is open."""
    sale = found(services.get_sale, sale_id)
    return {
        "status": sale.status(utcnow()),
        "remaining": {str(item.id): max(item.remaining, 0) for item in sale.items},
        "items": {str(item.id): stock_line(item) for item in sale.items},
    }


@bp.get("/sales/<int:sale_id>")
def show(sale_id: int):
    sale = found(services.get_sale, sale_id)
    now = utcnow()
    form = OrderForm(checkout_key=secrets.token_urlsafe(16))
    form.payment_method.choices = [
        c for c in form.payment_method.choices if c.value in current_app.config["PAYMENT_PROVIDERS"]
    ]
    signed_in = current_user.is_authenticated
    return render_template(
        "sales/sale.html",
        sale=sale,
        stock_line=stock_line,
        now=now,
        form=form,
        waitlist=services.waitlist_places(sale, current_user) if signed_in else {},
        my_order=services.active_order_of(sale, current_user) if signed_in else None,
        waitlist_form=WaitlistForm(),
    )


def _order_form() -> OrderForm:
    """The order form as posted, offering the ways of paying this site accepts."""
    form = OrderForm()
    form.payment_method.choices = [
        c for c in form.payment_method.choices if c.value in current_app.config["PAYMENT_PROVIDERS"]
    ]
    return form


def _review_page(sale, form: OrderForm, quantities: dict[int, int]):
    """The review step: what will be ordered, for how much, where and when, and how it is paid."""
    review = services.review_order(
        sale=sale, buyer=current_user, quantities=quantities, payment_method=form.payment_method.data,
        use_credit=form.use_credit.data, now=utcnow(),
    )  # fmt: skip
    methods = {choice.value: choice.label for choice in form.payment_method.choices}
    return render_template(
        "sales/review.html", sale=sale, form=form, review=review, quantities=quantities,
        method_label=methods.get(review.payment_method, review.payment_method),
    )  # fmt: skip


@bp.post("/sales/<int:sale_id>/review")
@login_required
def review(sale_id: int):
    """Step one of checkout: check the order and show it for confirmation; nothing is taken yet."""
    sale = found(services.get_sale, sale_id)
    form = _order_form()
    quantities = {item.id: _typed_quantity(request.form.get(f"qty-{item.id}", "")) for item in sale.items}
    try:
        if not form.validate_on_submit():
            raise DomainError(_("This form has expired. Please submit it again."))
        return _review_page(sale, form, quantities)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("sales.show", sale_id=sale_id))


@bp.post("/sales/<int:sale_id>/order")
@login_required
def order_now(sale_id: int):
    """Step two of checkout: the buyer confirmed; the order is placed and the stock taken."""
    sale = found(services.get_sale, sale_id)
    form = OrderForm()
    quantities = {item.id: _typed_quantity(request.form.get(f"qty-{item.id}", "")) for item in sale.items}
    try:
        if not form.validate_on_submit():
            raise DomainError(_("This form has expired. Please submit it again."))
        if form.phone.data and not current_user.phone:
            try:
                save_phone(current_user, phone=form.phone.data)
            except DomainError as error:
                form.phone.errors = [error.message]
                return _review_page(sale, form, quantities)
        order = services.place_order(
            sale=sale, buyer=current_user, quantities=quantities, payment_method=form.payment_method.data,
            checkout_key=form.checkout_key.data, use_credit=form.use_credit.data, now=utcnow(),
        )  # fmt: skip
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("sales.show", sale_id=sale_id))
    if order.status == "reserved":
        return redirect(url_for("payments.pay_order", order_id=order.id))
    flash(_("Your order is confirmed. Show your pickup code when you collect it."), "success")
    return redirect(url_for("sales.order", order_id=order.id))


def _typed_quantity(raw: str) -> int:
    """A quantity as typed: empty is 0, a whole number is itself, anything else ("two", "1.5",
    "²") is -1, which the service refuses with a message."""
    try:
        return int(raw.strip() or "0")
    except ValueError:
        return -1


def _order_for_viewer(order_id: int):
    order = found(services.get_order, order_id)
    if order.buyer_id != current_user.id and not order.sale.producer.is_owned_by(current_user):
        abort(404)  # nobody sees what another buyer bought
    return order


@bp.get("/orders/<int:order_id>")
@login_required
def order(order_id: int):
    order = _order_for_viewer(order_id)
    code_url = external_url("sales.roster", sale_id=order.sale_id, code=order.pickup_code)
    return render_template(
        "sales/order.html", order=order, now=utcnow(), qr=qr_svg(code_url), payment=services.payment_of(order),
        refund_form=RefundForm(), from_credit=services.credit_paid(order), referral=referrals.referral_for(order=order),
    )  # fmt: skip


@bp.post("/orders/<int:order_id>/cancel")
@login_required
def cancel_order(order_id: int):
    order = _order_for_viewer(order_id)
    try:
        services.cancel_order(order, by=current_user, now=utcnow())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("Your order is cancelled."), "info")
    return redirect(url_for("sales.order", order_id=order_id))


@bp.post("/orders/<int:order_id>/refund")
@login_required
def refund_order(order_id: int):
    order = _order_for_viewer(order_id)
    payment = services.payment_of(order)
    form = RefundForm()
    if payment is None or not form.validate_on_submit():
        flash(_("Enter an amount and a reason."), "error")
        return redirect(url_for("sales.order", order_id=order_id))
    try:
        payments.refund(payment, amount=form.amount.data, reason=form.reason.data, by=current_user, now=utcnow())
    except NotAllowed:
        abort(403)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("Refunded."), "success")
    return redirect(url_for("sales.order", order_id=order_id))


@bp.get("/orders")
@login_required
def my_orders():
    return render_template("sales/my_orders.html", orders=services.orders_of(current_user), now=utcnow())


@bp.get("/orders/<int:order_id>/pickup.ics")
@login_required
def order_ics(order_id: int):
    order = _order_for_viewer(order_id)
    if order.status in ("cancelled", "expired"):
        abort(404)  # nothing to pick up any more
    return Response(
        calendar.order_ics(order), mimetype="text/calendar", headers=_attachment(f"pickup-{order.pickup_code}.ics")
    )


@bp.get("/sales/<int:sale_id>/sale.ics")
def sale_ics(sale_id: int):
    sale = found(services.get_sale, sale_id)
    return Response(calendar.sale_ics(sale), mimetype="text/calendar", headers=_attachment(f"sale-{sale.id}.ics"))


def _attachment(name: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@bp.route("/sales/<int:sale_id>/roster", methods=["GET", "POST"])
@login_required
def roster(sale_id: int):
    sale = found(services.get_sale, sale_id)
    owner_only(sale.producer)
    form = CheckInForm(code=request.args.get("code", ""))
    if form.validate_on_submit():
        try:
            order = services.check_in(sale=sale, code=form.code.data, by=current_user, now=utcnow())
        except DomainError as error:
            show_error(form, error)
        else:
            name = order.buyer.display_name if order.buyer else _("a former member")
            flash(_("Handed over to %(name)s (%(code)s).", name=name, code=order.pickup_code), "success")
            return redirect(url_for("sales.roster", sale_id=sale_id, sort=request.args.get("sort", "name")))
    sort = request.args.get("sort", "name")
    orders = services.roster(sale, by=current_user, sort=sort)
    return render_template(
        "sales/roster.html", sale=sale, orders=orders, form=form, sort=sort, now=utcnow(), cancel_form=CancelSaleForm()
    )


@bp.get("/sales/<int:sale_id>/roster.csv")
@login_required
def roster_csv(sale_id: int):
    sale = found(services.get_sale, sale_id)
    owner_only(sale.producer)
    orders = services.roster(sale, by=current_user, sort=request.args.get("sort", "name"))
    return csv_response(services.roster_csv(sale, orders), f"roster-{sale.id}.csv")


@bp.post("/sales/<int:sale_id>/cancel")
@login_required
def cancel_sale(sale_id: int):
    sale = found(services.get_sale, sale_id)
    owner_only(sale.producer)
    form = CancelSaleForm()
    try:
        if not form.validate_on_submit():
            raise DomainError(_("Tell buyers why the sale is cancelled."))
        count = services.cancel_sale(sale, by=current_user, reason=form.reason.data, now=utcnow())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(
            ngettext(
                "The sale is cancelled; %(num)d buyer was told and refunded.",
                "The sale is cancelled; %(num)d buyers were told and refunded.",
                count,
            ),
            "info",
        )
    return redirect(url_for("sales.roster", sale_id=sale_id))


@bp.post("/sales/<int:sale_id>/items/<int:item_id>/waitlist")
@login_required
def join_waitlist(sale_id: int, item_id: int):
    item = db.session.get(SaleItem, item_id)
    if item is None or item.sale_id != sale_id:
        abort(404)
    form = WaitlistForm()
    try:
        if not form.validate_on_submit():
            raise DomainError(_("Say how many you would like."))
        services.join_waitlist(item=item, buyer=current_user, quantity=form.quantity.data, now=utcnow())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("You are on the waitlist. We will email you if some become free."), "success")
    return redirect(url_for("sales.show", sale_id=sale_id))


@bp.post("/waitlist/<int:entry_id>/leave")
@login_required
def leave_waitlist(entry_id: int):
    entry = db.session.get(WaitlistEntry, entry_id)
    if entry is None or entry.buyer_id != current_user.id:
        abort(404)
    services.leave_waitlist(entry, by=current_user, now=utcnow())
    return redirect(url_for("sales.show", sale_id=entry.sale_item.sale_id))


@bp.post("/producers/<slug>/area-requests")
@login_required
def request_area(slug: str):
    producer = found(get_producer, slug)
    form = AreaRequestForm()
    try:
        if not form.validate_on_submit():
            raise DomainError(_("Say which district, like Mapo-gu."))
        services.request_area(producer=producer, buyer=current_user, area=form.area.data, now=utcnow())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(
            _(
                "Asked! %(farm)s will see that buyers in %(area)s are waiting.",
                farm=producer.farm_name,
                area=form.area.data,
            ),
            "success",
        )
    return redirect(url_for("producers.show", slug=slug))


@bp.get("/producers/<slug>/sales")
@login_required
def producer_sales(slug: str):
    producer = found(get_producer, slug)
    owner_only(producer)
    return render_template(
        "sales/producer_sales.html", producer=producer, sales=services.sales_of(producer), now=utcnow(),
        demand=services.demand_by_area(producer, by=current_user),
    )  # fmt: skip
