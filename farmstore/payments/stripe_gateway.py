"""The Stripe gateway: the one module that imports `stripe`.

A thin client is built per call from the app's settings (STRIPE_SECRET_KEY, and STRIPE_API_BASE
to talk to localstripe in tests). Stripe's errors come out as our own `GatewayError` and
`CardDeclined`, so the rest of the code never needs `stripe`. Only parameters that localstripe
also accepts are sent unless a caller asks for more (`setup_future_usage`). Objects come back as
plain dicts, shaped like the JSON in a webhook, so callers read both the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import stripe
from flask import current_app

# Stripe could not answer (network, its own error, rate limit): trying again later may work.
_RETRYABLE = (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError)


class GatewayError(Exception):
    """Stripe refused a request or could not be reached. `message` is Stripe's explanation;
    `retryable` says whether the same request may succeed later."""

    def __init__(self, message: str, *, retryable: bool = False, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code


class CardDeclined(GatewayError):
    """The card was declined (or needs the buyer to authenticate). `payment_intent_id` names
    the intent Stripe created for the attempt, when it says."""

    def __init__(self, message: str, *, code: str | None = None, payment_intent_id: str | None = None):
        super().__init__(message, code=code)
        self.payment_intent_id = payment_intent_id


class InvalidWebhook(Exception):
    """A webhook whose signature, timestamp or body does not check out."""


def _client() -> stripe.StripeClient:
    """A Stripe client for this app's account (and API base, for localstripe)."""
    config = current_app.config
    if not config["STRIPE_SECRET_KEY"]:
        raise GatewayError("Stripe is not configured (STRIPE_SECRET_KEY is not set).")
    api_base = config["STRIPE_API_BASE"]
    return stripe.StripeClient(
        config["STRIPE_SECRET_KEY"],
        base_addresses={"api": api_base} if api_base else None,
        # No silent retries: every money-moving call carries an idempotency key and a crash is
        # reconciled from our own records, so a failure is reported at once.
        max_network_retries=0,
    )


@contextmanager
def _stripe_errors() -> Iterator[None]:
    """Turn Stripe's exceptions into ours."""
    try:
        yield
    except stripe.CardError as error:
        intent = getattr(error.error, "payment_intent", None) if error.error else None
        raise CardDeclined(
            error.user_message or str(error), code=error.code, payment_intent_id=intent["id"] if intent else None
        ) from error
    except _RETRYABLE as error:
        raise GatewayError(error.user_message or str(error), retryable=True, code=error.code) from error
    except stripe.StripeError as error:
        raise GatewayError(error.user_message or str(error), code=error.code) from error


def _plain(stripe_object) -> dict:
    """A Stripe object as the plain dict its JSON describes."""
    return stripe_object.to_dict(for_json=True)


def _given(**params) -> dict:
    """The parameters a caller actually gave: Stripe (and localstripe) reject unknown ones."""
    return {name: value for name, value in params.items() if value is not None}


def create_payment_intent(
    *, amount: int, currency: str, metadata: dict[str, str], idempotency_key: str, customer: str | None = None,
    payment_method: str | None = None, off_session: bool | None = None, confirm: bool | None = None,
    setup_future_usage: str | None = None,
) -> dict:  # fmt: skip
    """A PaymentIntent for `amount` in the currency's smallest unit (whole won for KRW)."""
    params = _given(
        amount=amount, currency=currency.lower(), metadata=metadata, customer=customer,
        payment_method=payment_method, off_session=off_session, confirm=confirm,
        setup_future_usage=setup_future_usage,
    )  # fmt: skip
    with _stripe_errors():
        return _plain(_client().v1.payment_intents.create(params, {"idempotency_key": idempotency_key}))


def retrieve_payment_intent(intent_id: str) -> dict:
    """The PaymentIntent as Stripe sees it now."""
    with _stripe_errors():
        return _plain(_client().v1.payment_intents.retrieve(intent_id))


def cancel_payment_intent(intent_id: str) -> dict:
    """Cancel a PaymentIntent so it can never be charged."""
    with _stripe_errors():
        return _plain(_client().v1.payment_intents.cancel(intent_id))


def create_refund(*, payment_intent: str, amount: int, metadata: dict[str, str], idempotency_key: str) -> dict:
    """Give back `amount` of a PaymentIntent's charge."""
    params = {"payment_intent": payment_intent, "amount": amount, "metadata": metadata}
    with _stripe_errors():
        return _plain(_client().v1.refunds.create(params, {"idempotency_key": idempotency_key}))


def list_refunds(payment_intent: str) -> list[dict]:
    """Every refund Stripe made on a PaymentIntent, newest first."""
    with _stripe_errors():
        refunds = _client().v1.refunds.list({"payment_intent": payment_intent, "limit": 100})
        return [_plain(refund) for refund in refunds.auto_paging_iter()]


def create_customer(*, email: str, metadata: dict[str, str], idempotency_key: str) -> dict:
    """A Customer to hold saved cards."""
    with _stripe_errors():
        params = {"email": email, "metadata": metadata}
        return _plain(_client().v1.customers.create(params, {"idempotency_key": idempotency_key}))


def attach_payment_method(payment_method: str, *, customer: str) -> dict:
    """Save a card (a PaymentMethod made by Stripe.js) to a Customer, for off-session charges."""
    with _stripe_errors():
        return _plain(_client().v1.payment_methods.attach(payment_method, {"customer": customer}))


def retrieve_payment_method(payment_method: str) -> dict:
    """A PaymentMethod as Stripe sees it now (its `customer` says whether it is saved)."""
    with _stripe_errors():
        return _plain(_client().v1.payment_methods.retrieve(payment_method))


def detach_payment_method(payment_method: str) -> dict:
    """Take a saved card off its Customer: it can never be charged again."""
    with _stripe_errors():
        return _plain(_client().v1.payment_methods.detach(payment_method))


def create_setup_intent(*, customer: str, metadata: dict[str, str], idempotency_key: str) -> dict:
    """A SetupIntent that saves the card the buyer enters (Stripe.js) on `customer`, for
    off-session charges later."""
    params = {"customer": customer, "usage": "off_session", "metadata": metadata}
    with _stripe_errors():
        return _plain(_client().v1.setup_intents.create(params, {"idempotency_key": idempotency_key}))


def retrieve_setup_intent(setup_intent: str) -> dict:
    """The SetupIntent as Stripe sees it now."""
    with _stripe_errors():
        return _plain(_client().v1.setup_intents.retrieve(setup_intent))


def cancel_setup_intent(setup_intent: str) -> dict:
    """Cancel an unfinished SetupIntent so no card can be saved through it any more."""
    with _stripe_errors():
        return _plain(_client().v1.setup_intents.cancel(setup_intent))


def payment_intents_of(customer: str) -> Iterator[dict]:
    """Every PaymentIntent of a Customer, newest first (Stripe lists them by `customer`)."""
    with _stripe_errors():
        intents = _client().v1.payment_intents.list({"customer": customer, "limit": 100})
        for intent in intents.auto_paging_iter():
            yield _plain(intent)


def construct_event(payload: bytes, signature: str | None) -> dict:
    """A webhook's event as a plain dict, once its signature (STRIPE_WEBHOOK_SECRET) and its
    timestamp (at most five minutes old) check out. Raises InvalidWebhook otherwise."""
    secret = current_app.config["STRIPE_WEBHOOK_SECRET"]
    if not secret:
        raise InvalidWebhook("STRIPE_WEBHOOK_SECRET is not set")
    try:
        stripe.Webhook.construct_event(payload, signature, secret)
        return json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise InvalidWebhook(str(error)) from error
