"""Card and easy-pay payments through Toss Payments: our rules on top of the gateway.

The buyer pays in Toss's payment widget for an order id we make from our payment
(`farmstore-<payment id>-<attempt>`); Toss then sends the browser to our success page, and only
our server's confirm call (with the amount our database holds, never the browser's) takes the
money. Our database decides what may happen: the payment row is locked while Toss is asked, so
a confirm arriving twice, a webhook and the redirect racing, or the tick catching up a redirect
that never came back all record the money once. Refunds go through Toss's cancel API with the
idempotency key `refund-<id>`, so a retry after a crash replays the same cancel instead of
giving the money back twice.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from farmstore.errors import DomainError
from farmstore.extensions import db
from farmstore.payments import services
from farmstore.payments import toss_gateway as gateway
from farmstore.payments.models import Payment, Refund, TossCustomer, WebhookEvent
from farmstore.payments.toss_gateway import TossDeclined, TossError

# The tick asks Toss about a payment still pending after this long: the buyer who finished the
# widget but never came back is confirmed before Toss lets the authentication lapse (10 minutes).
RECONCILE_AFTER = timedelta(minutes=1)
RECONCILE_WINDOW = timedelta(days=1)
RECONCILE_BATCH = 100
REFUND_RESEND_AFTER = timedelta(minutes=5)
# Toss statuses in which the money was taken (a later cancel may have given some back).
PAID = ("DONE", "PARTIAL_CANCELED")

UNREACHABLE = _l("We could not reach the card payment service. Please try again in a minute.")
REFUND_LATER = _l("We could not reach the card payment service. The refund is saved and will be sent automatically.")
BUYER_CANCELLED = _l("You stopped the payment. Nothing was charged; you can pay while your items are held.")
TIMED_OUT = _l(
    "The payment service did not answer in time. Nothing is charged twice: your order page shows the payment "
    "as soon as we hear back."
)
AMOUNT_MISMATCH = _l("The amount does not match your order, so the payment was not accepted. Nothing was charged.")
ENDED = _l("This order ended before the payment was made, so nothing was charged.")


def declined(reason: str):
    """Why the card company refused, for the buyer."""
    return _l(
        "Your card company declined the payment: %(reason)s. Nothing was charged; try another card.", reason=reason
    )


def failed(reason: str):
    """Why Toss refused, for the buyer."""
    return _l("The payment did not go through: %(reason)s. Nothing was charged.", reason=reason)


def order_id(payment: Payment) -> str:
    """The order id Toss knows this payment's current attempt by (6-64 characters)."""
    return f"farmstore-{payment.id}-{payment.attempt}"


def order_name(order) -> str:
    """What the widget and the buyer's card statement call the order (Toss takes 100 characters)."""
    return f"{order.sale.title} · {order.sale.producer.farm_name}"[:100]


def payment_id_of(toss_order_id: str) -> int | None:
    """Our payment id in an order id made by `order_id`, or None."""
    parts = toss_order_id.split("-")
    return int(parts[1]) if len(parts) == 3 and parts[0] == "farmstore" and parts[1].isdigit() else None


def failure_message(code: str, message: str) -> str:
    """What the fail page says for the code Toss's widget sent the buyer back with."""
    if code in ("PAY_PROCESS_CANCELED", "USER_CANCEL"):
        return str(BUYER_CANCELLED)
    if code in gateway.DECLINE_CODES:
        return str(declined(message or code))
    if code in ("PAY_PROCESS_ABORTED", "TIMEOUT", "EXPIRED_PAYMENT"):
        return str(TIMED_OUT)
    return str(failed(message or code))


# ---------------------------------------------------------------- what Toss tells us


def _apply(payment: Payment, toss: dict, *, now: datetime) -> None:
    """Bring a locked payment in line with Toss's Payment object for it (caller commits). Money
    for another amount or order id is logged for an operator, never recorded."""
    if toss["orderId"] != order_id(payment) and toss["paymentKey"] != payment.toss_payment_key:
        current_app.logger.error("Toss payment %s is not for payment %s; not recorded", toss["paymentKey"], payment.id)
        return
    if toss["totalAmount"] != payment.amount or toss.get("currency", "KRW") != payment.currency:
        current_app.logger.error(
            "Toss payment %s is for %s %s but payment %s is for %s %s; not recorded",
            toss["paymentKey"], toss["totalAmount"], toss.get("currency"), payment.id, payment.amount, payment.currency,
        )  # fmt: skip
        return
    if payment.toss_payment_key is None:
        payment.toss_payment_key = toss["paymentKey"]
    if toss["status"] in PAID:
        try:
            services._succeed(payment, now=now)
        except DomainError:
            current_app.logger.error("Toss took %s but payment %s was canceled", toss["paymentKey"], payment.id)


def _next_attempt(payment: Payment) -> None:
    """The confirm was refused: the buyer's next try in the widget gets a new order id (caller
    commits). The payment stays pending while its order holds the items."""
    db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status == "pending")
        .values(attempt=Payment.attempt + 1, toss_payment_key=None)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(payment)


def confirm(payment: Payment, *, payment_key: str, toss_order_id: str, amount: str | int, now: datetime) -> None:
    """The buyer came back from the widget to our success page: confirm the payment at Toss for
    the amount our database holds (commits). The amount and order id the browser sends are only
    checked, never trusted. Arriving twice, or after the webhook or the tick, records the money
    once. Raises DomainError, in plain words, when nothing was taken."""
    if payment.provider != "toss" or toss_order_id != order_id(payment):
        raise DomainError(_l("This payment does not belong to this order."))
    if str(amount) != str(payment.amount):
        raise DomainError(AMOUNT_MISMATCH)
    services.lock(payment)  # one confirm at a time; a cancelled order waits for us, or we for it
    if payment.status == "succeeded":
        db.session.commit()
        return
    if payment.status != "pending":
        db.session.rollback()
        raise DomainError(ENDED)
    try:
        toss = gateway.confirm_payment(
            payment_key=payment_key, order_id=toss_order_id, amount=payment.amount,
            idempotency_key=f"confirm-{payment_key}",
        )  # fmt: skip
    except TossDeclined as refusal:
        _next_attempt(payment)
        db.session.commit()
        raise DomainError(declined(refusal.message)) from refusal
    except TossError as error:
        if error.retryable:
            db.session.rollback()  # the tick asks Toss by order id and finishes it
            raise DomainError(TIMED_OUT) from error
        if error.code != "ALREADY_PROCESSED_PAYMENT":
            _next_attempt(payment)
            db.session.commit()
            raise DomainError(failed(error.message)) from error
        toss = _ask(gateway.retrieve_payment, payment_key)
    _apply(payment, toss, now=now)
    db.session.commit()
    if payment.status != "succeeded":
        raise DomainError(TIMED_OUT)


def _ask(call, *args):
    """A read from Toss, as a DomainError when Toss cannot answer (caller's lock released)."""
    try:
        return call(*args)
    except TossError as error:
        db.session.rollback()
        raise DomainError(UNREACHABLE) from error


def reconcile(payment: Payment, *, now: datetime) -> None:
    """Ask Toss what happened to a pending payment and catch up (commits): a buyer who finished the
    widget but never reached our success page is confirmed now, money Toss took is recorded, and
    refunds left pending are sent again with their idempotency key (Toss replays the cancel it
    already made). Raises TossError when Toss cannot be reached (nothing is changed then)."""
    if payment.provider != "toss":
        return
    if payment.status == "pending":
        services.lock(payment)
        if payment.status == "pending":
            _catch_up(payment, now=now)
    db.session.commit()
    for record in [r for r in payment.refunds if r.status == "pending" and r.created_at <= now - REFUND_RESEND_AFTER]:
        try:
            send_refund(record)
        except DomainError:
            continue
        services._complete_refund(record, refunded_before=_refunded_before(record), now=now)
        db.session.commit()


def _catch_up(payment: Payment, *, now: datetime) -> None:
    """Find the payment at Toss by its order id and record it; confirm it when the buyer
    authenticated it but nobody confirmed it yet (caller commits)."""
    toss = gateway.payment_by_order(order_id(payment))
    if toss is None:
        return
    if toss["status"] == "IN_PROGRESS" and toss["totalAmount"] == payment.amount:
        try:
            toss = gateway.confirm_payment(
                payment_key=toss["paymentKey"], order_id=toss["orderId"], amount=payment.amount,
                idempotency_key=f"confirm-{toss['paymentKey']}",
            )  # fmt: skip
        except TossDeclined:
            _next_attempt(payment)
            return
        except TossError as error:
            if error.retryable:
                raise
            if error.code != "ALREADY_PROCESSED_PAYMENT":
                _next_attempt(payment)
                return
            toss = gateway.retrieve_payment(toss["paymentKey"])
    _apply(payment, toss, now=now)


def reconcile_toss_payments(*, now: datetime) -> int:
    """Tick job: pending Toss payments older than RECONCILE_AFTER (a redirect that never came
    back) and payments with a refund pending for REFUND_RESEND_AFTER are reconciled. One Toss
    cannot be asked about now is tried next tick. Returns how many were checked."""
    if not current_app.config["TOSS_SECRET_KEY"]:
        return 0
    stuck_refunds = select(Refund.payment_id).where(
        Refund.status == "pending", Refund.created_at <= now - REFUND_RESEND_AFTER
    )
    recent = Payment.created_at.between(now - RECONCILE_WINDOW, now - RECONCILE_AFTER)
    due = db.session.scalars(
        select(Payment)
        .where(
            Payment.provider == "toss",
            or_(
                and_(Payment.status == "pending", recent),
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
        except TossError:
            db.session.rollback()
            current_app.logger.warning("could not reconcile Toss payment %s; next tick tries again", payment.id)
        else:
            done += 1
    return done


def cancel(payment: Payment, *, now: datetime) -> None:
    """The order ended unpaid: lock the payment so no confirm can take the money from now on
    (a confirm waiting on the lock then finds the payment canceled and never calls Toss). A
    payment the buyer authenticated but we never confirmed lapses at Toss without a charge;
    money Toss already took is recorded, and the tick refunds it for the ended order. Caller
    commits."""
    services.lock(payment)
    try:
        toss = gateway.payment_by_order(order_id(payment))
    except TossError as error:
        raise DomainError(UNREACHABLE) from error
    if toss is not None and toss["status"] in PAID:
        _apply(payment, toss, now=now)


# ---------------------------------------------------------------- webhooks


def handle_webhook(body: dict, *, now: datetime) -> bool:
    """A PAYMENT_STATUS_CHANGED webhook. Toss does not sign payment webhooks, so its body is only a
    hint: the payment is fetched again from Toss's API and that answer is applied. Each state of a
    payment is handled once (its key and last transaction are stored with the effects), so a
    replay changes nothing. Returns False for events we ignore, payments not ours, and replays.
    Raises TossError when Toss cannot confirm the payment (a forged key, or Toss unreachable)."""
    data = body.get("data") if isinstance(body, dict) else None
    if body.get("eventType") != "PAYMENT_STATUS_CHANGED" or not isinstance(data, dict):
        return False
    payment_key = data.get("paymentKey")
    if not isinstance(payment_key, str) or not payment_key:
        return False
    toss = gateway.retrieve_payment(payment_key)
    payment_id = payment_id_of(toss["orderId"])
    payment = db.session.get(Payment, payment_id) if payment_id else None
    if payment is None or payment.provider != "toss":
        current_app.logger.warning("Toss webhook for payment %s, which is not ours", payment_key)
        return False
    event_id = f"toss:{payment_key}:{toss['status']}:{toss.get('lastTransactionKey') or ''}"[:255]
    if db.session.get(WebhookEvent, event_id) is not None:
        return False
    db.session.add(WebhookEvent(id=event_id, type="toss.PAYMENT_STATUS_CHANGED", received_at=now))
    try:
        db.session.flush()
    except IntegrityError:  # the same state delivered twice at once: the other one handles it
        db.session.rollback()
        return False
    services.lock(payment)
    if payment.status == "pending":
        _apply(payment, toss, now=now)
    db.session.commit()
    return True


# ---------------------------------------------------------------- refunds


def _refunded_before(record: Refund) -> int:
    """What earlier refunds of the same payment took, as `services.refund` counted it."""
    return sum(r.amount for r in record.payment.refunds if r.id < record.id and r.status != "failed")


def send_refund(record: Refund) -> None:
    """Give back a refund's amount through Toss's cancel API (the Refund row is already committed
    as pending). The idempotency key `refund-<id>` makes a retry replay the same cancel. Stores
    the cancel's transaction key; the caller completes the refund and commits. A refusal marks
    the refund failed (its amount may be refunded again) and raises DomainError; when Toss cannot
    be reached the refund stays pending and the tick sends it again."""
    payment = record.payment
    try:
        toss = gateway.cancel_payment(
            payment.toss_payment_key, amount=record.amount, reason=record.reason, idempotency_key=f"refund-{record.id}"
        )
    except TossError as error:
        if error.retryable:
            raise DomainError(REFUND_LATER) from error
        services._fail_refund(record)
        db.session.commit()
        raise DomainError(
            _l("The card payment service refused the refund: %(reason)s", reason=error.message)
        ) from error
    record.toss_transaction_key = toss["cancels"][-1]["transactionKey"]


# ---------------------------------------------------------------- billing keys (group-buy pledges)


def customer_key(user) -> str:
    """The random customerKey Toss knows `user` by, made on first use (commits)."""
    row = db.session.get(TossCustomer, user.id)
    if row is not None:
        return row.customer_key
    db.session.add(TossCustomer(user_id=user.id, customer_key=f"fs-{secrets.token_urlsafe(24)}"))
    try:
        db.session.commit()
    except IntegrityError:  # a simultaneous first use made theirs first
        db.session.rollback()
    return db.session.get(TossCustomer, user.id).customer_key


def issue_billing_key(user, *, auth_key: str, toss_customer_key: str) -> str:
    """The buyer registered a card in Toss's billing widget: exchange its authKey for a billing
    key, to charge only if the group-buy is on. Raises DomainError in plain words otherwise."""
    if not auth_key or toss_customer_key != customer_key(user):
        raise DomainError(_l("Your card could not be saved. Please try again."))
    try:
        return gateway.issue_billing_key(auth_key=auth_key, customer_key=toss_customer_key)["billingKey"]
    except TossError as error:
        raise DomainError(UNREACHABLE if error.retryable else failed(error.message)) from error


def _begin_charge(payment: Payment, *, now: datetime) -> None:
    """Mark an off-session charge as under way before Toss is asked (commits), so a rerun after a
    crash looks for it at Toss by order id before charging."""
    db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status.in_(("pending", "failed")))
        .values(status="pending", charge_started_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(payment)


def _adopt(payment: Payment, *, now: datetime) -> bool:
    """Adopt the charge an earlier run made for this attempt's order id, if Toss has one (commits).
    Returns True when one was found."""
    toss = gateway.payment_by_order(order_id(payment))
    if toss is None:
        return False
    services.lock(payment)
    _apply(payment, toss, now=now)
    db.session.commit()
    return True


def charge_billing_key(payment: Payment, billing_key: str, *, order_name: str, now: datetime) -> bool:
    """Charge a pledge's billing key without the buyer (its group-buy is on), once: the request
    carries the Idempotency-Key `payment-<id>-attempt-<n>` and this attempt's order id, and a run
    killed between Toss's charge and our commit finds that charge by order id when run again and
    adopts it instead of charging twice. True when the money was collected; a decline marks the
    payment failed (the next attempt gets a new order id) and returns False. Raises DomainError
    when Toss cannot be reached (nothing is decided then). Commits."""
    if payment.status == "succeeded":
        return True
    if payment.status == "canceled":
        raise DomainError(_l("This payment was canceled, so it cannot be collected."))
    buyer_key = db.session.get(TossCustomer, payment.buyer_id) if payment.buyer_id else None
    if buyer_key is None:
        raise DomainError(_l("There is no saved card to charge."))
    try:
        if payment.status == "pending" and payment.charge_started_at is not None and _adopt(payment, now=now):
            return payment.status == "succeeded"
        _begin_charge(payment, now=now)
        toss = gateway.charge_billing_key(
            billing_key, customer_key=buyer_key.customer_key, amount=payment.amount, order_id=order_id(payment),
            order_name=order_name, idempotency_key=f"payment-{payment.id}-attempt-{payment.attempt}",
        )  # fmt: skip
    except TossDeclined as declined_charge:
        services._fail_attempt(payment, message=declined_charge.message, now=now)
        db.session.commit()
        return False
    except TossError as error:
        db.session.rollback()
        if error.retryable:
            raise DomainError(UNREACHABLE) from error
        if error.code == "DUPLICATED_ORDER_ID" and _adopt(payment, now=now):
            return payment.status == "succeeded"
        services._fail_attempt(payment, message=error.message, now=now)
        db.session.commit()
        return False
    services.lock(payment)
    _apply(payment, toss, now=now)
    db.session.commit()
    return payment.status == "succeeded"


def delete_billing_key(billing_key: str) -> None:
    """Delete a billing key at Toss so it can never be charged (a pledge that will never be).
    One Toss no longer knows counts as deleted; raises TossError when Toss cannot be reached."""
    try:
        gateway.delete_billing_key(billing_key)
    except TossError as error:
        if error.retryable or error.code != "NOT_FOUND_BILLING":
            raise


def reopen_after_decline(payment: Payment) -> None:
    """A pledge whose billing charge was declined is paid on-session in the widget: its failed
    payment is pending again, for the next attempt's order id (commits)."""
    db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status == "failed")
        .values(status="pending", charge_started_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(payment)
