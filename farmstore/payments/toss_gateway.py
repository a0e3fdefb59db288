"""The Toss Payments gateway: the one module that speaks Toss's HTTP API
(https://docs.tosspayments.com/reference).

Every call authenticates with HTTP Basic auth, the secret key as user name and an empty password
(TOSS_SECRET_KEY), against TOSS_API_BASE (a fake Toss on loopback in tests). Toss answers errors
with a JSON object `{code, message}`; they come out as our `TossError` (and `TossDeclined` for a
card company's refusal), so the rest of the code never reads HTTP. Objects come back as the plain
dicts of Toss's JSON (a Payment object for payments, confirms, cancels and billing charges).
"""

from __future__ import annotations

import requests
from flask import current_app

# Toss's error codes for a card or easy-pay refusal (the buyer must use another card).
DECLINE_CODES = frozenset(
    {
        "REJECT_CARD_PAYMENT", "REJECT_CARD_COMPANY", "REJECT_ACCOUNT_PAYMENT", "INVALID_CARD_EXPIRATION",
        "INVALID_STOPPED_CARD", "EXCEED_MAX_DAILY_PAYMENT_COUNT", "EXCEED_MAX_PAYMENT_AMOUNT", "INVALID_CARD_NUMBER",
        "INVALID_REJECT_CARD", "NOT_AVAILABLE_BANK", "INVALID_PASSWORD", "INCORRECT_BASIC_AUTH_FORMAT_CARD",
    }
)  # fmt: skip
TIMEOUT = (5, 30)  # seconds to connect, to read: a confirm may wait on the card company


class TossError(Exception):
    """Toss refused a request or could not be reached. `code` is Toss's error code (None when
    there was no answer); `retryable` says whether the same request may succeed later."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.message, self.code, self.status, self.retryable = message, code, status, retryable


class TossDeclined(TossError):
    """The card company (or easy-pay service) refused the payment."""


def _call(method: str, path: str, *, json: dict | None = None, idempotency_key: str | None = None) -> dict:
    """One API call; Toss's answer as a dict, or TossError."""
    config = current_app.config
    if not config["TOSS_SECRET_KEY"]:
        raise TossError("Toss Payments is not configured (TOSS_SECRET_KEY is not set).")
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    try:
        response = requests.request(
            method, config["TOSS_API_BASE"].rstrip("/") + path, json=json, headers=headers,
            auth=(config["TOSS_SECRET_KEY"], ""), timeout=TIMEOUT,
        )  # fmt: skip
    except requests.RequestException as error:
        raise TossError(f"Toss Payments could not be reached: {error}", retryable=True) from error
    try:
        body = response.json() if response.content else {}
    except ValueError:
        body = {}
    if response.ok:
        return body
    code, message = body.get("code"), body.get("message") or response.reason
    error_class = TossDeclined if code in DECLINE_CODES else TossError
    raise error_class(message, code=code, status=response.status_code, retryable=response.status_code >= 500)


def confirm_payment(*, payment_key: str, order_id: str, amount: int, idempotency_key: str) -> dict:
    """Approve a payment the buyer authenticated in the widget, for the amount we expect."""
    body = {"paymentKey": payment_key, "orderId": order_id, "amount": amount}
    return _call("POST", "/v1/payments/confirm", json=body, idempotency_key=idempotency_key)


def retrieve_payment(payment_key: str) -> dict:
    """The Payment as Toss sees it now."""
    return _call("GET", f"/v1/payments/{payment_key}")


def payment_by_order(order_id: str) -> dict | None:
    """The Payment made for our `order_id`, or None when there is none (the buyer never finished)."""
    try:
        return _call("GET", f"/v1/payments/orders/{order_id}")
    except TossError as error:
        if error.code == "NOT_FOUND_PAYMENT":
            return None
        raise


def cancel_payment(payment_key: str, *, amount: int, reason: str, idempotency_key: str) -> dict:
    """Give back `amount` of a payment (a partial or full refund); returns the Payment with the new
    entry last in `cancels`."""
    body = {"cancelReason": reason[:200], "cancelAmount": amount}
    return _call("POST", f"/v1/payments/{payment_key}/cancel", json=body, idempotency_key=idempotency_key)


def issue_billing_key(*, auth_key: str, customer_key: str) -> dict:
    """Exchange the authKey of the widget's card registration for a billing key."""
    body = {"authKey": auth_key, "customerKey": customer_key}
    return _call("POST", "/v1/billing/authorizations/issue", json=body)


def charge_billing_key(
    billing_key: str, *, customer_key: str, amount: int, order_id: str, order_name: str, idempotency_key: str
) -> dict:
    """Charge a billing key without the buyer present."""
    body = {"customerKey": customer_key, "amount": amount, "orderId": order_id, "orderName": order_name[:100]}
    return _call("POST", f"/v1/billing/{billing_key}", json=body, idempotency_key=idempotency_key)


def delete_billing_key(billing_key: str) -> None:
    """Delete a billing key so it can never be charged again."""
    _call("DELETE", f"/v1/billing/{billing_key}")
