"""Taking and giving back electronic payments: the simulator and the all-or-nothing sequence.

`SimulatedTerminal` behaves like a card/QR terminal so tills, tests and the demo run without
one: it approves, declines and times out depending on what is presented (test card numbers
as payment gateways publish them), and honours idempotency keys like real gateways do.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence

from edge.domain.payments import (
    Authorization,
    PaymentDeclined,
    PaymentProvider,
    PaymentRequest,
    PaymentTimedOut,
    luhn_ok,
    mask_pan,
)

log = logging.getLogger(__name__)

APPROVE_CARD = "4111111111111111"
DECLINE_CARD = "4000000000000002"
INSUFFICIENT_CARD = "4000000000009995"
TIMEOUT_CARD = "4000000000000119"
QR_APPROVE = "134567890123456789"  # a WeChat-Pay-like 18-digit payment code
QR_DECLINE = "280000000000000002"
QR_TIMEOUT = "280000000000000119"

DEFAULT_TIMEOUT = 30.0


class SimulatedTerminal:
    """A card and QR terminal that behaves like one: approve, decline, hang; idempotent."""

    name = "simulator"

    def __init__(self, hang_seconds: float = 3600.0) -> None:
        """Start with no history; `hang_seconds` is how long a 'timeout' card hangs."""
        self.hang_seconds = hang_seconds
        self.by_key: dict[str, Authorization] = {}
        self.reversed: set[str] = set()
        self.refunds: dict[str, Authorization] = {}
        self.calls = 0

    async def authorize(self, request: PaymentRequest) -> Authorization:
        """Approve, decline or hang according to what was presented."""
        self.calls += 1
        if request.key in self.by_key and request.key not in self.reversed:
            return self.by_key[request.key]
        presented = request.presented or (APPROVE_CARD if request.method == "card" else QR_APPROVE)
        presented = presented.replace(" ", "")
        if presented in {TIMEOUT_CARD, QR_TIMEOUT}:
            await asyncio.sleep(self.hang_seconds)
        if request.method == "card" and not luhn_ok(presented):
            raise PaymentDeclined("the card number is not valid", code="invalid_card")
        if presented in {DECLINE_CARD, QR_DECLINE}:
            raise PaymentDeclined("the payment was declined by the issuer")
        if presented == INSUFFICIENT_CARD:
            raise PaymentDeclined("insufficient funds", code="insufficient_funds")
        digest = hashlib.sha256(request.key.encode()).hexdigest()
        auth = Authorization(
            provider=self.name,
            reference=f"SIM-{digest[:16]}",
            auth_code=str(int(digest[16:24], 16) % 1_000_000).zfill(6),
            masked_pan=mask_pan(presented) if request.method == "card" else None,
            token=f"tok_{digest[24:40]}",
            method=request.method,
            amount=request.amount,
        )
        self.by_key[request.key] = auth
        self.reversed.discard(request.key)
        return auth

    async def reverse(self, key: str) -> None:
        """Reverse the authorisation made with `key`."""
        if key in self.by_key:
            self.reversed.add(key)

    async def refund(self, reference: str, amount: int, key: str) -> Authorization:
        """Refund against an earlier payment reference (idempotent by key)."""
        if key in self.refunds:
            return self.refunds[key]
        original = next((a for a in self.by_key.values() if a.reference == reference), None)
        if original is None:
            raise PaymentDeclined(f"unknown payment reference {reference}", code="refund_refused")
        digest = hashlib.sha256(key.encode()).hexdigest()
        refund = Authorization(
            provider=self.name,
            reference=f"SIMR-{digest[:16]}",
            auth_code=str(int(digest[16:24], 16) % 1_000_000).zfill(6),
            masked_pan=original.masked_pan,
            token=original.token,
            method=original.method,
            amount=-amount,
        )
        self.refunds[key] = refund
        return refund


async def authorize_all(
    provider: PaymentProvider,
    requests: Sequence[PaymentRequest],
    seconds: float = DEFAULT_TIMEOUT,
) -> list[Authorization]:
    """Authorise every request in order; on any failure reverse the ones already approved."""
    approved: list[Authorization] = []
    done_keys: list[str] = []
    try:
        for request in requests:
            try:
                async with asyncio.timeout(seconds):
                    approved.append(await provider.authorize(request))
            except TimeoutError:
                await _reverse_quietly(provider, request.key)
                raise PaymentTimedOut(
                    "the payment terminal did not answer in time; nothing was taken, try again"
                ) from None
            done_keys.append(request.key)
    except BaseException:
        for key in reversed(done_keys):
            await _reverse_quietly(provider, key)
        raise
    return approved


async def reverse_all(provider: PaymentProvider, keys: Sequence[str]) -> None:
    """Reverse authorisations after the sale could not be recorded."""
    for key in keys:
        await _reverse_quietly(provider, key)


async def _reverse_quietly(provider: PaymentProvider, key: str) -> None:
    """Reverse one authorisation; log (never raise) when the provider fails to."""
    try:
        async with asyncio.timeout(DEFAULT_TIMEOUT):
            await provider.reverse(key)
    except Exception:
        log.exception("could not reverse payment %s: reconcile with the provider", key)
