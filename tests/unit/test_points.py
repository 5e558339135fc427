"""Points arithmetic (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.domain.errors import InvalidInput
from edge.domain.points import PointsRules, points_earned, points_for_amount, points_reversed

RULES = PointsRules(earn_per=100, redeem_value=1, categories={"produce": 200}, tiers={"gold": 150})


def test_earning_with_category_and_tier_multipliers() -> None:
    lines = [("produce", 1_000), ("drinks", 2_000)]  # 20 + 20 weighted points at 1 per 1.00
    assert points_earned(lines, 3_000, 0, None, RULES) == 40
    assert points_earned(lines, 3_000, 0, "gold", RULES) == 60
    assert points_earned(lines, 3_000, 1_500, None, RULES) == 20  # half paid with points
    assert points_earned(lines, 3_000, 0, None, PointsRules(earn_per=0)) == 0


def test_points_pay_in_whole_steps() -> None:
    assert points_for_amount(500, PointsRules(redeem_value=5)) == 100
    with pytest.raises(InvalidInput):
        points_for_amount(502, PointsRules(redeem_value=5))
    with pytest.raises(InvalidInput):
        points_for_amount(1, PointsRules(redeem_value=0))


@given(
    earned=st.integers(0, 100_000),
    total=st.integers(1, 1_000_000),
    parts=st.lists(st.integers(1, 1_000), min_size=1, max_size=10),
)
def test_partial_returns_never_take_back_more_than_was_earned(
    earned: int, total: int, parts: list[int]
) -> None:
    returned = 0
    taken = 0
    for wanted in parts:
        part = min(wanted, total - returned)
        if part <= 0:
            break
        # each return takes back its share of what is left, as the service does
        taken += points_reversed(earned, total, returned + part) - points_reversed(
            earned, total, returned
        )
        returned += part
    assert 0 <= taken <= earned
    if returned == total:
        assert taken == earned
