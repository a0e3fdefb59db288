"""Business-rule errors raised by services and shown to users by views."""

from __future__ import annotations


class DomainError(Exception):
    """A request broke a business rule; `message` is user-facing (lazily translated),
    `field` names the form field it belongs to, if any."""

    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(DomainError):
    """The current user may not do this to this object."""


class NotFound(DomainError):
    """The object does not exist (or must look as if it did not)."""
