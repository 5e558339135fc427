"""Applying promotions and basket discounts to a basket's lines while it is being priced.

Each line is a `WorkLine` holding what remains of it (`current`) and, for piece lines, its
units not yet taken by a multi-unit promotion (`free_units`, worth `free_value`). Every
discount is computed on the current amounts and never takes a line below zero. Ties are
broken by the line's `rank`, its place in a canonical order of line contents, never by its
position in the basket, so that the scan order does not change the result.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from edge.domain.promotions import MULTI_UNIT_KINDS, PIECE_KINDS, Promotion
from edge.domain.rounding import allocate_largest_remainder, div_round_half_up

FULL_BP = 10_000

# A run of equally valued units of one line in the pooled units: (line position, value, count)
Run = tuple[int, int, int]


@dataclass
class WorkLine:
    """The mutable state of one line while promotions are applied to it."""

    rank: int
    product_id: str
    category: str | None
    quantity: int
    weighed: bool
    promotable: bool  # neither a fixed-price label nor a price override
    current: int
    free_units: int
    free_value: int
    promoted: bool = False
    locked: bool = False


def take_whole_line(line: WorkLine, amount: int) -> None:
    """Take a discount off a whole line, its free units bearing their share of it."""
    if line.current and line.free_value:
        line.free_value -= div_round_half_up(amount * line.free_value, line.current)
    line.current -= amount


def eligible_lines(promotion: Promotion, lines: Sequence[WorkLine]) -> list[int]:
    """Return the positions of the lines a promotion may discount now."""
    found = []
    for position, line in enumerate(lines):
        if not line.promotable or line.locked or line.current <= 0:
            continue
        if promotion.exclusive and line.promoted:
            continue
        if not promotion.scope.matches(line.product_id, line.category):
            continue
        if promotion.kind in PIECE_KINDS and line.weighed:
            continue
        if promotion.kind in MULTI_UNIT_KINDS and line.free_units <= 0:
            continue
        found.append(position)
    return found


def _mark(promotion: Promotion, lines: Sequence[WorkLine], amounts: dict[int, int]) -> None:
    """Note which lines the promotion discounted; an exclusive one locks them."""
    for position, amount in amounts.items():
        if amount > 0:
            lines[position].promoted = True
            lines[position].locked = lines[position].locked or promotion.exclusive


def apply_item_promotion(promotion: Promotion, lines: Sequence[WorkLine]) -> dict[int, int]:
    """Apply an item promotion to the lines; return the discount per line position (> 0)."""
    positions = eligible_lines(promotion, lines)
    amounts: dict[int, int] = {}
    if promotion.kind in MULTI_UNIT_KINDS:
        amounts = _apply_multi_unit(promotion, lines, positions)
    else:
        for position in positions:
            line = lines[position]
            if promotion.kind == "percent_off":
                wanted = div_round_half_up(line.current * (promotion.percent_bp or 0), FULL_BP)
            else:  # amount_off, per piece
                wanted = (promotion.amount or 0) * line.quantity
            amount = min(wanted, line.current)
            if amount > 0:
                take_whole_line(line, amount)
                amounts[position] = amount
    _mark(promotion, lines, amounts)
    return amounts


def _runs(lines: Sequence[WorkLine], positions: Sequence[int]) -> list[Run]:
    """Pool the free units of the lines, most valuable first, as runs of equal units."""
    runs: list[Run] = []
    for position in positions:
        line = lines[position]
        base, extra = divmod(line.free_value, line.free_units)
        if extra:
            runs.append((position, base + 1, extra))
        runs.append((position, base, line.free_units - extra))
    runs.sort(key=lambda run: (-run[1], lines[run[0]].rank))
    return runs


def _groups(runs: Sequence[Run], size: int) -> Iterator[tuple[list[Run], int]]:
    """Cut the pooled units into consecutive groups of `size`: (a group's runs, repeat count).

    Groups that lie within one run come out once with how many of them there are; the units
    left after the last whole group form no group.
    """
    pending: list[Run] = []
    filled = 0
    for position, value, count in runs:
        left = count
        if filled:
            take = min(left, size - filled)
            pending.append((position, value, take))
            filled += take
            left -= take
            if filled < size:
                continue
            yield pending, 1
            pending, filled = [], 0
        whole, left = divmod(left, size)
        if whole:
            yield [(position, value, size)], whole
        if left:
            pending, filled = [(position, value, left)], left


def _cheapest(group: Sequence[Run], count: int) -> list[Run]:
    """Return the last `count` units of a group (its cheapest, as groups run high to low)."""
    picked: list[Run] = []
    for position, value, units in reversed(group):
        if count <= 0:
            break
        take = min(units, count)
        picked.append((position, value, take))
        count -= take
    return picked


def _apply_multi_unit(
    promotion: Promotion, lines: Sequence[WorkLine], positions: Sequence[int]
) -> dict[int, int]:
    """Apply multi_buy or buy_n_get_m to the pooled units of the lines."""
    if promotion.kind == "multi_buy":
        size = promotion.quantity or 0
    else:
        size = (promotion.buy or 0) + (promotion.get or 0)
    if size <= 0 or not positions:
        return {}
    units: dict[int, int] = {}
    values: dict[int, int] = {}
    amounts: dict[int, int] = {}
    for group, times in _groups(_runs(lines, positions), size):
        group_value = sum(value * count for _, value, count in group)
        if promotion.kind == "multi_buy":
            discounted = list(group)
            discount = group_value - (promotion.price or 0)
        else:
            discounted = _cheapest(group, promotion.get or 0)
            base = sum(value * count for _, value, count in discounted)
            bp = FULL_BP if promotion.percent_bp is None else promotion.percent_bp
            discount = div_round_half_up(base * bp, FULL_BP)
        if discount <= 0:
            continue
        shares = allocate_largest_remainder(
            discount,
            [value * count for _, value, count in discounted],
            [lines[position].rank for position, _, _ in discounted],
        )
        for (position, _, _), share in zip(discounted, shares, strict=True):
            amounts[position] = amounts.get(position, 0) + share * times
        for position, value, count in group:
            units[position] = units.get(position, 0) + count * times
            values[position] = values.get(position, 0) + value * count * times
    for position, taken in units.items():
        line = lines[position]
        line.free_units -= taken
        line.free_value -= values[position]
        line.current -= amounts.get(position, 0)
    return {position: amount for position, amount in amounts.items() if amount > 0}


def basket_promotion_total(promotion: Promotion, subtotal: int) -> int:
    """Return what a basket promotion saves on an eligible subtotal (capped at it)."""
    if subtotal <= 0:
        return 0
    threshold = promotion.threshold or 0
    if subtotal < threshold:
        return 0
    if promotion.kind == "spend_save":
        times = subtotal // threshold if promotion.repeat and threshold > 0 else 1
        wanted = (promotion.amount or 0) * times
    else:  # basket_percent
        wanted = div_round_half_up(subtotal * (promotion.percent_bp or 0), FULL_BP)
    return min(wanted, subtotal)


def share_out(total: int, lines: Sequence[WorkLine], positions: Sequence[int]) -> dict[int, int]:
    """Spread a basket discount over lines in proportion to what remains of them."""
    weights = [lines[position].current for position in positions]
    total = min(total, sum(weights))
    if total <= 0:
        return {}
    ranks = [lines[position].rank for position in positions]
    shares = allocate_largest_remainder(total, weights, ranks)
    amounts: dict[int, int] = {}
    for position, share in zip(positions, shares, strict=True):
        if share > 0:
            take_whole_line(lines[position], share)
            amounts[position] = share
    return amounts


def apply_basket_promotion(promotion: Promotion, lines: Sequence[WorkLine]) -> dict[int, int]:
    """Apply a basket promotion to its eligible lines; return each line's share (> 0)."""
    positions = eligible_lines(promotion, lines)
    subtotal = sum(lines[position].current for position in positions)
    amounts = share_out(basket_promotion_total(promotion, subtotal), lines, positions)
    _mark(promotion, lines, amounts)
    return amounts
