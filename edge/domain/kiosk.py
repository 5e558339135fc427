"""Self-checkout rules: the bagging-area weight check and the reasons to call an attendant.

After each item the bag should weigh what the shopper put in it: the sum of the pieces'
expected unit weights and the grams of weighed produce. The bagging scale never agrees to the
gram (bags, packaging, a scale's resolution), so a reading is accepted within a tolerance of
an absolute part plus a percentage of the expected weight. A piece whose weight the catalog
does not know cannot be checked exactly: the bag may then be heavier, never lighter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from edge.domain.errors import InvalidInput

DEFAULT_ABS_GRAMS = 30
DEFAULT_PERCENT_BP = 500  # 5 % of the expected weight, in basis points
MAX_BAG_GRAMS = 100_000

# why a kiosk stops and calls an attendant (the shopper's flow is blocked until approved)
CALL_REASONS = ("age_restricted", "weight_mismatch", "void", "help")
# how the attendant screen (device health) names them
HEALTH_REASONS = {
    "age_restricted": "age_check",
    "weight_mismatch": "weight_mismatch",
    "void": "void",
    "help": "help",
}


@dataclass(frozen=True)
class BagItem:
    """One basket line as the bagging area sees it."""

    quantity: int = 1
    unit_grams: int | None = None  # a piece's expected weight, None when unknown
    grams: int | None = None  # weighed goods: the grams weighed


@dataclass(frozen=True)
class BagExpectation:
    """What the bag should weigh: a known part, and how many pieces of unknown weight."""

    grams: int
    unknown: int = 0


@dataclass(frozen=True)
class BaggingCheck:
    """The outcome of comparing the bagging scale with the expectation."""

    expected_grams: int
    actual_grams: int
    tolerance_grams: int
    unknown: int
    ok: bool

    @property
    def difference(self) -> int:
        """Return actual minus expected grams (positive: the bag is heavier)."""
        return self.actual_grams - self.expected_grams


def expected_bag(items: Iterable[BagItem]) -> BagExpectation:
    """Return what the bag should weigh with these items in it."""
    grams = 0
    unknown = 0
    for item in items:
        if item.quantity < 0 or (item.grams is not None and item.grams < 0):
            raise InvalidInput("quantities and grams must not be negative", code="bad_bag_item")
        if item.grams is not None:
            grams += item.grams
        elif item.unit_grams is not None:
            grams += item.unit_grams * item.quantity
        else:
            unknown += item.quantity
    return BagExpectation(grams, unknown)


def tolerance(expected_grams: int, abs_grams: int = DEFAULT_ABS_GRAMS,
              percent_bp: int = DEFAULT_PERCENT_BP) -> int:  # fmt: skip
    """Return the accepted difference: an absolute part plus a share of the expected weight."""
    if expected_grams < 0 or abs_grams < 0 or percent_bp < 0:
        raise InvalidInput("weights and tolerances must not be negative", code="bad_tolerance")
    return abs_grams + expected_grams * percent_bp // 10_000


def check_bagging(
    expected: BagExpectation,
    actual_grams: int,
    *,
    abs_grams: int = DEFAULT_ABS_GRAMS,
    percent_bp: int = DEFAULT_PERCENT_BP,
) -> BaggingCheck:
    """Compare the bagging scale's reading with what the bag should weigh.

    Within the tolerance either way is fine; with pieces of unknown weight in the bag, any
    extra weight is accepted but missing weight still is not.
    """
    if actual_grams < 0:
        raise InvalidInput("a bagging weight must not be negative", code="bad_weight")
    allowed = tolerance(expected.grams, abs_grams, percent_bp)
    difference = actual_grams - expected.grams
    ok = difference >= -allowed and (expected.unknown > 0 or difference <= allowed)
    return BaggingCheck(expected.grams, actual_grams, allowed, expected.unknown, ok)
