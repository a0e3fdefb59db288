"""Group-buy rules: pledge until the deadline without ever exceeding the units, then settle once.

Pledged units are counted with one conditional UPDATE on the group-buy row, like sale stock.
Settlement (`settle_due_group_buys`, run by `flask farm tick`) decides the outcome with a
conditional UPDATE (open → succeeded/failed happens once), then moves pledges in batches, each
batch in its own transaction and each pledge by a conditional UPDATE from 'active', so a killed
run resumes where it stopped and nobody is charged twice or missed.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from farmstore.csvfile import csv_text, local_time
from farmstore.errors import DomainError, NotAllowed, NotFound
from farmstore.extensions import db
from farmstore.groupbuys.models import HOLDING_PLEDGE_STATUSES, GroupBuy, GroupBuyWaitlistEntry, Pledge
from farmstore.notifications.services import queue_email
from farmstore.payments import services as payments
from farmstore.payments.providers import CARD_PROVIDERS
from farmstore.payments.signals import payment_succeeded
from farmstore.producers.models import Producer
from farmstore.referrals import services as referrals
from farmstore.sales.models import PickupPoint
from farmstore.sales.services import PICKUP_CODE_ALPHABET, PICKUP_CODE_LENGTH
from farmstore.stories.models import Subject
from farmstore.stories.services import require_owner
from farmstore.urls import external_url

SETTLEMENT_BATCH = 200


def create_group_buy(
    *, producer: Producer, by, subject_id: int | None, title: str, story: str = "", unit_label: str,
    unit_price: int, total_units: int, min_units: int, per_buyer_max: int, deadline: datetime,
    pickup_point_id: int | None = None, pickup_starts_at: datetime | None = None,
    pickup_ends_at: datetime | None = None, delivery_note: str = "", reward_bps: int = 0,
    price_per_kg: int | None = None, grams_per_unit: int | None = None, now: datetime,
) -> GroupBuy:  # fmt: skip
    """A producer drafts a group-buy of one of their subjects. Nothing is public until it opens.
    A share sold by weight (an animal) names its price per kg and the weight one unit assumes,
    both or neither: each share's final weight is settled before pickup."""
    require_owner(producer, by)
    subject = db.session.get(Subject, subject_id) if subject_id else None
    if subject is None or subject.producer_id != producer.id:
        raise DomainError(_l("Choose one of your animals or fields."), field="subject_id")
    title, unit_label = title.strip(), unit_label.strip()
    if not title:
        raise DomainError(_l("Give the group-buy a title."), field="title")
    if not unit_label:
        raise DomainError(_l("Say what one unit is, like a box of 3 heads."), field="unit_label")
    if unit_price < 0:
        raise DomainError(_l("A price cannot be negative."), field="unit_price")
    if total_units < 1:
        raise DomainError(_l("Offer at least one unit."), field="total_units")
    if not 1 <= min_units <= total_units:
        raise DomainError(_l("The minimum must be between 1 and the total."), field="min_units")
    if not 1 <= per_buyer_max <= total_units:
        raise DomainError(_l("The most one household can take must be between 1 and the total."), field="per_buyer_max")
    if deadline <= now:
        raise DomainError(_l("The deadline must be in the future."), field="deadline")
    point = None
    if pickup_point_id:
        point = db.session.get(PickupPoint, pickup_point_id)
        if point is None or point.producer_id != producer.id:
            raise DomainError(_l("Choose one of your pickup points."), field="pickup_point_id")
        if pickup_starts_at is None or pickup_ends_at is None or not deadline <= pickup_starts_at < pickup_ends_at:
            raise DomainError(
                _l("Pickup starts after the deadline and ends after it starts."), field="pickup_starts_at"
            )
    elif not delivery_note.strip():
        raise DomainError(_l("Choose a pickup point or describe the delivery."), field="delivery_note")
    _check_weight_terms(price_per_kg, grams_per_unit)
    group_buy = GroupBuy(
        producer=producer, subject=subject, title=title, story=story.strip(), unit_label=unit_label,
        unit_price=unit_price, total_units=total_units, min_units=min_units, per_buyer_max=per_buyer_max,
        deadline=deadline, pickup_point=point, pickup_starts_at=pickup_starts_at if point else None,
        pickup_ends_at=pickup_ends_at if point else None, delivery_note=delivery_note.strip(), created_at=now,
        reward_bps=referrals.checked_reward_bps(reward_bps), price_per_kg=price_per_kg or None,
        grams_per_unit=grams_per_unit or None,
    )  # fmt: skip
    db.session.add(group_buy)
    db.session.commit()
    return group_buy


def _check_weight_terms(price_per_kg: int | None, grams_per_unit: int | None) -> None:
    """Selling by weight needs both the price per kg and the weight one unit assumes."""
    if price_per_kg is None and grams_per_unit is None:
        return
    if price_per_kg is None or price_per_kg <= 0:
        raise DomainError(
            _l("Give a price per kg above zero, or leave both weight fields empty."), field="price_per_kg"
        )
    if grams_per_unit is None or grams_per_unit <= 0:
        raise DomainError(
            _l("Give the weight one unit assumes, in grams, or leave both weight fields empty."), field="grams_per_unit"
        )


def open_group_buy(group_buy: GroupBuy, *, by, now: datetime) -> None:
    """Publish a draft: pledges are taken from now until the deadline."""
    require_owner(group_buy.producer, by)
    if group_buy.status != "draft":
        raise DomainError(_l("Only a draft can be opened."))
    if group_buy.deadline <= now:
        raise DomainError(_l("The deadline must be in the future."), field="deadline")
    group_buy.status, group_buy.opened_at = "open", now
    db.session.commit()


def change_terms(group_buy: GroupBuy, *, by, min_units: int, deadline: datetime, now: datetime) -> None:
    """The producer may raise nothing that pledgers relied on: once pledges exist, the minimum
    cannot go down and the deadline cannot move earlier."""
    require_owner(group_buy.producer, by)
    if group_buy.status not in ("draft", "open"):
        raise DomainError(_l("This group-buy is decided; its terms are fixed."))
    if deadline <= now:
        raise DomainError(_l("The deadline must be in the future."), field="deadline")
    if not 1 <= min_units <= group_buy.total_units:
        raise DomainError(_l("The minimum must be between 1 and the total."), field="min_units")
    if group_buy.units_pledged:
        if min_units < group_buy.min_units:
            raise DomainError(_l("People have pledged: the minimum cannot go down."), field="min_units")
        if deadline < group_buy.deadline:
            raise DomainError(_l("People have pledged: the deadline cannot move earlier."), field="deadline")
    group_buy.min_units, group_buy.deadline = min_units, deadline
    db.session.commit()


def _move_units(group_buy: GroupBuy, delta: int, now: datetime) -> bool:
    """Atomically add `delta` pledged units (negative to give back) while pledges are taken."""
    result = db.session.execute(
        update(GroupBuy)
        .where(
            GroupBuy.id == group_buy.id,
            GroupBuy.status == "open",
            GroupBuy.deadline > now,
            GroupBuy.units_pledged + delta <= GroupBuy.total_units,
            GroupBuy.units_pledged + delta >= 0,
        )
        .values(units_pledged=GroupBuy.units_pledged + delta)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _new_code(group_buy_id: int) -> str:
    while True:
        code = "".join(secrets.choice(PICKUP_CODE_ALPHABET) for _ in range(PICKUP_CODE_LENGTH))
        taken = db.session.scalar(
            select(Pledge.id).where(Pledge.group_buy_id == group_buy_id, Pledge.pickup_code == code)
        )
        if taken is None:
            return code


def pledge_of(group_buy: GroupBuy, buyer) -> Pledge | None:
    """The buyer's pledge that holds units in this group-buy, if any."""
    return db.session.scalar(
        select(Pledge).where(
            Pledge.group_buy_id == group_buy.id, Pledge.buyer_id == buyer.id, Pledge.status.in_(HOLDING_PLEDGE_STATUSES)
        )
    )


def _lock_group_buy(group_buy_id: int) -> None:
    """Take the group-buy's row lock before touching any of its pledges (PostgreSQL; SQLite has
    one writer anyway). Every pledge, change and withdrawal locks in the same order, group-buy
    then pledge, so they queue instead of deadlocking."""
    db.session.execute(select(GroupBuy.id).where(GroupBuy.id == group_buy_id).with_for_update(key_share=True))


def _hold_pledge(record: Pledge, now: datetime) -> int | None:
    """Lock an active pledge's row and return its units as committed now (None if it is no longer
    active). A change made at the same moment from another tab has committed by then, so a delta
    computed from these units is exact. The loaded copy is expired so that the new values are
    always written, even when they equal what this session saw before the other change."""
    held = db.session.scalar(
        update(Pledge)
        .where(Pledge.id == record.id, Pledge.status == "active")
        .values(updated_at=now)
        .returning(Pledge.units)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(record)
    return held


def latest_pledge_of(group_buy: GroupBuy, buyer) -> Pledge | None:
    """The buyer's most recent pledge in this group-buy, whatever became of it (to show them)."""
    return db.session.scalar(
        select(Pledge)
        .where(Pledge.group_buy_id == group_buy.id, Pledge.buyer_id == buyer.id)
        .order_by(Pledge.id.desc())
        .limit(1)
    )


def pledge(
    *, group_buy: GroupBuy, buyer, units: int, payment_method: str = "pickup",
    card_payment_method_id: str | None = None, show_name: bool = False, now: datetime,
) -> Pledge:  # fmt: skip
    """Pledge units, or change one's pledge, until the deadline. Never more than remain. A first
    pledge records the chain of recommendations that brought the buyer."""
    if not group_buy.takes_pledges(now):
        raise DomainError(_l("This group-buy is not taking pledges."))
    if group_buy.producer.user_id == buyer.id:
        raise DomainError(_l("You cannot pledge to your own group-buy."))
    if not isinstance(units, int) or units < 1:
        raise DomainError(_l("Pledge at least one unit."), field="units")
    if units > group_buy.per_buyer_max:
        raise DomainError(_l("One household can take at most %(n)d.", n=group_buy.per_buyer_max), field="units")
    if payment_method not in current_app.config["PAYMENT_PROVIDERS"]:
        raise DomainError(_l("This way of paying is not available."), field="payment_method")
    if payment_method in CARD_PROVIDERS and not card_payment_method_id:
        raise DomainError(_l("Save a card to pledge by card."), field="payment_method")
    _lock_group_buy(group_buy.id)
    existing = pledge_of(group_buy, buyer)
    held = _hold_pledge(existing, now) if existing else None
    if held is None:  # no pledge yet, or it was withdrawn a moment ago
        existing, held = None, 0
    if not _move_units(group_buy, units - held, now):
        db.session.rollback()
        left = db.session.scalar(
            select(GroupBuy.total_units - GroupBuy.units_pledged).where(GroupBuy.id == group_buy.id)
        )
        raise DomainError(
            lazy_ngettext("Only %(num)d unit is left.", "Only %(num)d units are left.", left + held), field="units"
        )
    record = existing or Pledge(group_buy=group_buy, buyer=buyer, created_at=now, pickup_code=_new_code(group_buy.id))
    record.units, record.payment_method, record.show_name, record.updated_at = units, payment_method, show_name, now
    record.card_payment_method_id = card_payment_method_id if payment_method in CARD_PROVIDERS else None
    db.session.add(record)
    if existing is None:
        referrals.record_chain(
            buyer=buyer, producer_id=group_buy.producer_id, now=now, pledge=record, group_buy_id=group_buy.id,
            reward_bps=group_buy.reward_bps,
        )  # fmt: skip
    try:
        db.session.commit()
    except IntegrityError:  # a simultaneous first pledge by the same buyer won
        db.session.rollback()
        raise DomainError(_l("You already pledged; change that pledge instead."), field="units") from None
    return record


def withdraw(record: Pledge, *, by, now: datetime) -> None:
    """Take a pledge back before the deadline; its units are free again."""
    if by is None or record.buyer_id != by.id:
        raise NotAllowed(_l("This is not your pledge."))
    if record.status != "active" or not record.group_buy.takes_pledges(now):
        raise DomainError(_l("This pledge can no longer be withdrawn."))
    _lock_group_buy(record.group_buy_id)
    held = db.session.scalar(  # the units as committed now, not as this session last saw them
        update(Pledge)
        .where(Pledge.id == record.id, Pledge.status == "active")
        .values(status="withdrawn", updated_at=now)
        .returning(Pledge.units)
        .execution_options(synchronize_session=False)
    )
    if held is None or not _move_units(record.group_buy, -held, now):
        db.session.rollback()
        raise DomainError(_l("This pledge can no longer be withdrawn."))
    db.session.commit()


def cancel_group_buy(group_buy: GroupBuy, *, by, reason: str, now: datetime) -> None:
    """The producer calls it off before it is decided: nobody is charged, every pledger is told."""
    require_owner(group_buy.producer, by)
    reason = reason.strip()
    if not reason:
        raise DomainError(_l("Tell pledgers why it is cancelled."), field="reason")
    moved = db.session.execute(
        update(GroupBuy)
        .where(GroupBuy.id == group_buy.id, GroupBuy.status.in_(("draft", "open")))
        .values(status="cancelled", cancelled_at=now, cancel_reason=reason[:300], decided_at=now)
    )
    if moved.rowcount != 1:
        db.session.rollback()
        raise DomainError(_l("This group-buy is decided; its terms are fixed."))
    db.session.commit()


def settle_due_group_buys(*, now: datetime, batch: int | None = None) -> int:
    """Decide every group-buy whose deadline passed, then settle its pledges batch by batch
    (GROUP_BUY_SETTLEMENT_BATCH). Safe to kill at any point and run again, or on two workers at
    once. Returns the pledges settled in this run."""
    batch = batch or current_app.config.get("GROUP_BUY_SETTLEMENT_BATCH") or SETTLEMENT_BATCH
    due = db.session.scalars(select(GroupBuy.id).where(GroupBuy.status == "open", GroupBuy.deadline <= now)).all()
    for group_buy_id in due:
        reached = GroupBuy.units_pledged >= GroupBuy.min_units
        for outcome, condition in (("succeeded", reached), ("failed", ~reached)):
            db.session.execute(
                update(GroupBuy)
                .where(GroupBuy.id == group_buy_id, GroupBuy.status == "open", condition)
                .values(status=outcome, decided_at=now)
            )
        db.session.commit()
    settled = 0
    unsettled = db.session.scalars(
        select(GroupBuy).where(GroupBuy.status.in_(("succeeded", "failed", "cancelled")), GroupBuy.settled_at.is_(None))
    ).all()
    for group_buy in unsettled:
        settled += _settle(group_buy, now=now, batch=batch)
    return settled


def _settle(group_buy: GroupBuy, *, now: datetime, batch: int) -> int:
    """Move every still-active pledge of a decided group-buy, one committed batch at a time.
    On PostgreSQL a batch's pledges are locked (SKIP LOCKED), so two workers settling the same
    group-buy share out its pledges instead of waiting on each other; every move is conditional
    anyway. The group-buy is marked settled only once no pledge is left active (if another worker
    still holds some, it marks it, or the next run does)."""
    settled = 0
    while True:
        pledges = list(
            db.session.scalars(
                select(Pledge)
                .where(Pledge.group_buy_id == group_buy.id, Pledge.status == "active")
                .order_by(Pledge.id)
                .limit(batch)
                .with_for_update(skip_locked=True, of=Pledge)
                .options(selectinload(Pledge.buyer))
            )
        )
        if not pledges:
            break
        for record in pledges:
            if group_buy.status == "succeeded":
                settled += _charge(group_buy, record, now=now)
            else:
                settled += _release(group_buy, record, now=now)
        db.session.commit()  # a batch of releases and pickup pledges is kept or lost as a whole
        db.session.expire_all()
    still_active = select(Pledge.id).where(Pledge.group_buy_id == group_buy.id, Pledge.status == "active").exists()
    db.session.execute(
        update(GroupBuy)
        .where(GroupBuy.id == group_buy.id, GroupBuy.settled_at.is_(None), ~still_active)
        .values(settled_at=now)
    )
    db.session.commit()
    return settled


def _release(group_buy: GroupBuy, record: Pledge, *, now: datetime) -> int:
    """Nobody pays: the pledge is released and the pledger told, in the batch's transaction."""
    moved = db.session.execute(
        update(Pledge)
        .where(Pledge.id == record.id, Pledge.status == "active")
        .values(status="released", settled_at=now)
    )
    if moved.rowcount == 1 and record.buyer is not None:
        _tell(record, "group_buy_released", now=now)
    return moved.rowcount


def _charge(group_buy: GroupBuy, record: Pledge, *, now: datetime) -> int:
    """It is on: a pay-at-pickup pledge becomes due (in the batch's transaction); a card pledge
    is charged off-session once (its payment row is committed before the card is charged, with
    an idempotency key, and the outcome is committed right after)."""
    card = record.payment_method in CARD_PROVIDERS
    if not card:  # moved first: a pledge another worker moved gets no payment here
        moved = db.session.execute(
            update(Pledge).where(Pledge.id == record.id, Pledge.status == "active").values(status="due", settled_at=now)
        )
        if moved.rowcount == 1:
            record_payment(record, commit=False)
            _tell(record, "group_buy_on", now=now)
        return moved.rowcount
    payment = record_payment(record, commit=True)
    paid = payment.status == "succeeded" or _charge_card(record, payment, now=now)
    pay_by = None if paid else now + grace_period()
    moved = db.session.execute(
        update(Pledge)
        .where(Pledge.id == record.id, Pledge.status == "active")
        .values(status="paid" if paid else "unpaid", settled_at=now, pay_by=pay_by)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount == 1 and paid:
        _tell(record, "group_buy_on", now=now)
    elif moved.rowcount == 1:
        _tell_to_pay(record, pay_by=pay_by, now=now)
    db.session.commit()
    return moved.rowcount


def _charge_card(record: Pledge, payment, *, now: datetime) -> bool:
    """Charge the pledge's saved card (Stripe) or billing key (Toss) once, off-session (commits)."""
    if record.payment_method == "toss":
        from farmstore.payments import toss_flow

        return toss_flow.charge_billing_key(
            payment, record.card_payment_method_id, order_name=record.group_buy.title, now=now
        )
    from farmstore.payments import stripe_flow

    return stripe_flow.charge_saved_card(payment, record.card_payment_method_id, now=now)


def grace_period() -> timedelta:
    """How long a pledge whose card was declined keeps its units while the buyer pays."""
    return timedelta(hours=current_app.config["GROUP_BUY_GRACE_HOURS"])


def _tell_to_pay(record: Pledge, *, pay_by: datetime, now: datetime) -> None:
    """Ask the buyer to pay on the pledge's pay page before `pay_by` (caller commits)."""
    if record.buyer is not None:
        queue_email(
            to=record.buyer.email, template="group_buy_unpaid", locale=record.buyer.locale, now=now, pledge=record,
            group_buy=record.group_buy, pay_by=pay_by, link=external_url("groupbuys.pay", pledge_id=record.id),
        )  # fmt: skip


# Pledges that will never be charged: their saved card is released.
UNCHARGED_PLEDGE_STATUSES = ("released", "withdrawn")
CARD_RELEASE_BATCH = 100


def release_cards(*, now: datetime, batch: int = CARD_RELEASE_BATCH) -> int:
    """Tick job: the saved card of a pledge that will never be charged (its group-buy failed or
    was cancelled, or the buyer withdrew) is detached at Stripe (a Toss billing key is deleted),
    once, unless another pledge of the same buyer still counts on that card. A card the provider
    cannot be asked about now is tried again next tick. Returns how many pledges had their card released."""
    from farmstore.payments import stripe_flow, toss_flow
    from farmstore.payments.stripe_gateway import GatewayError
    from farmstore.payments.toss_gateway import TossError

    due = db.session.scalars(
        select(Pledge)
        .where(
            Pledge.status.in_(UNCHARGED_PLEDGE_STATUSES),
            Pledge.card_payment_method_id.is_not(None),
            Pledge.card_released_at.is_(None),
        )
        .order_by(Pledge.id)
        .limit(batch)
    ).all()
    released = 0
    for record in due:
        still_used = db.session.scalar(
            select(func.count())
            .select_from(Pledge)
            .where(
                Pledge.card_payment_method_id == record.card_payment_method_id,
                Pledge.id != record.id,
                Pledge.status.in_(HOLDING_PLEDGE_STATUSES),
            )
        )
        if not still_used:
            try:
                if record.payment_method == "toss":
                    toss_flow.delete_billing_key(record.card_payment_method_id)
                else:
                    stripe_flow.release_card(record.card_payment_method_id, now=now)
            except (GatewayError, TossError):
                db.session.rollback()
                current_app.logger.warning("could not release the card of pledge %s; next tick tries again", record.id)
                continue
        released += db.session.execute(
            update(Pledge).where(Pledge.id == record.id, Pledge.card_released_at.is_(None)).values(card_released_at=now)
        ).rowcount
        db.session.commit()
    return released


def record_payment(record: Pledge, *, commit: bool = True):
    """The pledge's one payment, created the first time it is needed (and committed, unless the
    caller commits it with other work)."""
    from farmstore.payments.models import Payment

    payment = db.session.scalar(select(Payment).where(Payment.pledge_id == record.id))
    if payment is None:
        try:
            with db.session.begin_nested():  # two workers at once: the second finds the first's payment
                payment = payments.new_payment(
                    producer_id=record.group_buy.producer_id, buyer_id=record.buyer_id,
                    amount=record.units * record.group_buy.unit_price, provider=record.payment_method, pledge=record,
                )  # fmt: skip
        except IntegrityError:
            payment = db.session.scalar(select(Payment).where(Payment.pledge_id == record.id))
        if commit:
            db.session.commit()
    return payment


def _tell(record: Pledge, template: str, *, now: datetime) -> None:
    buyer = record.buyer
    if buyer is None:
        return
    queue_email(
        to=buyer.email, template=template, locale=buyer.locale, now=now, pledge=record, group_buy=record.group_buy,
        link=external_url("groupbuys.show", group_buy_id=record.group_buy_id),
    )  # fmt: skip


# ---------------------------------------------------------------- grace period and waitlist


def _move(model, row_id: int, *, from_status: str, to: str, **values) -> bool:
    """Move a pledge or a waitlist entry to `to` only if it is still `from_status`: the tick, a
    late payment and the buyer acting on the same row must not all move its units (caller commits)."""
    moved = db.session.execute(
        update(model)
        .where(model.id == row_id, model.status == from_status)
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    )
    return moved.rowcount == 1


def _shift_units(group_buy_id: int, delta: int) -> bool:
    """Add `delta` held units (negative to free them) after the deadline; the database refuses
    to let the count pass the total (caller commits)."""
    result = db.session.execute(
        update(GroupBuy)
        .where(
            GroupBuy.id == group_buy_id,
            GroupBuy.units_pledged + delta <= GroupBuy.total_units,
            GroupBuy.units_pledged + delta >= 0,
        )
        .values(units_pledged=GroupBuy.units_pledged + delta)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


@payment_succeeded.connect
def _pledge_paid(_sender, payment, now: datetime, **_extra) -> None:
    """The money of an unpaid pledge arrived (its pay page, a webhook, a reconciliation): it is
    paid and keeps its units. Runs in the payment layer's transaction, which commits. A pledge
    whose units were already freed never gets here: its payment was canceled first."""
    if payment.pledge_id is None:
        return
    record = db.session.get(Pledge, payment.pledge_id)
    if _move(Pledge, record.id, from_status="unpaid", to="paid", pay_by=None):
        db.session.refresh(record)
        _tell(record, "group_buy_on", now=now)


def free_unpaid_pledges(*, now: datetime) -> int:
    """Tick job: pledges still unpaid after their grace period give up their units, which are
    offered to the waitlist. Each payment is locked and its intent canceled at Stripe before the
    pledge moves, so a late payment either wins fully (the pledge is paid and keeps its units) or
    can no longer be made; never both. Returns how many pledges were freed."""
    due = db.session.scalars(
        select(Pledge.id).where(Pledge.status == "unpaid", Pledge.pay_by <= now).order_by(Pledge.id)
    ).all()
    freed = 0
    for pledge_id in due:
        record = db.session.get(Pledge, pledge_id)
        payment = record_payment(record)
        payments.lock(payment)  # the pay page and the webhook wait until this commits
        try:
            payments.cancel_unpaid(payment, now=now)  # money that arrived meanwhile is recorded instead
        except DomainError:  # Stripe is still processing a payment, or cannot be reached: next tick
            db.session.rollback()
            continue
        if payment.status != "canceled" or not _move(Pledge, pledge_id, from_status="unpaid", to="lapsed"):
            db.session.commit()  # paid after all
            continue
        _shift_units(record.group_buy_id, -record.units)
        db.session.refresh(record)
        _tell(record, "group_buy_lapsed", now=now)
        _offer_freed_units(record.group_buy_id, now=now)
        db.session.commit()
        freed += 1
    return freed


def join_waitlist(*, group_buy: GroupBuy, buyer, units: int, now: datetime) -> GroupBuyWaitlistEntry:
    """Wait for units of a full group-buy; units freed after the deadline are offered in the
    order people joined."""
    if group_buy.status not in ("open", "succeeded") or (group_buy.status == "open" and now >= group_buy.deadline):
        raise DomainError(_l("This group-buy has no waitlist now."))
    if group_buy.units_left > 0:
        raise DomainError(_l("There are units left: pledge instead."))
    if group_buy.producer.user_id == buyer.id:
        raise DomainError(_l("You cannot pledge to your own group-buy."))
    if pledge_of(group_buy, buyer) is not None:
        raise DomainError(_l("You already pledged; change that pledge instead."))
    if not isinstance(units, int) or not 1 <= units <= group_buy.per_buyer_max:
        raise DomainError(_l("You can wait for 1 to %(n)d.", n=group_buy.per_buyer_max), field="units")
    entry = GroupBuyWaitlistEntry(group_buy=group_buy, buyer=buyer, units=units, created_at=now)
    db.session.add(entry)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise DomainError(_l("You are already on the waitlist for this.")) from None
    return entry


def waitlist_entry_of(group_buy: GroupBuy, buyer) -> GroupBuyWaitlistEntry | None:
    """The buyer's open place on the group-buy's waitlist, if any."""
    return db.session.scalar(
        select(GroupBuyWaitlistEntry).where(
            GroupBuyWaitlistEntry.group_buy_id == group_buy.id,
            GroupBuyWaitlistEntry.buyer_id == buyer.id,
            GroupBuyWaitlistEntry.status.in_(("waiting", "offered")),
        )
    )


def leave_waitlist(entry: GroupBuyWaitlistEntry, *, by, now: datetime) -> None:
    """Leave the waitlist; units held for this buyer go to the next one."""
    if by is None or entry.buyer_id != by.id:
        raise NotAllowed(_l("This is not your place on the waitlist."))
    held = entry.status == "offered"
    if entry.status not in ("waiting", "offered") or not _move(
        GroupBuyWaitlistEntry, entry.id, from_status=entry.status, to="left"
    ):
        db.session.rollback()
        return
    if held:
        _shift_units(entry.group_buy_id, -entry.units)
        _offer_freed_units(entry.group_buy_id, now=now)
    db.session.commit()


def claim_offer(entry: GroupBuyWaitlistEntry, *, by, payment_method: str, now: datetime) -> Pledge:
    """Take the units held for you: they become your pledge, due at pickup, or to pay by card on
    the pledge's pay page within the grace period (else they are freed again)."""
    if by is None or entry.buyer_id != by.id:
        raise NotAllowed(_l("This is not your place on the waitlist."))
    if payment_method not in current_app.config["PAYMENT_PROVIDERS"]:
        raise DomainError(_l("This way of paying is not available."), field="payment_method")
    still_offered = (GroupBuyWaitlistEntry.offer_expires_at > now,)
    if (
        entry.status != "offered"
        or not db.session.execute(
            update(GroupBuyWaitlistEntry)
            .where(GroupBuyWaitlistEntry.id == entry.id, GroupBuyWaitlistEntry.status == "offered", *still_offered)
            .values(status="claimed")
            .execution_options(synchronize_session=False)
        ).rowcount
    ):
        db.session.rollback()
        raise DomainError(_l("This offer has ended."))
    card = payment_method in CARD_PROVIDERS
    record = Pledge(
        group_buy_id=entry.group_buy_id, buyer_id=by.id, units=entry.units, payment_method=payment_method,
        status="unpaid" if card else "due", created_at=now, updated_at=now, settled_at=now,
        pay_by=now + grace_period() if card else None, pickup_code=_new_code(entry.group_buy_id),
    )  # fmt: skip
    db.session.add(record)
    try:
        db.session.flush()
    except IntegrityError:  # they hold a pledge already (one per household)
        db.session.rollback()
        raise DomainError(_l("You already pledged; change that pledge instead.")) from None
    record_payment(record, commit=False)
    db.session.commit()
    return record


def _offer_freed_units(group_buy_id: int, *, now: datetime) -> None:
    """Hold freed units of a succeeded group-buy for the waitlist, first come first served, and
    tell each buyer (caller commits)."""
    group_buy = db.session.get(GroupBuy, group_buy_id)
    if group_buy.status != "succeeded":
        return
    expires = now + timedelta(minutes=current_app.config["WAITLIST_CLAIM_MINUTES"])
    while True:
        db.session.refresh(group_buy)
        entry = db.session.scalar(
            select(GroupBuyWaitlistEntry)
            .where(GroupBuyWaitlistEntry.group_buy_id == group_buy_id, GroupBuyWaitlistEntry.status == "waiting")
            .order_by(GroupBuyWaitlistEntry.created_at, GroupBuyWaitlistEntry.id)
            .limit(1)
        )
        units = min(entry.units, group_buy.units_left) if entry else 0
        if units <= 0 or not _shift_units(group_buy_id, units):
            return
        if not _move(
            GroupBuyWaitlistEntry, entry.id, from_status="waiting", to="offered", units=units, offered_at=now,
            offer_expires_at=expires,
        ):  # fmt: skip
            _shift_units(group_buy_id, -units)  # they left the line meanwhile: try the next one
            continue
        db.session.refresh(entry)
        queue_email(
            to=entry.buyer.email, template="group_buy_waitlist_offer", locale=entry.buyer.locale, now=now,
            entry=entry, group_buy=group_buy, link=external_url("groupbuys.show", group_buy_id=group_buy_id),
        )  # fmt: skip


def lapse_waitlist_offers(*, now: datetime) -> int:
    """Tick job: offers not claimed in time lapse; their units go to the next in line."""
    ended = db.session.scalars(
        select(GroupBuyWaitlistEntry).where(
            GroupBuyWaitlistEntry.status == "offered", GroupBuyWaitlistEntry.offer_expires_at <= now
        )
    ).all()
    count = 0
    for entry in ended:
        if not _move(GroupBuyWaitlistEntry, entry.id, from_status="offered", to="lapsed"):
            db.session.rollback()  # claimed or left since it was loaded
            continue
        _shift_units(entry.group_buy_id, -entry.units)
        _offer_freed_units(entry.group_buy_id, now=now)
        db.session.commit()
        count += 1
    return count


def get_group_buy(group_buy_id: int) -> GroupBuy:
    group_buy = db.session.scalar(
        select(GroupBuy)
        .where(GroupBuy.id == group_buy_id)
        .options(
            selectinload(GroupBuy.producer).selectinload(Producer.village),
            selectinload(GroupBuy.subject).selectinload(Subject.cover_photo),
            selectinload(GroupBuy.pickup_point),
        )
    )
    if group_buy is None:
        raise NotFound(_l("No such group-buy."))
    return group_buy


def open_group_buys(
    *, now: datetime, limit: int = 12, producer_ids=None, village_id: int | None = None
) -> list[GroupBuy]:
    """Group-buys taking pledges, closest to the deadline first."""
    query = (
        select(GroupBuy)
        .where(GroupBuy.status == "open", GroupBuy.deadline > now, GroupBuy.subject_id.is_not(None))  # not deals
        .options(selectinload(GroupBuy.producer), selectinload(GroupBuy.subject).selectinload(Subject.cover_photo))
    )
    if producer_ids is not None:
        query = query.where(GroupBuy.producer_id.in_(producer_ids))
    if village_id is not None:
        query = query.join(GroupBuy.producer).where(Producer.village_id == village_id)
    return list(db.session.scalars(query.order_by(GroupBuy.deadline, GroupBuy.id).limit(limit)))


def households(group_buy: GroupBuy) -> int:
    """How many households hold a pledge; for a group-buy that failed or was cancelled, how many
    held one when it ended (their pledges are released, but `units_pledged` still counts them)."""
    statuses = HOLDING_PLEDGE_STATUSES
    if group_buy.status in ("failed", "cancelled"):
        statuses = (*HOLDING_PLEDGE_STATUSES, "released")
    return db.session.scalar(
        select(func.count()).select_from(Pledge).where(Pledge.group_buy_id == group_buy.id, Pledge.status.in_(statuses))
    )


def public_pledgers(group_buy: GroupBuy, *, limit: int = 50) -> list[str]:
    """The first word of the display name of each pledger who agreed to be shown."""
    names = db.session.scalars(
        select(Pledge)
        .where(
            Pledge.group_buy_id == group_buy.id, Pledge.status.in_(HOLDING_PLEDGE_STATUSES), Pledge.show_name.is_(True)
        )
        .options(selectinload(Pledge.buyer))
        .order_by(Pledge.created_at)
        .limit(limit)
    )
    return [p.buyer.display_name.split()[0] for p in names if p.buyer and p.buyer.display_name]


def allocation(group_buy: GroupBuy, *, by) -> list[Pledge]:
    """Who gets how many units, with pickup codes: the producer's sheet for a decided group-buy."""
    require_owner(group_buy.producer, by)
    return list(
        db.session.scalars(
            select(Pledge)
            .where(Pledge.group_buy_id == group_buy.id, Pledge.status.in_(("due", "paid", "unpaid")))
            .options(selectinload(Pledge.buyer))
            .order_by(Pledge.pickup_code)
        )
    )


def allocation_csv(group_buy: GroupBuy, pledges: list[Pledge]) -> str:
    """The allocation sheet as CSV (totals after the final weight, when a share was weighed); every
    row carries the animal's traceability number, as the law asks of each pack cut from it."""
    header = [
        _l("Pickup code"), _l("Name"), _l("Phone"), _l("Units"), _l("Unit"), _l("Total"), _l("Status"),
        _l("Picked up"), _l("Final weight (g)"), _l("Traceability number"),
    ]  # fmt: skip
    trace_number = group_buy.subject.trace_number if group_buy.subject else ""
    rows = [
        [
            record.pickup_code,
            record.buyer.display_name if record.buyer else "",
            record.buyer.phone if record.buyer else "",
            record.units,
            group_buy.unit_label,
            record.total_after_weight,
            record.status_label,
            local_time(record.picked_up_at),
            record.final_grams or "",
            trace_number,
        ]
        for record in pledges
    ]
    return csv_text(header, rows)


def check_in_pledge(*, group_buy: GroupBuy, code: str, by, now: datetime) -> Pledge:
    """The producer hands over a pledge's units by its pickup code; pay-at-pickup money is
    recorded as received at the same moment."""
    require_owner(group_buy.producer, by)
    code = re.sub(r"[\s-]", "", code or "").upper()
    record = db.session.scalar(select(Pledge).where(Pledge.group_buy_id == group_buy.id, Pledge.pickup_code == code))
    if record is None or record.status not in ("due", "paid"):
        raise DomainError(_l("No pledge to hand over has the code %(code)s.", code=code or "—"), field="code")
    if record.picked_up_at is not None:
        raise DomainError(_l("This pledge was already picked up."), field="code")
    _collect_weight_extra(record, by=by, now=now)
    if record.status == "due":
        payment = record_payment(record)
        payments._succeed(payment, now=now, by=by)
        record.status = "paid"
    record.picked_up_at = now
    db.session.flush()
    referrals.settle_rewards_of(pledge=record, now=now)
    waiting = db.session.scalar(
        select(func.count())
        .select_from(Pledge)
        .where(Pledge.group_buy_id == group_buy.id, Pledge.status.in_(("due", "paid")), Pledge.picked_up_at.is_(None))
    )
    if not waiting:  # everyone has their share: the group-buy is fulfilled
        db.session.execute(
            update(GroupBuy)
            .where(GroupBuy.id == group_buy.id, GroupBuy.status == "succeeded")
            .values(status="fulfilled")
        )
    db.session.commit()
    return record


# ---------------------------------------------------------------- final weight (animals)


def weight_difference(group_buy: GroupBuy, *, units: int, grams: int) -> int:
    """What a share weighing `grams` costs more (+) or less (−) than its unit price assumed, in
    won, rounded in the buyer's favour."""
    return (grams - units * group_buy.grams_per_unit) * group_buy.price_per_kg // 1000


# A weight whose difference would not fit the money columns is a typo, not a share.
MAX_WEIGHT_DIFFERENCE = 1_000_000_000


def settle_final_weight(record: Pledge, *, grams: int, by, now: datetime) -> Pledge:
    """The producer weighs a share of a group-buy sold by weight, after it is on and before
    pickup, and the difference is settled exactly once (the claim is a conditional UPDATE of
    `weight_settled_at`; a second call changes nothing). Pay at pickup, not yet paid: the amount
    due changes (never below nothing). Already paid: a lighter share is refunded (never more than
    was paid); a heavier one is an extra payment, charged to the pledge's saved card, or due at
    pickup (then collected at check-in). The buyer is emailed the weight and the difference."""
    group_buy = record.group_buy
    require_owner(group_buy.producer, by)
    if not group_buy.sold_by_weight:
        raise DomainError(_l("This group-buy is not sold by weight."))
    if not isinstance(grams, int) or grams <= 0:
        raise DomainError(_l("Enter the final weight in grams, above zero."), field="grams")
    difference = weight_difference(group_buy, units=record.units, grams=grams)
    if abs(difference) > MAX_WEIGHT_DIFFERENCE:
        raise DomainError(_l("Check the weight: it is far from what a share weighs."), field="grams")
    if record.weight_settled_at is not None:
        raise DomainError(_l("The final weight of this share is already settled."))
    if group_buy.status != "succeeded" or record.status not in ("due", "paid") or record.picked_up_at is not None:
        raise DomainError(
            _l("A share is weighed once the group-buy is on and the share is due or paid, before pickup.")
        )
    claimed = db.session.execute(
        update(Pledge)
        .where(
            Pledge.id == record.id, Pledge.weight_settled_at.is_(None), Pledge.picked_up_at.is_(None),
            Pledge.status.in_(("due", "paid")),
        )
        .values(final_grams=grams, weight_settled_at=now)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if claimed.rowcount != 1:
        db.session.rollback()
        raise DomainError(_l("The final weight of this share is already settled."))
    db.session.refresh(record)
    payment = record_payment(record, commit=False)
    extra = None
    if record.status == "due":
        record.weight_difference = _adjust_due(payment, difference)
    elif difference < 0:
        record.weight_difference = -min(-difference, payment.refundable)
        if record.weight_difference:  # commits the claim with the refund
            payments.refund(
                payment, amount=-record.weight_difference, reason=str(_l("Final weight: lighter than assumed")),
                by=by, now=now, automatic=True,
            )  # fmt: skip
    else:
        record.weight_difference = difference
        if difference:
            card = record.payment_method == "stripe" and record.card_payment_method_id and _has_customer(record)
            extra = payments.new_payment(
                producer_id=group_buy.producer_id, buyer_id=record.buyer_id, amount=difference,
                provider="stripe" if card else "pickup",
            )  # fmt: skip
            db.session.flush()
            record.weight_payment_id = extra.id
    db.session.commit()
    if extra is not None and extra.provider == "stripe":
        try:
            _charge_extra(record, extra, now=now)
        except DomainError:  # Stripe cannot be reached: check-in charges it (or adopts this charge)
            db.session.rollback()
            current_app.logger.warning("the weight extra of pledge %s is not charged yet", record.id)
    db.session.refresh(record)
    _tell(record, "group_buy_final_weight", now=now)
    db.session.commit()
    return record


def _adjust_due(payment, difference: int) -> int:
    """Change what a pay-at-pickup pledge still owes by `difference`, never below nothing; returns
    the change made (caller commits)."""
    from farmstore.payments.models import Payment

    applied = max(difference, -payment.amount)
    changed = db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status == "pending", Payment.amount + applied >= 0)
        .values(amount=Payment.amount + applied)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        db.session.rollback()
        raise DomainError(_l("This share's payment changed meanwhile. Please try again."))
    db.session.refresh(payment)
    return applied


def _has_customer(record: Pledge) -> bool:
    from farmstore.payments.models import StripeCustomer

    return record.buyer_id is not None and db.session.get(StripeCustomer, record.buyer_id) is not None


def _charge_extra(record: Pledge, extra, *, now: datetime) -> bool:
    """Charge a weight extra to the pledge's saved card off-session (commits). A declined card
    makes it due at pickup instead. Returns True when the card paid; raises DomainError when
    Stripe cannot be reached (nothing is decided then)."""
    from farmstore.payments import stripe_flow
    from farmstore.payments.models import Payment

    if stripe_flow.charge_saved_card(extra, record.card_payment_method_id, now=now):
        return True
    db.session.execute(  # the failed intent is forgotten, so Stripe's late word about it changes nothing
        update(Payment)
        .where(Payment.id == extra.id, Payment.status.in_(("pending", "failed")))
        .values(provider="pickup", status="pending", stripe_payment_intent_id=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(extra)
    return False


def _collect_weight_extra(record: Pledge, *, by, now: datetime) -> None:
    """At check-in, a weight extra not paid yet is collected: by the saved card if it was meant
    for it (raises DomainError when Stripe cannot be reached), otherwise in person (caller commits)."""
    extra = record.weight_payment
    if extra is None or extra.status == "succeeded":
        return
    if extra.provider == "stripe" and _charge_extra(record, extra, now=now):
        return
    payments._succeed(extra, now=now, by=by)


def send_story_to_pledgers(post, *, by, now: datetime) -> int:
    """Email a new story on a subject to everyone holding a pledge in its live group-buys
    (planting, growth, harvest), so the timeline goes on after the money. Returns the emails."""
    require_owner(post.subject.producer, by)
    pledges = db.session.scalars(
        select(Pledge)
        .join(GroupBuy)
        .where(
            GroupBuy.subject_id == post.subject_id,
            GroupBuy.status.in_(("open", "succeeded")),
            Pledge.status.in_(HOLDING_PLEDGE_STATUSES),
        )
        .options(selectinload(Pledge.buyer), selectinload(Pledge.group_buy))
    ).all()
    link = external_url(
        "stories.post", producer_slug=post.subject.producer.slug, subject_slug=post.subject.slug, post_id=post.id
    )
    sent = 0
    for record in pledges:
        if record.buyer is not None:
            queue_email(
                to=record.buyer.email, template="group_buy_update", locale=record.buyer.locale, now=now,
                pledge=record, group_buy=record.group_buy, post=post, link=link,
            )  # fmt: skip
            sent += 1
    db.session.commit()
    return sent
