"""Sales tax: the store's policy (inclusive or exclusive, rates, where to round) and its maths.

Rates are basis points (1300 = 13%). In inclusive mode (CN/EU) shelf prices contain the tax
and the tax is carved out of them; in exclusive mode (US) it is added on top. Tax is rounded
per line, or once per rate and receipt and then shared back to the lines so that the lines
always add up to the receipt to the minor unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from edge.domain.errors import DomainError, InvalidInput
from edge.domain.rounding import allocate_largest_remainder, div_round_half_up
from edge.domain.values import value

TaxMode = Literal["inclusive", "exclusive"]
TaxRounding = Literal["line", "receipt"]
TAX_MODES: tuple[TaxMode, ...] = ("inclusive", "exclusive")
TAX_ROUNDINGS: tuple[TaxRounding, ...] = ("line", "receipt")
MAX_RATE_BP = 10_000


def _default_rates() -> dict[str, int]:
    """Return the default tax classes: CN VAT standard 13%, reduced 9%, zero."""
    return {"standard": 1300, "reduced": 900, "zero": 0}


@dataclass(frozen=True)
class TaxPolicy:
    """How a store charges tax: prices with or without it, its rates, where it is rounded."""

    mode: TaxMode = "inclusive"
    rounding: TaxRounding = "line"
    rates: Mapping[str, int] = field(default_factory=_default_rates, hash=False)

    def __post_init__(self) -> None:
        """Refuse an unknown mode or rounding and rates outside 0..10000 basis points."""
        if self.mode not in TAX_MODES:
            raise InvalidInput(f"unknown tax mode {self.mode!r}", code="bad_tax_policy")
        if self.rounding not in TAX_ROUNDINGS:
            raise InvalidInput(f"unknown tax rounding {self.rounding!r}", code="bad_tax_policy")
        for name, rate in self.rates.items():
            if isinstance(rate, bool) or not isinstance(rate, int) or not 0 <= rate <= MAX_RATE_BP:
                raise InvalidInput(
                    f"tax class {name!r} needs a rate of 0..{MAX_RATE_BP} basis points",
                    code="bad_tax_policy",
                )

    def rate_of(self, tax_class: str) -> int:
        """Return the rate of a tax class in basis points."""
        rate = self.rates.get(tax_class)
        if rate is None:
            raise DomainError(f"the store has no tax class {tax_class!r}", code="unknown_tax_class")
        return rate


@value
class TaxLine:
    """One rate's row of the tax summary (net + tax == gross)."""

    rate_bp: int
    net: int
    tax: int
    gross: int

    def to_data(self) -> dict[str, Any]:
        """Return the event data form."""
        return {"rate_bp": self.rate_bp, "net": self.net, "tax": self.tax, "gross": self.gross}


def tax_in(amount: int, rate_bp: int) -> int:
    """Return the tax contained in a tax-inclusive amount, rounded half up."""
    return div_round_half_up(amount * rate_bp, MAX_RATE_BP + rate_bp)


def tax_on(amount: int, rate_bp: int) -> int:
    """Return the tax on a tax-exclusive amount, rounded half up."""
    return div_round_half_up(amount * rate_bp, MAX_RATE_BP)


def compute_tax(
    amounts: Sequence[tuple[int, int]], policy: TaxPolicy
) -> tuple[list[TaxLine], list[int]]:
    """Return the tax summary per rate (highest rate first) and each line's tax, in order.

    `amounts` holds (rate_bp, amount) per line, the amount tax-inclusive in inclusive mode and
    tax-exclusive in exclusive mode. With receipt rounding each rate's tax is rounded once on
    its total and shared back to its lines by largest remainder (ties to the larger amount,
    then the earlier line), so the lines' taxes add up to it exactly.
    """
    of_amount = tax_in if policy.mode == "inclusive" else tax_on
    groups: dict[int, list[int]] = {}
    for position, (rate, amount) in enumerate(amounts):
        if amount < 0:
            raise InvalidInput(f"cannot tax a negative amount {amount}", code="bad_tax_amount")
        groups.setdefault(rate, []).append(position)
    line_tax = [0 for _ in amounts]
    summary: list[TaxLine] = []
    for rate in sorted(groups, reverse=True):
        positions = groups[rate]
        total = sum(amounts[p][1] for p in positions)
        if policy.rounding == "line":
            for p in positions:
                line_tax[p] = of_amount(amounts[p][1], rate)
            tax = sum(line_tax[p] for p in positions)
        else:
            tax = of_amount(total, rate)
            weights = [amounts[p][1] for p in positions]
            for p, share in zip(positions, allocate_largest_remainder(tax, weights), strict=True):
                line_tax[p] = share
        if policy.mode == "inclusive":
            summary.append(TaxLine(rate_bp=rate, net=total - tax, tax=tax, gross=total))
        else:
            summary.append(TaxLine(rate_bp=rate, net=total, tax=tax, gross=total + tax))
    return summary, line_tax
