"""The payment interface: simulator behaviour, idempotency, all-or-nothing authorisation."""

from __future__ import annotations

import pytest

from edge.domain.payments import PaymentDeclined, PaymentRequest, PaymentTimedOut, luhn_ok, mask_pan
from edge.services.payments import (
    APPROVE_CARD,
    DECLINE_CARD,
    INSUFFICIENT_CARD,
    QR_DECLINE,
    TIMEOUT_CARD,
    SimulatedTerminal,
    authorize_all,
)


def card(key: str, presented: str, amount: int = 1000) -> PaymentRequest:
    return PaymentRequest(
        key=key, method="card", amount=amount, currency="CNY", presented=presented
    )


def test_luhn_and_masking() -> None:
    assert luhn_ok(APPROVE_CARD)
    assert not luhn_ok("4111111111111112")
    assert not luhn_ok("41111")
    assert mask_pan("4111 1111 1111 1111") == "411111******1111"


async def test_approval_keeps_only_masked_data_and_is_idempotent() -> None:
    terminal = SimulatedTerminal()
    first = await terminal.authorize(card("sale-1:0", APPROVE_CARD))
    again = await terminal.authorize(card("sale-1:0", APPROVE_CARD))
    assert first == again
    assert first.masked_pan == "411111******1111"
    assert APPROVE_CARD not in repr(first.to_data())
    other = await terminal.authorize(card("sale-2:0", APPROVE_CARD))
    assert other.reference != first.reference


@pytest.mark.parametrize(
    ("presented", "code"),
    [
        (DECLINE_CARD, "payment_declined"),
        (INSUFFICIENT_CARD, "insufficient_funds"),
        ("4111111111111112", "invalid_card"),
    ],
)
async def test_declines(presented: str, code: str) -> None:
    with pytest.raises(PaymentDeclined) as caught:
        await SimulatedTerminal().authorize(card("k", presented))
    assert caught.value.code == code
    assert caught.value.status == 402


async def test_split_payment_failure_reverses_what_was_approved() -> None:
    terminal = SimulatedTerminal()
    qr = PaymentRequest(key="s:1", method="qr", amount=500, currency="CNY", presented=QR_DECLINE)
    with pytest.raises(PaymentDeclined):
        await authorize_all(terminal, [card("s:0", APPROVE_CARD), qr])
    assert terminal.reversed == {"s:0"}


async def test_timeout_is_reversed_and_reported() -> None:
    terminal = SimulatedTerminal(hang_seconds=5)
    with pytest.raises(PaymentTimedOut):
        await authorize_all(terminal, [card("t:0", APPROVE_CARD), card("t:1", TIMEOUT_CARD)], 0.05)
    assert terminal.reversed == {"t:0"}


async def test_refund_against_reference_is_idempotent() -> None:
    terminal = SimulatedTerminal()
    paid = await terminal.authorize(card("r:0", APPROVE_CARD, 3000))
    refund = await terminal.refund(paid.reference, 1200, "ret-1:0")
    assert (refund.amount, refund.masked_pan) == (-1200, paid.masked_pan)
    assert await terminal.refund(paid.reference, 1200, "ret-1:0") == refund
    with pytest.raises(PaymentDeclined):
        await terminal.refund("SIM-unknown", 100, "ret-2:0")
