"""Member points: earned on what a member pays, redeemed as a tender, reversed on returns.

Integer arithmetic only. A line earns on its amount times its category's multiplier; the
basket's points are scaled down by the share paid with points (points do not earn points),
times the member's tier multiplier, divided by the spend per point. A return takes back the
same share of the sale's points as the share of its amount that comes back (rounded down, so
partial returns never take back more than was earned).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from edge.domain.errors import InvalidInput


@dataclass(frozen=True)
class PointsRules:
    """How points are earned and what one is worth."""

    earn_per: int = 100  # minor units spent per point (0: the store gives no points)
    redeem_value: int = 1  # minor units one point pays
    categories: Mapping[str, int] = field(default_factory=dict)  # category -> percent
    tiers: Mapping[str, int] = field(default_factory=dict)  # member tier -> percent


def points_earned(
    lines: Iterable[tuple[str, int]],
    total: int,
    paid_with_points: int,
    tier: str | None,
    rules: PointsRules,
) -> int:
    """Return the points a member earns for (category, amount) lines of a sale."""
    if rules.earn_per <= 0 or total <= 0:
        return 0
    weighted = sum(amount * rules.categories.get(category, 100) for category, amount in lines)
    earning = weighted * (total - paid_with_points) // total  # in percent-minor units
    return earning * rules.tiers.get(tier or "", 100) // (100 * 100 * rules.earn_per)


def points_for_amount(amount: int, rules: PointsRules) -> int:
    """Return how many points pay `amount` (it must be a whole number of points)."""
    if rules.redeem_value <= 0:
        raise InvalidInput("this store does not take points", code="no_points")
    points, rest = divmod(amount, rules.redeem_value)
    if rest:
        raise InvalidInput(
            f"points pay in steps of {rules.redeem_value} minor units", code="bad_points_amount"
        )
    return points


def points_reversed(earned: int, sale_total: int, returned: int) -> int:
    """Return the points a return takes back: the returned share of what was earned."""
    if sale_total <= 0 or earned <= 0:
        return 0
    return earned * min(returned, sale_total) // sale_total
