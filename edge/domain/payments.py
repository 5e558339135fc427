"""Payments behind one interface: what a terminal is asked and what it answers.

Only what a terminal returns is kept: authorisation code, masked PAN and the provider's token
or reference. A full card number never enters an event, a log line or a response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from edge.domain.errors import DomainError

Method = Literal["card", "qr"]


class PaymentDeclined(DomainError):
    """Raise when a provider declines (nothing was taken)."""

    code = "payment_declined"
    status = 402


class PaymentTimedOut(DomainError):
    """Raise when a terminal did not answer in time (the attempt was reversed)."""

    code = "payment_timeout"
    status = 402


@dataclass(frozen=True)
class PaymentRequest:
    """Ask a provider to take `amount` minor units; `key` makes retries safe."""

    key: str
    method: Method
    amount: int
    currency: str
    presented: str | None = None  # what the shopper presented (card/QR data), never stored


@dataclass(frozen=True)
class Authorization:
    """An approved payment as the ledger records it."""

    provider: str
    reference: str
    auth_code: str
    masked_pan: str | None
    token: str | None
    method: Method
    amount: int

    def to_data(self) -> dict[str, object]:
        """Return the event form."""
        return {
            "provider": self.provider,
            "reference": self.reference,
            "auth_code": self.auth_code,
            "masked_pan": self.masked_pan,
            "token": self.token,
            "method": self.method,
            "amount": self.amount,
        }


class PaymentProvider(Protocol):
    """A card/QR payment provider (a real terminal, a gateway or the simulator)."""

    name: str

    async def authorize(self, request: PaymentRequest) -> Authorization:
        """Take the money or raise PaymentDeclined; the same key returns the same result."""

    async def reverse(self, key: str) -> None:
        """Undo an authorisation made with `key` (no-op if there was none)."""

    async def refund(self, reference: str, amount: int, key: str) -> Authorization:
        """Give back part or all of a captured payment."""


def mask_pan(pan: str) -> str:
    """Return a PAN with all but the first 6 and last 4 digits masked."""
    digits = "".join(c for c in pan if c.isdigit())
    if len(digits) < 12:
        return "*" * len(digits)
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def luhn_ok(pan: str) -> bool:
    """Return True if a card number passes the Luhn check."""
    if not pan.isdigit() or not 12 <= len(pan) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(pan)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0
