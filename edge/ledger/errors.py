"""The ledger layer's exception tree."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every ledger failure."""


class LedgerClosedError(LedgerError):
    """Raise when a command arrives at a writer that is stopping or stopped."""


class LedgerCommitError(LedgerError):
    """Raise to every caller of a group whose COMMIT failed: nothing of it was written."""


class AnswerFailedError(LedgerError):
    """Raise to a caller whose `then` failed: its command was recorded, only its answer failed.

    `error` is what `then` raised.
    """

    def __init__(self, error: Exception) -> None:
        super().__init__(f"the command was recorded; building its answer failed: {error!r}")
        self.error = error


class WrongStoreError(LedgerError):
    """Raise when a ledger file belongs to another store than the one configured."""


class NotInitializedError(LedgerError):
    """Raise when a ledger file has no store yet (run `edge init`)."""
