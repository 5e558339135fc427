"""Rounding (half up, cash rounding, largest remainder) and tax maths with hand-worked figures."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.domain.errors import DomainError, InvalidInput
from edge.domain.rounding import (
    allocate_largest_remainder,
    div_round_half_up,
    round_to_increment,
)
from edge.domain.tax import TaxLine, TaxPolicy, compute_tax, tax_in, tax_on

INCLUSIVE_LINE = TaxPolicy("inclusive", "line")
INCLUSIVE_RECEIPT = TaxPolicy("inclusive", "receipt")
EXCLUSIVE_LINE = TaxPolicy("exclusive", "line")
EXCLUSIVE_RECEIPT = TaxPolicy("exclusive", "receipt")


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (5, 2, 3),
        (-5, 2, -3),
        (7, 3, 2),
        (-7, 3, -2),
        (8, 3, 3),
        (-8, 3, -3),
        (4, 2, 2),
        (1, 3, 0),
        (0, 7, 0),
        (149, 100, 1),
        (150, 100, 2),
        (-150, 100, -2),
        (10**30 + 1, 2, 5 * 10**29 + 1),
    ],
)
def test_div_round_half_up(numerator: int, denominator: int, expected: int) -> None:
    assert div_round_half_up(numerator, denominator) == expected


@pytest.mark.parametrize("denominator", [0, -3])
def test_div_round_half_up_refuses_a_non_positive_denominator(denominator: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        div_round_half_up(10, denominator)
    assert caught.value.code == "bad_rounding"


@given(st.integers(-(10**12), 10**12), st.integers(1, 10**6))
@settings(max_examples=200, deadline=None)
def test_div_round_half_up_is_within_half_of_the_exact_quotient(num: int, den: int) -> None:
    result = div_round_half_up(num, den)
    # |result - num/den| <= 1/2, i.e. |2*result*den - 2*num| <= den
    assert abs(2 * result * den - 2 * num) <= den
    assert div_round_half_up(-num, den) == -result


@pytest.mark.parametrize(
    ("amount", "increment", "mode", "expected"),
    [
        (1234, 1, "half_up", 1234),
        (1234, 1, "down", 1234),
        (1234, 10, "half_up", 1230),
        (1235, 10, "half_up", 1240),
        (1239, 10, "down", 1230),  # 抹零: 12.39 -> 12.30
        (1231, 10, "up", 1240),
        (1230, 10, "up", 1230),
        (1230, 10, "down", 1230),
        (1224, 50, "half_up", 1200),
        (1225, 50, "half_up", 1250),
        (1299, 100, "down", 1200),  # 抹角: 12.99 -> 12.00
        (1201, 100, "up", 1300),
        (0, 10, "up", 0),
        (4, 5, "half_up", 5),  # Swiss 5 Rappen: 0.04 -> 0.05
        (2, 5, "half_up", 0),
    ],
)
def test_round_to_increment(amount: int, increment: int, mode: str, expected: int) -> None:
    assert round_to_increment(amount, increment, mode) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "increment", "mode"),
    [(-1, 10, "half_up"), (100, 0, "half_up"), (100, -5, "down"), (100, 10, "sideways")],
)
def test_round_to_increment_refuses_bad_arguments(amount: int, increment: int, mode: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        round_to_increment(amount, increment, mode)  # type: ignore[arg-type]
    assert caught.value.code == "bad_rounding"


def test_largest_remainder_gives_left_over_units_to_the_largest_remainders() -> None:
    # 100 * 1050 / 2250 = 46.67 and 100 * 1200 / 2250 = 53.33: the 1 left goes to the .67
    assert allocate_largest_remainder(100, [1050, 1200]) == [47, 53]
    assert allocate_largest_remainder(10, [1, 1, 1]) == [4, 3, 3]
    assert allocate_largest_remainder(10, [1, 1, 1], ranks=[2, 0, 1]) == [3, 4, 3]
    assert allocate_largest_remainder(0, [5, 0, 7]) == [0, 0, 0]
    assert allocate_largest_remainder(12, [5, 0, 7]) == [5, 0, 7]
    assert allocate_largest_remainder(0, []) == []


def test_largest_remainder_refuses_what_it_cannot_split() -> None:
    with pytest.raises(InvalidInput):
        allocate_largest_remainder(5, [0, 0])
    with pytest.raises(InvalidInput):
        allocate_largest_remainder(-1, [1])
    with pytest.raises(InvalidInput):
        allocate_largest_remainder(1, [2, -1])


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=20), st.data())
@settings(max_examples=200, deadline=None)
def test_largest_remainder_is_exact_and_never_exceeds_a_weight(
    weights: list[int], data: st.DataObject
) -> None:
    total = data.draw(st.integers(0, sum(weights)))
    shares = allocate_largest_remainder(total, weights)
    assert sum(shares) == total
    for share, weight in zip(shares, weights, strict=True):
        assert 0 <= share <= weight
        # within one unit of the exact quota
        assert abs(share * sum(weights) - total * weight) < sum(weights) or weight == 0


@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [
        (11300, 1300, 1300),  # 113.00 incl. 13% holds 13.00
        (1000, 1300, 115),  # 115.04
        (100, 900, 8),  # 8.26
        (109, 900, 9),
        (500, 0, 0),
        (0, 1300, 0),
        (226, 1300, 26),  # 26.0
        (1, 10000, 1),  # 0.5 -> 1 at 100%
    ],
)
def test_tax_in(amount: int, rate: int, expected: int) -> None:
    assert tax_in(amount, rate) == expected


@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [
        (1000, 1300, 130),
        (995, 825, 82),  # 82.09
        (2, 2500, 1),  # 0.5 -> 1
        (6, 2500, 2),  # 1.5 -> 2
        (1, 2500, 0),  # 0.25 -> 0
        (500, 0, 0),
    ],
)
def test_tax_on(amount: int, rate: int, expected: int) -> None:
    assert tax_on(amount, rate) == expected


def test_inclusive_line_rounding_with_two_rates() -> None:
    summary, lines = compute_tax([(1300, 1000), (900, 500), (1300, 1000)], INCLUSIVE_LINE)
    # 1000 incl 13% -> 115.04 -> 115; 500 incl 9% -> 41.28 -> 41
    assert lines == [115, 41, 115]
    assert summary == [
        TaxLine(rate_bp=1300, net=1770, tax=230, gross=2000),
        TaxLine(rate_bp=900, net=459, tax=41, gross=500),
    ]


def test_inclusive_receipt_rounding_differs_from_line_rounding() -> None:
    amounts = [(1300, 100), (1300, 100), (1300, 100)]
    line_summary, line_taxes = compute_tax(amounts, INCLUSIVE_LINE)
    receipt_summary, receipt_taxes = compute_tax(amounts, INCLUSIVE_RECEIPT)
    # per line 100 * 13/113 = 11.50 -> 12 each, 36; per receipt 300 * 13/113 = 34.51 -> 35
    assert line_taxes == [12, 12, 12]
    assert line_summary == [TaxLine(1300, 264, 36, 300)]
    assert receipt_summary == [TaxLine(1300, 265, 35, 300)]
    assert sorted(receipt_taxes) == [11, 12, 12]
    assert sum(receipt_taxes) == 35


def test_exclusive_line_and_receipt_rounding() -> None:
    amounts = [(1300, 995), (1300, 995), (900, 1000)]
    line_summary, line_taxes = compute_tax(amounts, EXCLUSIVE_LINE)
    # 995 * 13% = 129.35 -> 129 each; 1000 * 9% = 90
    assert line_taxes == [129, 129, 90]
    assert line_summary == [TaxLine(1300, 1990, 258, 2248), TaxLine(900, 1000, 90, 1090)]
    receipt_summary, receipt_taxes = compute_tax(amounts, EXCLUSIVE_RECEIPT)
    # 1990 * 13% = 258.7 -> 259, shared 129.5 / 129.5: the first identical line gets the unit
    assert receipt_summary == [TaxLine(1300, 1990, 259, 2249), TaxLine(900, 1000, 90, 1090)]
    assert receipt_taxes == [130, 129, 90]


def test_summary_lists_only_rates_present_highest_first() -> None:
    summary, lines = compute_tax([(0, 500), (900, 1090), (1300, 1130)], INCLUSIVE_LINE)
    assert [row.rate_bp for row in summary] == [1300, 900, 0]
    assert lines == [0, 90, 130]
    assert summary[2] == TaxLine(0, 500, 0, 500)
    assert compute_tax([], INCLUSIVE_RECEIPT) == ([], [])


def test_receipt_allocation_follows_amounts_not_input_order() -> None:
    # 300 * 13/113 = 34.51 -> 35; quotas 11.67 (100) and 23.33 (200): the 100 line gets the unit
    _, forward = compute_tax([(1300, 100), (1300, 200)], INCLUSIVE_RECEIPT)
    _, backward = compute_tax([(1300, 200), (1300, 100)], INCLUSIVE_RECEIPT)
    assert forward == [12, 23]
    assert backward == [23, 12]


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(InvalidInput):
        compute_tax([(1300, -1)], INCLUSIVE_LINE)


@given(
    st.lists(st.tuples(st.sampled_from([0, 600, 900, 1300]), st.integers(0, 10**6)), max_size=30),
    st.sampled_from([INCLUSIVE_LINE, INCLUSIVE_RECEIPT, EXCLUSIVE_LINE, EXCLUSIVE_RECEIPT]),
)
@settings(max_examples=200, deadline=None)
def test_tax_summary_adds_up(amounts: list[tuple[int, int]], policy: TaxPolicy) -> None:
    summary, lines = compute_tax(amounts, policy)
    assert len(lines) == len(amounts)
    assert sum(row.tax for row in summary) == sum(lines)
    for row in summary:
        assert row.net + row.tax == row.gross
        in_rate = [amount for rate, amount in amounts if rate == row.rate_bp]
        assert (row.gross if policy.mode == "inclusive" else row.net) == sum(in_rate)
    for (rate, amount), tax in zip(amounts, lines, strict=True):
        assert 0 <= tax <= amount
        if policy.rounding == "line":
            assert tax == (tax_in if policy.mode == "inclusive" else tax_on)(amount, rate)
    assert [row.rate_bp for row in summary] == sorted({rate for rate, _ in amounts}, reverse=True)


def test_tax_policy_rates_and_refusals() -> None:
    policy = TaxPolicy()
    assert policy.mode == "inclusive"
    assert policy.rounding == "line"
    assert policy.rate_of("standard") == 1300
    assert policy.rate_of("reduced") == 900
    assert policy.rate_of("zero") == 0
    with pytest.raises(DomainError) as caught:
        policy.rate_of("luxury")
    assert caught.value.code == "unknown_tax_class"
    assert caught.value.status == 422
    assert hash(policy) == hash(TaxPolicy(rates={"standard": 1300}))
    assert policy != TaxPolicy(rates={"standard": 1300})
    for bad in (
        {"mode": "sometimes"},
        {"rounding": "never"},
        {"rates": {"standard": 10001}},
        {"rates": {"standard": -1}},
    ):
        with pytest.raises(InvalidInput) as refused:
            TaxPolicy(**bad)
        assert refused.value.code == "bad_tax_policy"
