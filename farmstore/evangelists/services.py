"""Evangelist rules: who helps which producer, who may publish for them, and the audit trail."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from farmstore.accounts.models import User
from farmstore.accounts.services import find_user_by_email
from farmstore.errors import DomainError, NotAllowed, NotFound
from farmstore.evangelists.models import (
    MOTIVATION_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    REASON_MAX_LENGTH,
    Adoption,
    AuditEntry,
    Helper,
    Invitation,
    PublishGrant,
    Verification,
)
from farmstore.extensions import db
from farmstore.notifications.services import queue_email
from farmstore.producers.models import Producer
from farmstore.producers.services import add_producer
from farmstore.timeutil import local_today
from farmstore.urls import external_url
from farmstore.villages.models import Village


def active_adoption_of_village(village_id: int) -> Adoption | None:
    """The village's active adoption, if it has an evangelist."""
    return db.session.scalar(select(Adoption).where(Adoption.village_id == village_id, Adoption.status == "active"))


def active_adoption_of_user(user) -> Adoption | None:
    """The adoption `user` is currently active in (an evangelist has at most one)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(select(Adoption).where(Adoption.user_id == user.id, Adoption.status == "active"))


def village_evangelist(village_id: int) -> User | None:
    """The village's active evangelist, or None."""
    return db.session.scalar(
        select(User)
        .join(Adoption, Adoption.user_id == User.id)
        .where(Adoption.village_id == village_id, Adoption.status == "active")
    )


def helps(user, producer: Producer) -> bool:
    """True when `user` is the active evangelist of the producer's village. An evangelist whose
    adoption ended (or was handed over) no longer helps anyone."""
    adoption = active_adoption_of_user(user)
    return adoption is not None and adoption.village_id == producer.village_id


def can_publish_directly(user, producer: Producer) -> bool:
    """True when `user` helps the producer and the producer has granted them "publish directly"
    (and not revoked it)."""
    if not helps(user, producer):
        return False
    grant = db.session.scalar(
        select(PublishGrant.id).where(
            PublishGrant.producer_id == producer.id,
            PublishGrant.evangelist_id == user.id,
            PublishGrant.revoked_at.is_(None),
        )
    )
    return grant is not None


def record_action(actor, producer: Producer, action: str, target: str, now: datetime) -> AuditEntry:
    """Append who did what for a producer to the audit trail, in the caller's transaction
    (no commit: the entry exists exactly when the action does)."""
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        producer_id=producer.id,
        action=action[:40],
        target=target[:120],
        created_at=now,
    )
    db.session.add(entry)
    return entry


# ---------------------------------------------------------------- adoption


def _is_operator(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_operator


def _require_operator(user) -> None:
    if not _is_operator(user):
        raise NotAllowed(_l("Only operators can do this."))


def _operators() -> list[User]:
    return list(db.session.scalars(select(User).where(User.is_operator.is_(True), User.is_active_account.is_(True))))


def get_adoption(adoption_id: int) -> Adoption:
    """The adoption with this id (for its pages)."""
    adoption = db.session.get(Adoption, adoption_id)
    if adoption is None:
        raise NotFound(_l("No such application."))
    return adoption


def _taken_message(user, village, error: IntegrityError) -> DomainError:
    """Which of the two one-to-one rules a refused activation broke, read from the index the
    database names ("…active_user" / "adoptions.user_id" for the evangelist's rule). Messages that
    quote a name are plain strings, not lazy ones: Jinja trusts a lazy string's __html__ and would
    not escape the name."""
    if "user" in str(error.orig).lower():
        return DomainError(_("%(name)s already looks after a village.", name=user.display_name))
    return DomainError(_("%(village)s already has an evangelist.", village=village.name))


def apply_to_adopt(*, user, village_id: int, motivation: str, now: datetime) -> Adoption:
    """A signed-in user asks to adopt a village, saying why. Refused when the village already has
    an evangelist, when the user already looks after a village, or has an application waiting.
    The operators are emailed."""
    motivation = motivation.strip()
    if not motivation:
        raise DomainError(_l("Tell the operators in a few words why you want to adopt this village."), "motivation")
    if len(motivation) > MOTIVATION_MAX_LENGTH:
        raise DomainError(_l("Use at most %(n)d characters.", n=MOTIVATION_MAX_LENGTH), field="motivation")
    village = db.session.get(Village, village_id)
    if village is None:
        raise NotFound(_l("No such village."))
    if active_adoption_of_village(village.id) is not None:
        raise DomainError(_("%(village)s already has an evangelist.", village=village.name))
    if active_adoption_of_user(user) is not None:
        raise DomainError(_l("You already look after a village. An evangelist adopts exactly one."))
    waiting = _(
        "You already have an application waiting for the operators. Wait for their answer before applying again."
    )
    if db.session.scalar(select(Adoption.id).where(Adoption.user_id == user.id, Adoption.status == "applied")):
        raise DomainError(waiting)
    adoption = Adoption(village=village, user=user, status="applied", motivation=motivation, created_at=now)
    db.session.add(adoption)
    try:
        db.session.flush()
    except IntegrityError:  # the same user applying twice at once: the first one stands
        db.session.rollback()
        raise DomainError(waiting) from None
    link = external_url("evangelists.operator_applications")
    for operator in _operators():
        queue_email(
            to=operator.email, template="adoption_applied", locale=operator.locale, now=now,
            adoption=adoption, link=link,
        )  # fmt: skip
    db.session.commit()
    return adoption


def _locked_adoption(adoption_id: int) -> Adoption:
    """The adoption re-read under a row lock (PostgreSQL), so two deciders see each other's work."""
    db.session.expire_all()
    adoption = db.session.scalar(select(Adoption).where(Adoption.id == adoption_id).with_for_update())
    if adoption is None:
        raise NotFound(_l("No such application."))
    return adoption


def approve_adoption(adoption: Adoption, *, operator, now: datetime) -> Adoption:
    """An operator approves an application: the user becomes the village's evangelist. The unique
    indexes refuse a second active evangelist for the village, or a second village for the user,
    however many operators approve at once. The applicant is emailed."""
    _require_operator(operator)
    adoption = _locked_adoption(adoption.id)
    if adoption.status != "applied":
        raise DomainError(_l("This application was already decided."))
    adoption.status, adoption.decided_by_id, adoption.decided_at, adoption.started_at = "active", operator.id, now, now
    try:
        db.session.flush()
    except IntegrityError as error:
        db.session.rollback()
        adoption = db.session.get(Adoption, adoption.id)
        raise _taken_message(adoption.user, adoption.village, error) from None
    queue_email(
        to=adoption.user.email, template="adoption_approved", locale=adoption.user.locale, now=now,
        adoption=adoption, link=external_url("evangelists.dashboard"),
    )  # fmt: skip
    db.session.commit()
    return adoption


def decline_adoption(adoption: Adoption, *, operator, reason: str, now: datetime) -> Adoption:
    """An operator declines an application, optionally saying why; the applicant is emailed."""
    _require_operator(operator)
    reason = reason.strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise DomainError(_l("Use at most %(n)d characters.", n=REASON_MAX_LENGTH), field="reason")
    adoption = _locked_adoption(adoption.id)
    if adoption.status != "applied":
        raise DomainError(_l("This application was already decided."))
    adoption.status, adoption.decided_by_id, adoption.decided_at = "declined", operator.id, now
    adoption.decline_reason = reason
    queue_email(
        to=adoption.user.email, template="adoption_declined", locale=adoption.user.locale, now=now,
        adoption=adoption, reason=reason,
    )  # fmt: skip
    db.session.commit()
    return adoption


def offer_handover(adoption: Adoption, *, by, successor_email: str, now: datetime) -> Adoption:
    """The active evangelist names a successor by email; nothing changes until the successor
    accepts. The successor must have an account and not already look after a village."""
    if adoption.user_id != getattr(by, "id", None) or not adoption.is_active:
        raise NotAllowed(_l("Only the village's evangelist can hand it over."))
    successor = find_user_by_email(successor_email or "")
    if successor is None:
        raise DomainError(_l("No account has this email. Ask your successor to join farmstore first."), "email")
    if successor.id == by.id:
        raise DomainError(_l("Choose someone else to hand the village over to."), field="email")
    if active_adoption_of_user(successor) is not None:
        raise DomainError(_("%(name)s already looks after a village.", name=successor.display_name), "email")
    adoption.successor_id = successor.id
    queue_email(
        to=successor.email, template="handover_offered", locale=successor.locale, now=now, adoption=adoption,
        successor=successor, link=external_url("evangelists.handover", adoption_id=adoption.id),
    )  # fmt: skip
    db.session.commit()
    return adoption


def accept_handover(adoption: Adoption, *, by, now: datetime) -> Adoption:
    """The named successor accepts: the old adoption becomes 'handed_over' (kept as history) and
    the successor's adoption starts, in one transaction. Returns the successor's adoption."""
    adoption = _locked_adoption(adoption.id)
    if not adoption.is_active or adoption.successor_id is None or adoption.successor_id != getattr(by, "id", None):
        raise NotAllowed(_l("This handover is not offered to you."))
    adoption.status, adoption.ended_at = "handed_over", now
    db.session.flush()  # the village's active slot is free before the successor takes it
    successor = Adoption(
        village_id=adoption.village_id, user_id=by.id, status="active", created_at=now, started_at=now,
        decided_at=now, decided_by_id=adoption.user_id,
        motivation=_("Handed over by %(name)s", name=adoption.user.display_name),
    )  # fmt: skip
    db.session.add(successor)
    try:
        db.session.flush()
    except IntegrityError as error:
        db.session.rollback()
        raise _taken_message(by, db.session.get(Adoption, adoption.id).village, error) from None
    db.session.commit()
    return successor


def cancel_handover(adoption: Adoption, *, by) -> Adoption:
    """The evangelist withdraws the offer, or the named successor declines it."""
    if getattr(by, "id", None) not in (adoption.user_id, adoption.successor_id) or not adoption.is_active:
        raise NotAllowed(_l("This handover is not yours to cancel."))
    adoption.successor_id = None
    db.session.commit()
    return adoption


def end_adoption(adoption: Adoption, *, by, now: datetime) -> Adoption:
    """The evangelist steps down, or an operator ends the adoption; the village is free to adopt
    again and the row stays as history."""
    if getattr(by, "id", None) != adoption.user_id and not _is_operator(by):
        raise NotAllowed(_l("Only the evangelist or an operator can end this adoption."))
    adoption = _locked_adoption(adoption.id)
    if not adoption.is_active:
        raise DomainError(_l("This adoption has already ended."))
    adoption.status, adoption.ended_at, adoption.successor_id = "ended", now, None
    db.session.commit()
    return adoption


def village_history(village_id: int) -> list[Adoption]:
    """Everyone who looked after the village, the current evangelist first, then newest first."""
    return list(
        db.session.scalars(
            select(Adoption)
            .where(Adoption.village_id == village_id, Adoption.status.in_(("active", "handed_over", "ended")))
            .options(selectinload(Adoption.user))
            .order_by((Adoption.status == "active").desc(), Adoption.started_at.desc(), Adoption.id.desc())
        )
    )


def adoptions_of(user) -> list[Adoption]:
    """A user's applications and adoptions, newest first."""
    return list(
        db.session.scalars(
            select(Adoption)
            .where(Adoption.user_id == user.id)
            .options(selectinload(Adoption.village))
            .order_by(Adoption.created_at.desc(), Adoption.id.desc())
        )
    )


def handovers_offered_to(user) -> list[Adoption]:
    """Active adoptions whose evangelist offered to hand the village over to `user`."""
    return list(
        db.session.scalars(
            select(Adoption)
            .where(Adoption.successor_id == user.id, Adoption.status == "active")
            .options(selectinload(Adoption.village), selectinload(Adoption.user))
        )
    )


def pending_applications() -> list[Adoption]:
    """Applications waiting for an operator, oldest first."""
    return list(
        db.session.scalars(
            select(Adoption)
            .where(Adoption.status == "applied")
            .options(selectinload(Adoption.village), selectinload(Adoption.user))
            .order_by(Adoption.created_at, Adoption.id)
        )
    )


# ---------------------------------------------------------------- invitations

INVITATION_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone
INVITATION_CODE_LENGTH = 10  # 32^10 ≈ 10^15 codes: unguessable, yet short enough to type


def new_invitation_code() -> str:
    """A short random code from an unambiguous alphabet."""
    return "".join(secrets.choice(INVITATION_ALPHABET) for _ in range(INVITATION_CODE_LENGTH))


def normalise_code(code: str) -> str:
    """A typed code in canonical form: upper case, spaces and dashes dropped."""
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def _require_evangelist(user) -> Adoption:
    adoption = active_adoption_of_user(user)
    if adoption is None:
        raise NotAllowed(_l("Only a village's active evangelist can do this."))
    return adoption


def create_invitation(*, by, note: str, now: datetime) -> Invitation:
    """The active evangelist invites a producer to their village. The invitation is single-use and
    expires after INVITATION_VALID_DAYS; `note` ("Mrs Park, the tea farm") is for the evangelist."""
    adoption = _require_evangelist(by)
    note = note.strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise DomainError(_l("Use at most %(n)d characters.", n=NOTE_MAX_LENGTH), field="note")
    days = current_app.config["INVITATION_VALID_DAYS"]
    invitation = Invitation(
        code=new_invitation_code(), village_id=adoption.village_id, evangelist_id=by.id, note=note,
        created_at=now, expires_at=now + timedelta(days=days),
    )  # fmt: skip
    db.session.add(invitation)
    db.session.commit()
    return invitation


def revoke_invitation(invitation: Invitation, *, by, now: datetime) -> Invitation:
    """The evangelist who made an unused invitation withdraws it; the code stops working."""
    if invitation.evangelist_id != getattr(by, "id", None):
        raise NotAllowed(_l("Only the evangelist who made this invitation can withdraw it."))
    if invitation.used_at is not None:
        raise DomainError(_l("This invitation has already been used."))
    invitation.revoked_at = invitation.revoked_at or now
    db.session.commit()
    return invitation


def get_invitation(invitation_id: int) -> Invitation:
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None:
        raise NotFound(_l("No such invitation."))
    return invitation


def open_invitation(code: str, *, now: datetime) -> Invitation:
    """The invitation with this code if it can still be used; otherwise a DomainError saying
    plainly why not (unknown, withdrawn, already used, expired, or its evangelist left)."""
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.code == normalise_code(code)).options(selectinload(Invitation.village))
    )
    if invitation is None:
        raise NotFound(_l("This invitation code is not valid. Check it, or ask your evangelist for a new one."))
    if invitation.revoked_at is not None:
        raise DomainError(_l("This invitation was withdrawn by the evangelist. Ask them for a new one."))
    if invitation.used_at is not None:
        raise DomainError(_l("This invitation has already been used. Each invitation works once."))
    if invitation.is_expired(now):
        raise DomainError(_l("This invitation has expired. Ask your evangelist for a new one."))
    adoption = active_adoption_of_user(invitation.evangelist)
    if adoption is None or adoption.village_id != invitation.village_id:
        raise DomainError(_l("The evangelist who sent this invitation no longer looks after the village."))
    return invitation


def accept_invitation(
    *, code: str, user, farm_name: str, about: str, contact: str, photo=None, now: datetime
) -> Producer:
    """A user without a producer page uses an invitation: they become a producer in its village,
    with the inviting evangelist linked as their helper. The invitation is marked used by a
    conditional UPDATE, so two people using one code at once cannot both succeed."""
    invitation = open_invitation(code, now=now)
    producer = add_producer(
        user=user, farm_name=farm_name, village_id=invitation.village_id, about=about, contact=contact,
        photo=photo, now=now,
    )  # fmt: skip
    try:
        db.session.flush()
    except IntegrityError:  # the same account accepting twice at once: the first one made the profile
        db.session.rollback()
        raise DomainError(_l("You already have a producer profile.")) from None
    claimed = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
        .values(used_at=now, used_by_id=user.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise DomainError(_l("This invitation has already been used. Each invitation works once."))
    helper = Helper(producer_id=producer.id, user_id=invitation.evangelist_id, invitation_id=invitation.id)
    helper.created_at = now
    db.session.add(helper)
    record_action(invitation.evangelist, producer, "onboarded", f"invitation {invitation.code}", now)
    db.session.commit()
    return producer


def invitations_of(user, *, now: datetime) -> list[Invitation]:
    """The invitations an evangelist made, newest first."""
    return list(
        db.session.scalars(
            select(Invitation)
            .where(Invitation.evangelist_id == user.id)
            .options(selectinload(Invitation.used_by))
            .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        )
    )


def helper_of(producer: Producer) -> Helper | None:
    """Who onboarded the producer, if an evangelist did."""
    return db.session.get(Helper, producer.id)


# ---------------------------------------------------------------- verification


def verify_producer(*, operator, producer: Producer, visited_on: date, now: datetime) -> Verification:
    """An operator records that the village's evangelist visited the farm on `visited_on`. The
    producer page then says "verified by <evangelist> on <date>". The village must have an
    evangelist and the visit cannot be in the future."""
    _require_operator(operator)
    evangelist = village_evangelist(producer.village_id)
    if evangelist is None:
        raise DomainError(_l("This village has no evangelist to visit the farm yet."))
    if visited_on is None:
        raise DomainError(_l("Enter the day of the farm visit."), field="visited_on")
    if visited_on > local_today(now, current_app.config["BABEL_DEFAULT_TIMEZONE"]):
        raise DomainError(_l("The visit cannot be in the future."), field="visited_on")
    verification = Verification(
        producer_id=producer.id, evangelist_id=evangelist.id, visited_on=visited_on, recorded_by_id=operator.id,
        created_at=now,
    )  # fmt: skip
    db.session.add(verification)
    record_action(operator, producer, "verified", f"visit by {evangelist.display_name} on {visited_on}", now)
    db.session.commit()
    return verification


def latest_verification(producer: Producer) -> Verification | None:
    """The most recent farm visit recorded for the producer."""
    return db.session.scalar(
        select(Verification)
        .where(Verification.producer_id == producer.id)
        .options(selectinload(Verification.evangelist))
        .order_by(Verification.visited_on.desc(), Verification.id.desc())
        .limit(1)
    )
