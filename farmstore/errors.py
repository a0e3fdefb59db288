"""Business-rule errors raised by services and shown to users by views."""

from __future__ import annotations


class DomainError(Exception):
    """A request broke a business rule; `message` is user-facing, `field` names the form field it
    belongs to, if any. The message may be given lazily translated; it is read as a plain string, in
    the language of the moment it is shown. Plain matters: a lazy string counts as safe HTML in Jinja,
    and messages quote user text (a product's name, a typed code), which must be escaped."""

    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        self._message = message
        self.field = field

    @property
    def message(self) -> str:
        return str(self._message)


class NotAllowed(DomainError):
    """The current user may not do this to this object."""


class NotFound(DomainError):
    """The object does not exist (or must look as if it did not)."""
