"""Product pages and browsing by kind and region."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms import SelectChoice

from farmstore.catalog import bp, services
from farmstore.catalog.forms import ProductForm
from farmstore.catalog.labelling import label_facts
from farmstore.catalog.models import CATEGORIES
from farmstore.errors import DomainError
from farmstore.forms import show_error
from farmstore.producers.services import get_producer
from farmstore.sales.services import lowest_prices, sales_for_product
from farmstore.stories.services import recent_posts, subjects_of
from farmstore.timeutil import utcnow
from farmstore.villages.regions import REGIONS
from farmstore.web import found, owner_only

LATEST_POSTS = 5
LABEL_FIELDS = ("weight_grams", "origin", "trace_number", "grade", "packed_on", "use_by", "storage", "ingredients")


def _form(producer, **kwargs) -> ProductForm:
    """The product form, offering the producer's own subjects as checkboxes."""
    form = ProductForm(**kwargs)
    form.subject_ids.choices = [SelectChoice(s.id, f"{s.name} · {s.kind_label}") for s in subjects_of(producer)]
    return form


def _fields(form: ProductForm) -> dict:
    """The service's keyword arguments from a validated form."""
    return {
        "name": form.name.data,
        "unit": form.unit.data,
        "category": form.category.data,
        "description": form.description.data or "",
        "subject_ids": form.subject_ids.data or [],
        "photos": form.new_photos.data,
        "label": {name: getattr(form, name).data for name in LABEL_FIELDS},
    }


@bp.route("/producers/<producer_slug>/products/new", methods=["GET", "POST"])
@login_required
def new_product(producer_slug: str):
    """The owner lists a product."""
    producer = found(get_producer, producer_slug)
    owner_only(producer)
    form = _form(producer)
    if form.validate_on_submit():
        try:
            product = services.create_product(producer=producer, by=current_user, now=utcnow(), **_fields(form))
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("The product is listed."), "success")
            return redirect(url_for("catalog.product", producer_slug=producer.slug, product_slug=product.slug))
    return render_template("catalog/product_form.html", form=form, producer=producer, product=None)


@bp.get("/producers/<producer_slug>/products/<product_slug>")
def product(producer_slug: str, product_slug: str):
    """A product's public page with the latest stories of the subjects it comes from."""
    product = found(services.get_product, producer_slug, product_slug)
    if product.is_hidden and not product.producer.is_owned_by(current_user):
        abort(404)
    posts = recent_posts(limit=LATEST_POSTS, subject_ids=[s.id for s in product.subjects]) if product.subjects else []
    now = utcnow()
    return render_template(
        "catalog/product.html",
        product=product,
        posts=posts,
        sales=sales_for_product(product, now=now),
        lowest=lowest_prices([product.id], now=now).get(product.id),
        now=now,
        label_facts=label_facts(product, format_date),
    )


@bp.route("/producers/<producer_slug>/products/<product_slug>/edit", methods=["GET", "POST"])
@login_required
def edit_product(producer_slug: str, product_slug: str):
    """The owner edits a product; anyone else gets 403."""
    product = found(services.get_product, producer_slug, product_slug)
    owner_only(product.producer)
    form = _form(product.producer, obj=product)
    if request.method == "GET":
        form.subject_ids.data = [s.id for s in product.subjects]
    if form.validate_on_submit():
        try:
            services.update_product(product, by=current_user, now=utcnow(), **_fields(form))
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("catalog.product", producer_slug=producer_slug, product_slug=product_slug))
    return render_template("catalog/product_form.html", form=form, producer=product.producer, product=product)


@bp.post("/producers/<producer_slug>/products/<product_slug>/delete")
@login_required
def delete_product(producer_slug: str, product_slug: str):
    """The owner deletes a product; anyone else gets 403."""
    product = found(services.get_product, producer_slug, product_slug)
    owner_only(product.producer)
    services.delete_product(product, by=current_user)
    flash(_("Deleted."), "info")
    return redirect(url_for("producers.show", slug=producer_slug))


@bp.get("/browse")
def browse():
    """Products by kind and region, a page at a time; unknown filters are ignored."""
    category = request.args.get("category") if request.args.get("category") in CATEGORIES else None
    region = request.args.get("region") if request.args.get("region") in REGIONS else None
    page = services.browse_products(category=category, region=region, page=request.args.get("page", 1, type=int) or 1)
    return render_template(
        "catalog/browse.html",
        page=page,
        prices=lowest_prices([p.id for p in page.items], now=utcnow()),
        category=category,
        region=region,
        categories=CATEGORIES,
        regions=REGIONS,
    )
