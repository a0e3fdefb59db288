"""Product rules: a producer lists products made from their own subjects."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from farmstore.catalog.labelling import check_label_facts
from farmstore.catalog.models import (
    CATEGORIES,
    DESCRIPTION_MAX_LENGTH,
    NAME_MAX_LENGTH,
    UNIT_MAX_LENGTH,
    Product,
    ProductPhoto,
    product_subjects,
)
from farmstore.errors import DomainError, NotFound
from farmstore.evangelists.moderation import visible
from farmstore.extensions import db
from farmstore.media.services import delete_photo_files, save_photos
from farmstore.pagination import Page, paginate
from farmstore.producers.models import Producer
from farmstore.stories.models import Subject
from farmstore.stories.services import require_owner, today
from farmstore.text import unique_slug
from farmstore.timeutil import utcnow
from farmstore.villages.models import Village

MAX_PHOTOS = 8
PER_PAGE = 12


def _too_long(value: str, limit: int, field: str) -> None:
    """Refuse `value` when it has more than `limit` characters (the column would not hold it)."""
    if len(value) > limit:
        raise DomainError(_l("Use at most %(n)d characters.", n=limit), field=field)


def _checked(
    producer: Producer, *, name: str, unit: str, category: str, description: str, subject_ids
) -> tuple[str, str, str, list[Subject]]:
    """The trimmed name, unit and description and the chosen subjects, once all are acceptable:
    every subject must be one of the producer's own."""
    name, unit, description = name.strip(), unit.strip(), description.strip()
    if not name:
        raise DomainError(_l("Give the product a name."), field="name")
    _too_long(name, NAME_MAX_LENGTH, "name")
    if not unit:
        raise DomainError(_l("Say what one unit is: a box, a kg, a share."), field="unit")
    _too_long(unit, UNIT_MAX_LENGTH, "unit")
    _too_long(description, DESCRIPTION_MAX_LENGTH, "description")
    if category not in CATEGORIES:
        raise DomainError(_l("Choose a category from the list."), field="category")
    ids = {int(i) for i in subject_ids or []}
    subjects = list(db.session.scalars(select(Subject).where(Subject.id.in_(ids)))) if ids else []
    if len(subjects) != len(ids) or any(s.producer_id != producer.id for s in subjects):
        raise DomainError(_l("Choose only your own animals and fields."), field="subject_ids")
    return name, unit, description, subjects


def create_product(
    *, producer: Producer, by, name: str, unit: str, category: str, description: str, subject_ids=(), photos=(),
    label: dict | None = None, now: datetime,
) -> Product:  # fmt: skip
    """A producer lists a product, tied to the subjects it comes from, with the label facts it
    states (`label`: the keyword arguments of `labelling.check_label_facts`)."""
    require_owner(producer, by)
    name, unit, description, subjects = _checked(
        producer, name=name, unit=unit, category=category, description=description, subject_ids=subject_ids
    )
    facts = check_label_facts(category=category, today=today(now), **(label or {}))
    saved = save_photos(photos, uploaded_by=by, alt=name, limit=MAX_PHOTOS)
    product = Product(
        producer=producer, name=name, unit=unit, category=category, description=description,
        subjects=subjects, created_at=now, updated_at=now, **facts,
        slug=unique_slug(Product, name, scope=Product.producer_id == producer.id),
    )  # fmt: skip
    product.photos = [ProductPhoto(photo=photo, position=i) for i, photo in enumerate(saved)]
    db.session.add(product)
    db.session.commit()
    return product


def update_product(
    product: Product, *, by, name: str, unit: str, category: str, description: str, subject_ids=(), photos=(),
    label: dict | None = None, now: datetime | None = None,
) -> Product:  # fmt: skip
    """The owner edits a product; new photos are added after the existing ones; the URL stays.
    The label facts change only when `label` is given (checked as in `create_product`)."""
    require_owner(product.producer, by)
    name, unit, description, subjects = _checked(
        product.producer, name=name, unit=unit, category=category, description=description, subject_ids=subject_ids
    )
    facts = {} if label is None else check_label_facts(category=category, today=today(now or utcnow()), **label)
    saved = save_photos(photos, uploaded_by=by, alt=name, limit=max(MAX_PHOTOS - len(product.photos), 0))
    start = len(product.photos)
    product.photos.extend(ProductPhoto(photo=photo, position=start + i) for i, photo in enumerate(saved))
    product.name, product.unit, product.category = name, unit, category
    product.description, product.subjects = description, subjects
    for key, value in facts.items():
        setattr(product, key, value)
    db.session.commit()
    return product


def delete_product(product: Product, *, by) -> None:
    """The owner removes a product and its photos."""
    require_owner(product.producer, by)
    photos = [item.photo for item in product.photos]
    db.session.delete(product)
    for photo in photos:
        db.session.delete(photo)
    db.session.commit()
    delete_photo_files(photos)


def _with_pictures(query):
    return query.options(
        selectinload(Product.photos).selectinload(ProductPhoto.photo),
        selectinload(Product.producer).selectinload(Producer.village),
    )


def get_product(producer_slug: str, product_slug: str) -> Product:
    """The product at this URL, with its photos and subjects."""
    product = db.session.scalar(
        _with_pictures(select(Product))
        .join(Product.producer)
        .where(Producer.slug == producer_slug, Product.slug == product_slug)
        .options(selectinload(Product.subjects).selectinload(Subject.cover_photo))
    )
    if product is None:
        raise NotFound(_l("No such product."))
    return product


def products_of(producer: Producer, *, include_hidden: bool = False) -> list[Product]:
    """A producer's products, by name; those an operator hid only when `include_hidden` (the owner)."""
    query = _with_pictures(select(Product)).where(Product.producer_id == producer.id).order_by(Product.name)
    if not include_hidden:
        query = query.where(visible(Product))
    return list(db.session.scalars(query))


def products_for_subject(subject: Subject) -> list[Product]:
    """Products that come from this subject."""
    return list(
        db.session.scalars(
            _with_pictures(select(Product))
            .join(product_subjects)
            .where(product_subjects.c.subject_id == subject.id, visible(Product))
            .order_by(Product.name)
        )
    )


def browse_products(*, category: str | None, region: str | None, page: int) -> Page:
    """Products by kind and region, newest first."""
    query = _with_pictures(select(Product)).join(Product.producer).join(Producer.village).where(visible(Product))
    if category in CATEGORIES:
        query = query.where(Product.category == category)
    if region:
        query = query.where(Village.region == region)
    return paginate(query.order_by(Product.created_at.desc(), Product.id.desc()), page=page, per_page=PER_PAGE)
