"""How a basket is paid: split tenders, cash rounding and change.

Only cash gives change. Card, QR wallet, stored value and vouchers (coupon tenders) may not
together exceed what is due; the rest is due in cash, rounded to the store's cash increment
(the difference is the receipt's `rounding`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from edge.domain.errors import DomainError, InvalidInput
from edge.domain.rounding import CashRoundingMode, round_to_increment
from edge.domain.values import value

TenderKind = Literal["cash", "card", "qr", "stored_value", "points", "coupon", "exchange"]
TENDER_KINDS: tuple[str, ...] = (  # what a till may give
    "cash",
    "card",
    "qr",
    "stored_value",
    "points",
    "coupon",
)
EXCHANGE = "exchange"  # the credit of an exchange's return, added by the server only
ELECTRONIC: tuple[str, ...] = ("card", "qr")
MAX_TENDERS = 8
MAX_TENDER = 100_000_000

# The order refunds go back in: to the card or wallet first, then the member's account
# (stored value, then points), cash
# (what an exchange's credit paid is given back as cash), and vouchers last (re-issued).
REFUND_ORDER: tuple[str, ...] = (
    "card",
    "qr",
    "stored_value",
    "points",
    "cash",
    EXCHANGE,
    "coupon",
)

CURRENCY_EXPONENTS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3}


def currency_exponent(currency: str) -> int:
    """Return how many decimals a currency's minor unit has (CNY 2, JPY 0)."""
    return CURRENCY_EXPONENTS.get(currency, 2)


class TenderShort(DomainError):
    """Raise when the tenders do not cover what is due."""

    code = "tender_short"


@value
class TenderInput:
    """One tender as the till asks for it (amount tendered; for cash, what was handed over)."""

    kind: str
    amount: int
    presented: str | None = None  # card/QR data for the terminal; never stored
    code: str | None = None  # voucher code of a coupon tender


@value
class TenderPlan:
    """What each tender pays, the cash due after rounding, and the change."""

    tenders: tuple[TenderInput, ...]  # in request order; a cash tender's amount is what it pays
    cash_tendered: int
    change: int
    rounding: int
    due: int  # total + rounding: what the tenders pay together

    def cash_record(self) -> dict[str, Any]:
        """Return the cash tender's event form."""
        cash = next(t for t in self.tenders if t.kind == "cash")
        return {
            "kind": "cash",
            "amount": cash.amount,
            "tendered": self.cash_tendered,
            "change": self.change,
        }


def plan_tenders(
    total: int,
    tenders: Sequence[TenderInput],
    increment: int = 1,
    mode: CashRoundingMode = "half_up",
) -> TenderPlan:
    """Check that the tenders pay `total` exactly (cash may overpay: change) and plan them."""
    if len(tenders) > MAX_TENDERS:
        raise InvalidInput(f"at most {MAX_TENDERS} tenders", code="too_many_tenders")
    for index, tender in enumerate(tenders):
        if tender.kind not in (*TENDER_KINDS, EXCHANGE):
            raise InvalidInput(f"tenders[{index}]: unknown kind {tender.kind!r}", code="bad_tender")
        if not 1 <= tender.amount <= MAX_TENDER:
            raise InvalidInput(
                f"tenders[{index}]: the amount must be 1..{MAX_TENDER}", code="bad_tender"
            )
        if tender.kind in ("coupon", EXCHANGE) and not tender.code:
            raise InvalidInput(f"tenders[{index}]: a voucher needs its code", code="bad_tender")
    cash = [t for t in tenders if t.kind == "cash"]
    if len(cash) > 1:
        raise InvalidInput("give cash as one tender (the amount handed over)", code="bad_tender")
    non_cash = sum(t.amount for t in tenders if t.kind != "cash")
    if non_cash > total:
        raise DomainError(
            f"card, wallet, stored value and vouchers pay {non_cash}, more than the {total} due;"
            " only cash gives change",
            code="overpaid",
        )
    remaining = total - non_cash
    if not cash:
        if remaining:
            raise TenderShort(f"the tenders are {remaining} short of the {total} due")
        return TenderPlan(tuple(tenders), 0, 0, 0, total)
    if remaining == 0:
        raise DomainError("nothing is left to pay in cash", code="overpaid")
    cash_due = round_to_increment(remaining, increment, mode)
    handed = cash[0].amount
    if handed < cash_due:
        raise TenderShort(f"the cash handed over is {cash_due - handed} short of {cash_due}")
    planned = tuple(TenderInput("cash", cash_due) if t.kind == "cash" else t for t in tenders)
    return TenderPlan(
        planned, handed, handed - cash_due, cash_due - remaining, total - remaining + cash_due
    )
