"""The bagging-area weight check of the self-checkout kiosk."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.domain.errors import InvalidInput
from edge.domain.kiosk import (
    BagExpectation,
    BagItem,
    check_bagging,
    expected_bag,
    tolerance,
)


def test_the_expected_bag_adds_pieces_and_weighed_goods() -> None:
    items = [BagItem(2, unit_grams=350), BagItem(1, grams=1234), BagItem(1, unit_grams=85)]
    assert expected_bag(items) == BagExpectation(350 * 2 + 1234 + 85, 0)


def test_pieces_of_unknown_weight_are_counted_apart() -> None:
    assert expected_bag([BagItem(3), BagItem(1, unit_grams=100)]) == BagExpectation(100, 3)


def test_tolerance_is_absolute_plus_percent() -> None:
    assert tolerance(0) == 30
    assert tolerance(1000) == 30 + 50
    assert tolerance(1000, abs_grams=10, percent_bp=1000) == 110
    assert tolerance(999, abs_grams=0, percent_bp=500) == 49  # rounded down, never generous


@pytest.mark.parametrize(
    ("actual", "ok"),
    [(1000, True), (1080, True), (920, True), (1081, False), (919, False), (0, False)],
)
def test_a_reading_is_accepted_within_the_tolerance_either_way(actual: int, ok: bool) -> None:
    check = check_bagging(BagExpectation(1000), actual)
    assert check.tolerance_grams == 80
    assert check.ok is ok
    assert check.difference == actual - 1000


def test_unknown_pieces_allow_extra_weight_but_not_missing_weight() -> None:
    expectation = BagExpectation(500, unknown=1)
    assert check_bagging(expectation, 5000).ok
    assert not check_bagging(expectation, 400).ok


def test_an_empty_bagging_area_with_nothing_expected_is_fine() -> None:
    assert check_bagging(BagExpectation(0), 0).ok
    assert not check_bagging(BagExpectation(0), 500).ok  # something unscanned was put down


def test_negative_figures_are_refused() -> None:
    with pytest.raises(InvalidInput):
        check_bagging(BagExpectation(100), -1)
    with pytest.raises(InvalidInput):
        expected_bag([BagItem(-1, unit_grams=10)])
    with pytest.raises(InvalidInput):
        tolerance(100, abs_grams=-5)


@given(st.integers(0, 100_000), st.integers(0, 100_000), st.integers(0, 500), st.integers(0, 2000))
def test_the_check_is_symmetric_without_unknown_pieces(
    expected: int, delta: int, abs_grams: int, percent_bp: int
) -> None:
    heavier = check_bagging(BagExpectation(expected), expected + delta,
                            abs_grams=abs_grams, percent_bp=percent_bp)  # fmt: skip
    assert heavier.ok == (delta <= tolerance(expected, abs_grams, percent_bp))
    if delta <= expected:
        lighter = check_bagging(BagExpectation(expected), expected - delta,
                                abs_grams=abs_grams, percent_bp=percent_bp)  # fmt: skip
        assert lighter.ok == heavier.ok
