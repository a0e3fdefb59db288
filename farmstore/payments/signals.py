"""Signals the payment layer sends, so sales and group-buys react without being imported here."""

from blinker import Namespace

_signals = Namespace()

# Sent once per payment, inside the transaction that recorded it: kwargs payment=, now=.
payment_succeeded = _signals.signal("payment-succeeded")
# Sent when a card payment fails or is canceled at Stripe: kwargs payment=, now=.
payment_failed = _signals.signal("payment-failed")
# Sent when a refund's money has gone back, inside the transaction that records it: kwargs refund=, now=.
refund_completed = _signals.signal("refund-completed")
