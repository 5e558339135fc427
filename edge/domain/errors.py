"""The domain's exception tree: every rule violation carries a stable machine code."""

from __future__ import annotations


class DomainError(Exception):
    """Raise when a business rule refuses a command; `code` is stable and shown to clients."""

    code = "domain_error"
    status = 422

    def __init__(self, message: str, *, code: str | None = None) -> None:
        """Keep the human message and an optional more specific code."""
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """Return the human-readable message."""
        return str(self.args[0]) if self.args else self.code


class InvalidInput(DomainError):
    """Raise when a value is malformed or out of range (HTTP 400)."""

    code = "invalid_input"
    status = 400


class NotFound(DomainError):
    """Raise when a referenced thing does not exist (HTTP 404)."""

    code = "not_found"
    status = 404


class Conflict(DomainError):
    """Raise when a command conflicts with what already happened (HTTP 409)."""

    code = "conflict"
    status = 409
