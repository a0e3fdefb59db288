"""Village rules: operators create and edit villages; anyone can browse them."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from farmstore.errors import DomainError, NotAllowed, NotFound
from farmstore.extensions import db
from farmstore.media.services import save_photo
from farmstore.producers.models import Producer
from farmstore.text import unique_slug
from farmstore.villages.models import NAME_MAX_LENGTH, Village
from farmstore.villages.regions import REGIONS, VILLAGE_KINDS


def _require_operator(user) -> None:
    """Refuse anyone who is not an operator."""
    if user is None or not getattr(user, "is_operator", False):
        raise NotAllowed(_l("Only operators can manage villages."))


def _check(name: str, region: str, kind: str) -> str:
    """The trimmed name, once name, region and kind are all acceptable."""
    name = name.strip()
    if not name:
        raise DomainError(_l("Give the village a name."), field="name")
    if len(name) > NAME_MAX_LENGTH:
        raise DomainError(_l("Use at most %(n)d characters.", n=NAME_MAX_LENGTH), field="name")
    if region not in REGIONS:
        raise DomainError(_l("Choose a region from the list."), field="region")
    if kind not in VILLAGE_KINDS:
        raise DomainError(_l("Choose village or market."), field="kind")
    return name


def create_village(*, by, name: str, region: str, kind: str, description: str, cover=None, now: datetime) -> Village:
    """An operator adds a village or market."""
    _require_operator(by)
    name = _check(name, region, kind)
    village = Village(
        name=name, slug=unique_slug(Village, name), region=region, kind=kind,
        description=description.strip(), created_at=now,
    )  # fmt: skip
    if cover:
        village.cover_photo = save_photo(cover, uploaded_by=by, alt=name, field="cover")
    db.session.add(village)
    db.session.commit()
    return village


def update_village(village: Village, *, by, name: str, region: str, kind: str, description: str, cover=None) -> Village:
    """An operator edits a village; the slug (its shared URL) stays the same."""
    _require_operator(by)
    name = _check(name, region, kind)
    if cover:
        village.cover_photo = save_photo(cover, uploaded_by=by, alt=name, field="cover")
    village.name, village.region, village.kind = name, region, kind
    village.description = description.strip()
    db.session.commit()
    return village


def get_village(slug: str) -> Village:
    """The village at this URL, with its producers loaded."""
    village = db.session.scalar(
        select(Village)
        .where(Village.slug == slug)
        .options(selectinload(Village.producers).selectinload(Producer.photo), selectinload(Village.cover_photo))
    )
    if village is None:
        raise NotFound(_l("No such village."))
    return village


def list_villages(region: str | None = None) -> list[Village]:
    """Villages by name, optionally in one region."""
    query = select(Village).options(selectinload(Village.cover_photo)).order_by(Village.name)
    if region:
        query = query.where(Village.region == region)
    return list(db.session.scalars(query))
