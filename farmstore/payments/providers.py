"""The ways to pay, behind one interface. The payment services and the sales (later the
group-buys) ask `provider_for(payment)` instead of checking which provider a payment uses."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from flask import current_app

from farmstore.extensions import db
from farmstore.payments.models import Payment, Refund


class Provider(Protocol):
    """What the payment layer needs from a way of paying."""

    name: str
    # True when money moves outside our database (so a refund row is committed before the call,
    # and an unanswered call can be reconciled later).
    remote: bool

    def start(self, payment: Payment) -> None:
        """Begin collecting a payment whose order is committed."""

    def cancel(self, payment: Payment, *, now: datetime) -> None:
        """Make sure an unpaid payment can never be collected (its order ended)."""

    def send_refund(self, refund: Refund) -> None:
        """Move a refund's money back to the buyer."""

    def reconcile(self, payment: Payment, *, now: datetime) -> None:
        """Learn what happened to a payment outside our database and record it."""


class PickupProvider:
    """Cash or bank transfer at pickup: the producer marks it paid and hands refunds back in
    person, so nothing happens outside our database."""

    name = "pickup"
    remote = False

    def start(self, payment: Payment) -> None:
        """Nothing to start: the producer collects at pickup."""

    def cancel(self, payment: Payment, *, now: datetime) -> None:
        """Nothing was collected, so nothing can be collected later."""

    def send_refund(self, refund: Refund) -> None:
        """The producer gives the money back in person; the ledger records it."""

    def reconcile(self, payment: Payment, *, now: datetime) -> None:
        """Only the producer knows; `mark_paid_at_pickup` records it."""


class StripeProvider:
    """Cards through Stripe (see stripe_flow for the rules and stripe_gateway for the calls)."""

    name = "stripe"
    remote = True

    def start(self, payment: Payment) -> None:
        from farmstore.payments import stripe_flow

        stripe_flow.start(payment)

    def cancel(self, payment: Payment, *, now: datetime) -> None:
        from farmstore.payments import stripe_flow

        if payment.stripe_payment_intent_id:
            stripe_flow.cancel_intent(payment, now=now)

    def send_refund(self, refund: Refund) -> None:
        from farmstore.payments import stripe_flow

        stripe_flow.send_refund(refund)

    def reconcile(self, payment: Payment, *, now: datetime) -> None:
        from farmstore.payments import stripe_flow

        stripe_flow.reconcile(payment, now=now)


class TossProvider:
    """Cards and easy pay (카카오페이, 네이버페이, 토스페이) through Toss Payments (see toss_flow for
    the rules and toss_gateway for the calls). Nothing is made at Toss before the buyer opens the
    widget: the payment's order id is all Toss needs."""

    name = "toss"
    remote = True

    def start(self, payment: Payment) -> None:
        """Nothing to start: the widget creates the payment at Toss for our order id."""

    def cancel(self, payment: Payment, *, now: datetime) -> None:
        from farmstore.payments import toss_flow

        toss_flow.cancel(payment, now=now)

    def send_refund(self, refund: Refund) -> None:
        from farmstore.payments import toss_flow

        toss_flow.send_refund(refund)

    def reconcile(self, payment: Payment, *, now: datetime) -> None:
        from farmstore.payments import toss_flow
        from farmstore.payments.toss_gateway import TossError

        try:
            toss_flow.reconcile(payment, now=now)
        except TossError:
            db.session.rollback()
            current_app.logger.warning("could not reconcile Toss payment %s", payment.id)


class CreditProvider:
    """Store credit earned by recommending: taken when the order is placed, given back as credit."""

    name = "credit"
    remote = False

    def start(self, payment: Payment) -> None:
        """Nothing to start: the credit was taken with the order."""

    def cancel(self, payment: Payment, *, now: datetime) -> None:
        """A credit payment succeeds when it is made, so there is never an unpaid one to stop."""

    def send_refund(self, refund: Refund) -> None:
        from farmstore.referrals.services import return_credit

        return_credit(refund, now=refund.created_at)

    def reconcile(self, payment: Payment, *, now: datetime) -> None:
        """Nothing outside our database."""


PROVIDERS: dict[str, Provider] = {
    "pickup": PickupProvider(),
    "stripe": StripeProvider(),
    "toss": TossProvider(),
    "credit": CreditProvider(),
}
# The ways of paying by card now: the order waits for the money (reserved) instead of pickup.
CARD_PROVIDERS = ("stripe", "toss")


def provider_for(payment: Payment) -> Provider:
    """The provider that collects `payment`."""
    return PROVIDERS[payment.provider]
