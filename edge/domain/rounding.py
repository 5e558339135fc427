"""Integer rounding of money: half-up division, cash rounding to an increment, fair splits.

Money is int minor units (分/cents) and every function here is exact integer arithmetic: no
float ever touches an amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from edge.domain.errors import InvalidInput

CashRoundingMode = Literal["half_up", "down", "up"]
CASH_ROUNDING_MODES: tuple[CashRoundingMode, ...] = ("half_up", "down", "up")


def div_round_half_up(numerator: int, denominator: int) -> int:
    """Divide exactly and round half away from zero (5/2 -> 3, -5/2 -> -3)."""
    if denominator <= 0:
        raise InvalidInput(f"cannot divide by {denominator}", code="bad_rounding")
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def round_to_increment(amount: int, increment: int, mode: CashRoundingMode = "half_up") -> int:
    """Round an amount to a multiple of `increment`: half up, down (抹零) or up."""
    if amount < 0:
        raise InvalidInput(f"cannot cash-round a negative amount {amount}", code="bad_rounding")
    if increment < 1:
        raise InvalidInput(f"a rounding increment is >= 1, not {increment}", code="bad_rounding")
    if mode == "half_up":
        return div_round_half_up(amount, increment) * increment
    if mode == "down":
        return amount // increment * increment
    if mode == "up":
        return -(-amount // increment) * increment
    raise InvalidInput(f"unknown cash rounding mode {mode!r}", code="bad_rounding")


def allocate_largest_remainder(
    total: int, weights: Sequence[int], ranks: Sequence[int] | None = None
) -> list[int]:
    """Split `total` in proportion to `weights`, exactly, by the largest remainder method.

    Each share is the floor of its exact quota; the units left over go one each to the largest
    remainders, ties to the larger weight, then to the lower rank (default: the position).
    With 0 <= total <= sum(weights) no share exceeds its weight and a zero weight gets nothing.
    """
    if total < 0 or any(weight < 0 for weight in weights):
        raise InvalidInput("cannot allocate negative amounts", code="bad_allocation")
    whole = sum(weights)
    if whole == 0:
        if total:
            raise InvalidInput(f"cannot allocate {total} over nothing", code="bad_allocation")
        return [0 for _ in weights]
    order_ranks = ranks if ranks is not None else range(len(weights))
    shares = [total * weight // whole for weight in weights]
    remainders = [total * weight % whole for weight in weights]
    left = total - sum(shares)
    order = sorted(
        range(len(weights)),
        key=lambda i: (-remainders[i], -weights[i], order_ranks[i], i),
    )
    for i in order[:left]:
        shares[i] += 1
    return shares
