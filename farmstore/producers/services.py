"""Producer rules: any account may become a producer once; only the owner edits the profile."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from farmstore.errors import DomainError, NotAllowed, NotFound
from farmstore.extensions import db
from farmstore.media.services import save_photo
from farmstore.producers.models import CONTACT_MAX_LENGTH, FARM_NAME_MAX_LENGTH, Producer
from farmstore.text import unique_slug
from farmstore.villages.models import Village


def _checked(*, farm_name: str, village_id: int | None, contact: str) -> tuple[str, Village, str]:
    """The trimmed farm name, the chosen village and the trimmed contact, once all are acceptable."""
    farm_name, contact = farm_name.strip(), contact.strip()
    if not farm_name:
        raise DomainError(_l("Give your farm a name."), field="farm_name")
    if len(farm_name) > FARM_NAME_MAX_LENGTH:
        raise DomainError(_l("Use at most %(n)d characters.", n=FARM_NAME_MAX_LENGTH), field="farm_name")
    if len(contact) > CONTACT_MAX_LENGTH:
        raise DomainError(_l("Use at most %(n)d characters.", n=CONTACT_MAX_LENGTH), field="contact")
    village = db.session.get(Village, village_id) if village_id else None
    if village is None:
        raise DomainError(_l("Choose your village from the list."), field="village_id")
    return farm_name, village, contact


def add_producer(
    *, user, farm_name: str, village_id: int | None, about: str, contact: str, photo=None, now: datetime
) -> Producer:
    """A new producer profile for `user`, added to the session but not committed (the caller's
    transaction decides, e.g. an invitation used in the same commit). One profile per account."""
    if user.producer is not None:
        raise DomainError(_l("You already have a producer profile."))
    farm_name, village, contact = _checked(farm_name=farm_name, village_id=village_id, contact=contact)
    # The photo is checked before the profile exists: a refused photo must not leave `user.producer` set.
    saved_photo = save_photo(photo, uploaded_by=user, alt=farm_name) if photo else None
    producer = Producer(
        user=user, village=village, farm_name=farm_name, slug=unique_slug(Producer, farm_name),
        about=about.strip(), contact=contact, photo=saved_photo, created_at=now, updated_at=now,
    )  # fmt: skip
    db.session.add(producer)
    return producer


def create_producer(
    *, user, farm_name: str, village_id: int | None, about: str, contact: str, photo=None, now: datetime
) -> Producer:
    """Turn an account into a producer. One profile per account."""
    producer = add_producer(
        user=user, farm_name=farm_name, village_id=village_id, about=about, contact=contact, photo=photo, now=now
    )
    try:
        db.session.commit()
    except IntegrityError:  # a double-submitted form: the first one made the profile
        db.session.rollback()
        raise DomainError(_l("You already have a producer profile.")) from None
    return producer


def update_producer(
    producer: Producer, *, by, farm_name: str, village_id: int | None, about: str, contact: str, photo=None
) -> Producer:
    """The owner edits their profile; anyone else is refused. The slug (shared URL) is kept."""
    if not producer.is_owned_by(by):
        raise NotAllowed(_l("Only the producer can edit this profile."))
    farm_name, village, contact = _checked(farm_name=farm_name, village_id=village_id, contact=contact)
    if photo:
        producer.photo = save_photo(photo, uploaded_by=by, alt=farm_name)
    producer.farm_name, producer.village = farm_name, village
    producer.about, producer.contact = about.strip(), contact
    db.session.commit()
    return producer


def get_producer(slug: str) -> Producer:
    """The producer at this URL."""
    producer = db.session.scalar(
        select(Producer)
        .where(Producer.slug == slug)
        .options(selectinload(Producer.village), selectinload(Producer.photo), selectinload(Producer.user))
    )
    if producer is None:
        raise NotFound(_l("No such producer."))
    return producer


def recent_producers(limit: int = 12) -> list[Producer]:
    """Newest producers first, for the home page."""
    return list(
        db.session.scalars(
            select(Producer)
            .options(selectinload(Producer.village), selectinload(Producer.photo))
            .order_by(Producer.created_at.desc(), Producer.id.desc())
            .limit(limit)
        )
    )
