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


class ValidationFailed(InvalidInput):
    """Raise with every problem of a request or a record at once (path, problem)."""

    code = "validation_failed"

    def __init__(self, problems: list[tuple[str, str]], *, code: str | None = None) -> None:
        """Keep the list of (path, problem) pairs; the message names the first few."""
        shown = "; ".join(f"{path}: {problem}" for path, problem in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(shown + more, code=code)
        self.problems = problems


class Unauthorized(DomainError):
    """Raise when a request needs a paired till, a signed-in person or a token (HTTP 401)."""

    code = "unauthorized"
    status = 401


class Forbidden(DomainError):
    """Raise when who asks may not do this (HTTP 403)."""

    code = "forbidden"
    status = 403
