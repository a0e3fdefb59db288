"""Card payments through Stripe: our rules on top of the gateway.

Every call that moves money carries an idempotency key derived from our own record
(`payment-<id>-attempt-<n>`, `refund-<id>`), and our database, not Stripe, decides what may
happen: a payment succeeds once, never after it was canceled, and is never refunded beyond what
was paid. Payment state never depends on the buyer's browser: Stripe's webhooks
(`handle_event`) and the tick (`reconcile_stripe_payments`) both bring a payment up to date,
and `reconcile` asks Stripe directly, so a crash between "Stripe did it" and "we committed it"
is caught up without charging or refunding twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from farmstore.accounts.models import User
from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.payments import services
from farmstore.payments import stripe_gateway as gateway
from farmstore.payments.models import Payment, Refund, SavedCard, StripeCustomer, WebhookEvent
from farmstore.payments.services import _fail_attempt as _fail
from farmstore.payments.signals import payment_failed
from farmstore.payments.stripe_gateway import CardDeclined, GatewayError

# A payment or refund still pending after this long is asked about at Stripe by the tick: by
# then its webhook should have arrived, and the request that made it has surely finished.
RECONCILE_AFTER = timedelta(minutes=5)
# Older pending payments are left to the webhook (which Stripe retries for three days).
RECONCILE_WINDOW = timedelta(days=1)
RECONCILE_BATCH = 100
# An unfinished card setup is offered again for this long, and canceled at Stripe after a day.
SETUP_REUSE = timedelta(hours=1)
SETUP_ABANDONED = timedelta(days=1)

UNREACHABLE = _l("We could not reach the card payment service. Please try again in a minute.")
REFUND_LATER = _l("We could not reach the card payment service. The refund is saved and will be sent automatically.")


def _intent_key(payment: Payment) -> str:
    """The idempotency key of the payment's current attempt."""
    return f"payment-{payment.id}-attempt-{payment.attempt}"


def _metadata(payment: Payment) -> dict[str, str]:
    """What the intent carries back to us: our payment (and order) id."""
    metadata = {"payment_id": str(payment.id)}
    if payment.order_id:
        metadata["order_id"] = str(payment.order_id)
    return metadata


# ---------------------------------------------------------------- paying in the browser


def _create_intent(payment: Payment, *, save_card: bool = False) -> None:
    """Create the payment's PaymentIntent for the amount the server computed and store its id.
    A retry reuses the idempotency key, so Stripe hands back the same intent."""
    customer = None
    setup_future_usage = None
    if save_card:
        customer = save_card_customer(db.session.get(User, payment.buyer_id))
        # Stripe keeps the card for off-session charges; localstripe rejects the parameter.
        setup_future_usage = current_app.config["STRIPE_SETUP_FUTURE_USAGE"]
    intent = gateway.create_payment_intent(
        amount=payment.amount, currency=payment.currency, metadata=_metadata(payment),
        idempotency_key=_intent_key(payment), customer=customer, setup_future_usage=setup_future_usage,
    )  # fmt: skip
    payment.stripe_payment_intent_id = intent["id"]
    db.session.commit()


def start(payment: Payment, *, save_card: bool = False) -> None:
    """Prepare a card payment (called right after the order is committed): create its
    PaymentIntent. With `save_card` the card is also kept on the buyer's Stripe Customer for
    later off-session charges. If Stripe cannot be reached the order still stands: the pay page
    tries again, with the same idempotency key."""
    if payment.stripe_payment_intent_id or payment.status != "pending":
        return
    try:
        _create_intent(payment, save_card=save_card)
    except (GatewayError, DomainError):
        db.session.rollback()
        current_app.logger.exception("could not create the PaymentIntent of payment %s", payment.id)


def checkout_secret(payment: Payment, *, now: datetime) -> str | None:
    """The client secret the pay page hands to Stripe.js, or None when there is nothing left to
    pay: the money already arrived (recorded here, without waiting for the webhook) or the
    intent was canceled. Raises DomainError when Stripe cannot be reached."""
    try:
        if not payment.stripe_payment_intent_id:
            _create_intent(payment)
        intent = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    except GatewayError as error:
        db.session.rollback()
        raise DomainError(UNREACHABLE) from error
    if intent["status"] in ("succeeded", "canceled"):
        _apply_intent(payment, intent, now=now)
        db.session.commit()
        return None
    return intent["client_secret"]


def checkout_secret_after_decline(payment: Payment, *, now: datetime) -> str | None:
    """The client secret for paying on-session a payment whose off-session charge was declined
    (a group-buy pledge in its grace period): a failed payment gets a new PaymentIntent for its
    next attempt. The payment is locked meanwhile, so the tick cannot decide it will never be
    paid while its new intent is being made (the tick then cancels that intent at Stripe). None
    when there is nothing left to pay (commits)."""
    services.lock(payment)
    if payment.status in ("succeeded", "canceled"):
        db.session.rollback()
        return None
    if payment.status == "failed":
        payment.status, payment.stripe_payment_intent_id = "pending", None
        try:
            _create_intent(payment)
        except GatewayError as error:
            db.session.rollback()
            raise DomainError(UNREACHABLE) from error
    return checkout_secret(payment, now=now)


# ---------------------------------------------------------------- what Stripe tells us


def _collect(payment: Payment, intent: dict, *, now: datetime) -> None:
    """The intent succeeded: record the money once (caller commits). An intent whose amount is
    not the payment's, or money for a payment we canceled, is logged for an operator instead."""
    if intent["amount"] != payment.amount or intent["currency"].upper() != payment.currency.upper():
        current_app.logger.error(
            "PaymentIntent %s is for %s %s but payment %s is for %s %s; not recorded",
            intent["id"], intent["amount"], intent["currency"], payment.id, payment.amount, payment.currency,
        )  # fmt: skip
        return
    try:
        services._succeed(payment, now=now)
    except DomainError:
        current_app.logger.error("PaymentIntent %s succeeded but payment %s was canceled", intent["id"], payment.id)


def _cancel(payment: Payment, *, now: datetime) -> None:
    """The intent was canceled at Stripe, so this payment can never be collected. Sends
    `payment_failed` once; the caller commits."""
    changed = db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status.in_(("pending", "failed")))
        .values(status="canceled", canceled_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(payment)
    if changed:
        payment_failed.send(current_app._get_current_object(), payment=payment, now=now)


def _apply_intent(payment: Payment, intent: dict, *, now: datetime) -> None:
    """Bring the payment in line with what Stripe says about its intent (caller commits).
    An intent still waiting for the buyer, or processing, changes nothing."""
    status = intent["status"]
    if status == "succeeded":
        _collect(payment, intent, now=now)
    elif status == "canceled":
        _cancel(payment, now=now)
    elif status == "requires_payment_method" and intent.get("last_payment_error"):
        message = intent["last_payment_error"].get("message") or str(_l("The card payment failed."))
        _fail(payment, message=message, now=now)


def _payment_for_intent(intent: dict) -> Payment | None:
    """Our payment for a PaymentIntent: by its id or, for a payment whose attempt has no intent
    id yet, by the payment id we put in the intent's metadata (the commit that would have stored
    the id was lost after Stripe created the intent)."""
    payment = db.session.scalar(select(Payment).where(Payment.stripe_payment_intent_id == intent["id"]))
    if payment is not None:
        return payment
    payment_id = (intent.get("metadata") or {}).get("payment_id", "")
    payment = db.session.get(Payment, int(payment_id)) if payment_id.isdigit() else None
    if payment is None or payment.provider != "stripe" or payment.stripe_payment_intent_id is not None:
        return None
    payment.stripe_payment_intent_id = intent["id"]
    return payment


def _on_intent_event(intent: dict, *, now: datetime) -> None:
    """payment_intent.succeeded, .payment_failed, .canceled: apply the intent to our payment."""
    payment = _payment_for_intent(intent)
    if payment is None:
        current_app.logger.warning("webhook for PaymentIntent %s, which is not ours", intent["id"])
        return
    _apply_intent(payment, intent, now=now)


def _on_charge_refunded(charge: dict, *, now: datetime) -> None:
    """charge.refunded: finish our pending refunds of that charge's payment."""
    intent_id = charge.get("payment_intent")
    if not intent_id:
        return
    payment = db.session.scalar(select(Payment).where(Payment.stripe_payment_intent_id == intent_id))
    if payment is not None:
        _reconcile_refunds(payment, now=now)


EVENT_HANDLERS = {
    "payment_intent.succeeded": _on_intent_event,
    "payment_intent.payment_failed": _on_intent_event,
    "payment_intent.canceled": _on_intent_event,
    "charge.refunded": _on_charge_refunded,
}


def handle_event(event: dict, *, now: datetime) -> bool:
    """Act on a verified Stripe event, exactly once: the event id is stored in the same
    transaction as its effects, so a replayed or concurrent duplicate changes nothing.
    Returns False for an event already processed or of a type we ignore (both are success:
    the webhook answers 2xx). Errors propagate so Stripe delivers the event again later."""
    handler = EVENT_HANDLERS.get(event["type"])
    if handler is None or db.session.get(WebhookEvent, event["id"]) is not None:
        return False
    db.session.add(WebhookEvent(id=event["id"], type=event["type"], received_at=now))
    try:
        db.session.flush()
    except IntegrityError:  # the same event, delivered twice at once: the other one handles it
        db.session.rollback()
        return False
    handler(event["data"]["object"], now=now)
    db.session.commit()
    return True


# ---------------------------------------------------------------- catching up


def reconcile(payment: Payment, *, now: datetime) -> None:
    """Ask Stripe what happened to a card payment and catch up (commits): money that arrived
    is recorded even if its webhook never comes, a failed or canceled intent marks the payment,
    and refunds stuck in 'pending' are finished from Stripe's own list of the intent's refunds,
    so a crash between Stripe and our commit never refunds twice. Raises GatewayError when
    Stripe cannot be reached (nothing is changed then)."""
    if payment.provider != "stripe" or not payment.stripe_payment_intent_id:
        return
    if payment.status == "pending":
        _apply_intent(payment, gateway.retrieve_payment_intent(payment.stripe_payment_intent_id), now=now)
    if any(record.status == "pending" for record in payment.refunds):
        _reconcile_refunds(payment, now=now)
    db.session.commit()


def reconcile_stripe_payments(*, now: datetime) -> int:
    """Tick job: reconcile card payments Stripe may have finished without telling us (a lost
    webhook): pending ones older than RECONCILE_AFTER, and those with a refund pending that
    long. A payment Stripe cannot be asked about now is tried again next tick. Returns how many
    were checked."""
    if not current_app.config["STRIPE_SECRET_KEY"]:
        return 0
    cutoff = now - RECONCILE_AFTER
    stuck_refunds = select(Refund.payment_id).where(Refund.status == "pending", Refund.created_at <= cutoff)
    due = db.session.scalars(
        select(Payment)
        .where(
            Payment.provider == "stripe",
            Payment.stripe_payment_intent_id.is_not(None),
            or_(
                and_(Payment.status == "pending", Payment.created_at.between(now - RECONCILE_WINDOW, cutoff)),
                Payment.id.in_(stuck_refunds),
            ),
        )
        .order_by(Payment.id)
        .limit(RECONCILE_BATCH)
    ).all()
    done = 0
    for payment in due:
        try:
            reconcile(payment, now=now)
        except GatewayError:
            db.session.rollback()
            current_app.logger.warning("could not reconcile payment %s; next tick tries again", payment.id)
        else:
            done += 1
    return done


def cancel_intent(payment: Payment, *, now: datetime) -> None:
    """Cancel an unpaid payment's intent at Stripe so the card can never be charged for it
    (the order ended). If the money arrived meanwhile it is recorded instead, the caller's
    cancellation then changes nothing, and the tick refunds money for an ended order. Caller
    commits."""
    try:
        gateway.cancel_payment_intent(payment.stripe_payment_intent_id)
        return
    except GatewayError:
        pass  # already canceled, already paid, or Stripe is unreachable: ask what it is now
    try:
        intent = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    except GatewayError as error:
        raise DomainError(UNREACHABLE) from error
    if intent["status"] == "succeeded":
        _collect(payment, intent, now=now)
    elif intent["status"] != "canceled":
        raise DomainError(_l("The card payment is still being processed. Please try again in a few minutes."))


# ---------------------------------------------------------------- refunds


def _refund_metadata(record: Refund) -> dict[str, str]:
    """What a Stripe refund carries back to us: our refund and payment ids."""
    return {"refund_id": str(record.id), "payment_id": str(record.payment_id)}


def send_refund(record: Refund) -> dict:
    """Ask Stripe to give back a refund's amount (the Refund row is already committed as
    pending). The idempotency key and the refund id in Stripe's metadata are how a retry, or
    `reconcile` after a crash, finds it again instead of refunding twice. Stores Stripe's refund
    id; the caller completes the refund and commits. A refusal marks the refund failed (its
    amount may be refunded again) and raises DomainError; when Stripe cannot be reached the
    refund stays pending and the tick sends it later. Returns Stripe's refund."""
    try:
        stripe_refund = gateway.create_refund(
            payment_intent=record.payment.stripe_payment_intent_id, amount=record.amount,
            metadata=_refund_metadata(record), idempotency_key=f"refund-{record.id}",
        )  # fmt: skip
    except GatewayError as error:
        if error.retryable:
            raise DomainError(REFUND_LATER) from error
        services._fail_refund(record)
        db.session.commit()
        raise DomainError(
            _l("The card payment service refused the refund: %(reason)s", reason=error.message)
        ) from error
    record.stripe_refund_id = stripe_refund["id"]
    return stripe_refund


def _refunded_before(record: Refund) -> int:
    """What earlier refunds of the same payment took, as `services.refund` counted it."""
    return sum(r.amount for r in record.payment.refunds if r.id < record.id and r.status != "failed")


def _finish_refund(record: Refund, stripe_refund: dict, *, now: datetime) -> None:
    """Complete a pending refund from Stripe's record of it, once (caller commits)."""
    if stripe_refund["status"] in ("failed", "canceled"):
        services._fail_refund(record)
        return
    if stripe_refund["status"] != "succeeded":
        return  # still pending at Stripe: charge.refunded or the next tick finishes it
    claimed = db.session.execute(
        update(Refund)
        .where(Refund.id == record.id, Refund.status == "pending")
        .values(stripe_refund_id=stripe_refund["id"])
    ).rowcount
    db.session.refresh(record)
    if claimed:
        services._complete_refund(record, refunded_before=_refunded_before(record), now=now)


def _reconcile_refunds(payment: Payment, *, now: datetime) -> None:
    """Finish the payment's pending refunds from Stripe's list of the intent's refunds, matched
    by the refund id in their metadata. One Stripe never received is sent again once it is old
    enough that the request that made it has surely ended (caller commits)."""
    at_stripe = {}
    for stripe_refund in gateway.list_refunds(payment.stripe_payment_intent_id):
        refund_id = stripe_refund["metadata"].get("refund_id")
        if refund_id is None:
            current_app.logger.warning("refund %s of payment %s was not made here", stripe_refund["id"], payment.id)
        at_stripe[refund_id] = stripe_refund
    for record in [r for r in payment.refunds if r.status == "pending"]:
        stripe_refund = at_stripe.get(str(record.id))
        if stripe_refund is None:
            if record.created_at > now - RECONCILE_AFTER:
                continue
            try:
                stripe_refund = send_refund(record)
            except DomainError:  # refused (now marked failed) or Stripe unreachable (next time)
                continue
        _finish_refund(record, stripe_refund, now=now)


# ---------------------------------------------------------------- saved cards (group-buys)


def save_card_customer(user: User) -> str:
    """The Stripe Customer that holds an account's saved cards: created on first use, one per
    account (commits). Raises DomainError when Stripe cannot be reached."""
    row = db.session.get(StripeCustomer, user.id)
    if row is not None:
        return row.customer_id
    try:
        customer = gateway.create_customer(
            email=user.email, metadata={"user_id": str(user.id)}, idempotency_key=f"customer-user-{user.id}"
        )
    except GatewayError as error:
        raise DomainError(UNREACHABLE) from error
    db.session.add(StripeCustomer(user_id=user.id, customer_id=customer["id"]))
    try:
        db.session.commit()
    except IntegrityError:  # a simultaneous first use saved theirs first: use it
        db.session.rollback()
        return db.session.get(StripeCustomer, user.id).customer_id
    return customer["id"]


def save_card(user: User, payment_method: str) -> str:
    """Keep a card the buyer entered (a PaymentMethod made by Stripe.js) on their Customer, to
    charge it off-session later. Returns the saved PaymentMethod's id. A card Stripe refuses to
    save raises DomainError with Stripe's reason."""
    customer = save_card_customer(user)
    try:
        return gateway.attach_payment_method(payment_method, customer=customer)["id"]
    except CardDeclined as declined:
        raise DomainError(declined.message, field="card") from declined
    except GatewayError as error:
        raise DomainError(UNREACHABLE) from error


def _id_of(field) -> str:
    """The id of a field Stripe may send as an id or as the expanded object."""
    return field["id"] if isinstance(field, dict) else field


def start_card_setup(user: User, *, now: datetime) -> str:
    """Begin saving a card for `user`: a SetupIntent on their Customer, whose client secret the
    card page hands to Stripe.js (commits). An unfinished one from the last hour is offered
    again instead of making another. Raises DomainError when Stripe cannot be reached."""
    customer = save_card_customer(user)
    recent = db.session.scalars(
        select(SavedCard)
        .where(
            SavedCard.user_id == user.id,
            SavedCard.payment_method_id.is_(None),
            SavedCard.released_at.is_(None),
            SavedCard.setup_intent_id.is_not(None),
            SavedCard.created_at > now - SETUP_REUSE,
        )
        .order_by(SavedCard.id.desc())
        .limit(1)
    ).first()
    try:
        if recent is not None:
            intent = gateway.retrieve_setup_intent(recent.setup_intent_id)
            if intent["status"] == "requires_payment_method":
                return intent["client_secret"]
        card = SavedCard(user_id=user.id, created_at=now)
        db.session.add(card)
        db.session.commit()  # the row exists before Stripe is asked: its id is the idempotency key
        intent = gateway.create_setup_intent(
            customer=customer, metadata={"user_id": str(user.id), "saved_card_id": str(card.id)},
            idempotency_key=f"setup-{card.id}",
        )  # fmt: skip
    except GatewayError as error:
        raise DomainError(UNREACHABLE) from error
    card.setup_intent_id = intent["id"]
    db.session.commit()
    return intent["client_secret"]


def finish_card_setup(user: User, setup_intent_id: str, *, now: datetime) -> str:
    """The buyer came back from Stripe.js: check with Stripe that the SetupIntent is theirs and
    succeeded, make sure the card is on their Customer, and return its PaymentMethod id (commits).
    Coming back twice returns the same card. Raises DomainError otherwise, in plain words."""
    card = db.session.scalar(
        select(SavedCard).where(SavedCard.setup_intent_id == setup_intent_id, SavedCard.user_id == user.id)
    )
    if card is None:
        raise DomainError(_l("Your card could not be saved. Please try again."))
    if card.payment_method_id:
        return card.payment_method_id
    customer = save_card_customer(user)
    try:
        intent = gateway.retrieve_setup_intent(setup_intent_id)
        if intent["status"] != "succeeded" or intent.get("customer") not in (None, customer):
            raise DomainError(_l("Your card could not be saved. Please try again."))
        payment_method = _id_of(intent["payment_method"])
        # Stripe attaches the card to the SetupIntent's Customer; make sure of it (localstripe does not).
        if gateway.retrieve_payment_method(payment_method).get("customer") != customer:
            gateway.attach_payment_method(payment_method, customer=customer)
    except CardDeclined as declined:
        raise DomainError(declined.message, field="card") from declined
    except GatewayError as error:
        raise DomainError(UNREACHABLE) from error
    card.payment_method_id, card.saved_at = payment_method, now
    db.session.commit()
    return payment_method


def release_card(payment_method_id: str, *, now: datetime) -> None:
    """Detach a saved card from its Customer so it can never be charged again (commits). Safe
    to call again: a card already released, or never saved through a SetupIntent, is detached
    at most once. Raises GatewayError when Stripe cannot be reached (try again later)."""
    card = db.session.scalar(select(SavedCard).where(SavedCard.payment_method_id == payment_method_id))
    if card is not None and card.released_at is not None:
        return
    try:
        gateway.detach_payment_method(payment_method_id)
    except GatewayError as error:
        if error.retryable:
            raise
        # Stripe refuses to detach a card that is not attached: released already (a crash
        # before our commit). Anything else is a real refusal.
        if gateway.retrieve_payment_method(payment_method_id).get("customer"):
            raise
    if card is not None:
        card.released_at = now
    db.session.commit()


def cancel_abandoned_card_setups(*, now: datetime) -> int:
    """Tick job: card setups left unfinished for a day are canceled at Stripe, so no card can be
    saved through them any more. Returns how many were canceled."""
    if not current_app.config["STRIPE_SECRET_KEY"]:
        return 0
    stale = db.session.scalars(
        select(SavedCard)
        .where(
            SavedCard.payment_method_id.is_(None),
            SavedCard.released_at.is_(None),
            SavedCard.created_at <= now - SETUP_ABANDONED,
        )
        .limit(RECONCILE_BATCH)
    ).all()
    done = 0
    for card in stale:
        try:
            if card.setup_intent_id:
                intent = gateway.retrieve_setup_intent(card.setup_intent_id)
                if intent["status"] == "succeeded" and intent.get("payment_method"):
                    card.payment_method_id = _id_of(intent["payment_method"])
                    release_card(card.payment_method_id, now=now)  # saved, but never used for a pledge
                elif intent["status"] != "canceled":
                    gateway.cancel_setup_intent(card.setup_intent_id)
        except GatewayError:
            db.session.rollback()
            continue
        card.released_at = card.released_at or now
        db.session.commit()
        done += 1
    return done


def charge_saved_card(payment: Payment, payment_method: str, *, now: datetime) -> bool:
    """Charge a saved card without the buyer present (a group-buy that succeeded), with the
    idempotency key of this attempt. True when the money was collected. A decline (or a bank
    asking the buyer to authenticate) marks the payment failed with Stripe's message and
    returns False; calling again is a new attempt. Commits."""
    if payment.provider != "stripe":
        raise DomainError(_l("This way of paying is not available."))
    if payment.status == "succeeded":
        return True
    if payment.status == "canceled":
        raise DomainError(_l("This payment was canceled, so it cannot be collected."))
    if payment.status == "pending" and payment.stripe_payment_intent_id:
        try:
            reconcile(payment, now=now)  # an earlier attempt whose outcome we never recorded
        except GatewayError as error:
            raise DomainError(UNREACHABLE) from error
        if payment.status == "succeeded":
            return True
        if payment.status == "pending":
            raise DomainError(_l("A payment for this is already in progress."))
    customer = db.session.get(StripeCustomer, payment.buyer_id) if payment.buyer_id else None
    if customer is None:
        raise DomainError(_l("There is no saved card to charge."))
    if payment.status == "pending" and payment.charge_started_at is not None and _adopt_charge(payment, customer, now):
        return payment.status == "succeeded"
    _begin_attempt(payment, now=now)
    try:
        intent = gateway.create_payment_intent(
            amount=payment.amount, currency=payment.currency, metadata=_metadata(payment),
            idempotency_key=_intent_key(payment), customer=customer.customer_id, payment_method=payment_method,
            off_session=True, confirm=True,
        )  # fmt: skip
    except CardDeclined as declined:
        payment.stripe_payment_intent_id = declined.payment_intent_id
        _fail(payment, message=declined.message, now=now)
        db.session.commit()
        return False
    except GatewayError as error:
        raise DomainError(UNREACHABLE) from error
    payment.stripe_payment_intent_id = intent["id"]
    _apply_intent(payment, intent, now=now)
    db.session.commit()
    return payment.status == "succeeded"


# An earlier attempt's intent in one of these states took (or is taking) the money: adopt it.
_CHARGING = ("succeeded", "processing", "requires_capture")


def _adopt_charge(payment: Payment, customer: StripeCustomer, now: datetime) -> bool:
    """Before charging again a payment whose last off-session attempt never recorded an outcome
    (we crashed between Stripe's answer and our commit), look for that attempt's PaymentIntent
    among the Customer's intents, by the payment id in its metadata, and adopt it instead of
    charging twice: Stripe honours idempotency keys only for a day (and localstripe not at all).
    Returns True when one was adopted (commits); raises DomainError when it is still processing
    or Stripe cannot be asked."""
    try:
        earlier = next(
            (
                intent
                for intent in gateway.payment_intents_of(customer.customer_id)
                if (intent.get("metadata") or {}).get("payment_id") == str(payment.id) and intent["status"] in _CHARGING
            ),
            None,
        )
    except GatewayError as error:
        raise DomainError(UNREACHABLE) from error
    if earlier is None:
        return False
    payment.stripe_payment_intent_id = earlier["id"]
    _apply_intent(payment, earlier, now=now)
    db.session.commit()
    if payment.status == "pending":
        raise DomainError(_l("A payment for this is already in progress."))
    return True


def _begin_attempt(payment: Payment, *, now: datetime) -> None:
    """Mark an off-session charge as under way before Stripe is asked (commits): pending, with
    no intent id yet, and when it began. If our commit after Stripe's answer is lost, the webhook
    finds the payment by the metadata of the intent, and the next attempt adopts that intent
    (`_adopt_charge`) instead of charging twice."""
    db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status.in_(("pending", "failed")))
        .values(status="pending", stripe_payment_intent_id=None, charge_started_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(payment)
