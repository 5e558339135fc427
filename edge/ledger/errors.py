"""The ledger layer's exception tree."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every ledger failure."""


class LedgerClosedError(LedgerError):
    """Raise when a command arrives at a writer that is stopping or stopped."""


class LedgerCommitError(LedgerError):
    """Raise to every caller of a group whose COMMIT failed: nothing of it was written."""


class WrongStoreError(LedgerError):
    """Raise when a ledger file belongs to another store than the one configured."""


class NotInitializedError(LedgerError):
    """Raise when a ledger file has no store yet (run `edge init`)."""
