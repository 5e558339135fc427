"""Refunds for returned lines: cumulative-proportional amounts and tax, and refusals."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edge.domain.errors import Conflict, InvalidInput
from edge.domain.returns import SoldLine, refund_for_line


def returned(sold: SoldLine, quantity: int = 0, grams: int = 0) -> SoldLine:
    """Return the sold line after a return of `quantity` or `grams` was recorded."""
    if sold.grams is None:
        amount, tax = refund_for_line(sold, quantity=quantity)
    else:
        amount, tax = refund_for_line(sold, grams=grams)
    return replace(
        sold,
        returned_quantity=sold.returned_quantity + quantity,
        returned_grams=sold.returned_grams + grams,
        returned_amount=sold.returned_amount + amount,
        returned_tax=sold.returned_tax + tax,
    )


def test_piece_line_returned_one_at_a_time() -> None:
    sold = SoldLine(index=2, quantity=3, grams=None, amount=1000, tax=115)
    # 10.00 / 3 = 3.333 -> 3.33; two of three = 6.667 -> 6.67, so the second refund is 3.34
    assert refund_for_line(sold, 1) == (333, 38)
    after_one = returned(sold, quantity=1)
    assert refund_for_line(after_one, 1) == (334, 39)
    after_two = returned(after_one, quantity=1)
    assert refund_for_line(after_two, 1) == (333, 38)
    after_three = returned(after_two, quantity=1)
    assert (after_three.returned_amount, after_three.returned_tax) == (1000, 115)


def test_piece_line_returned_in_one_go_or_the_rest() -> None:
    sold = SoldLine(0, 3, None, 1000, 115)
    assert refund_for_line(sold, 3) == (1000, 115)
    assert refund_for_line(sold) == (1000, 115)
    after_one = returned(sold, quantity=1)
    assert refund_for_line(after_one) == (667, 77)
    assert refund_for_line(after_one, 2) == (667, 77)


def test_weighed_line_returned_by_grams() -> None:
    sold = SoldLine(1, 1, 1500, 1800, 149)
    # 500 g of 1500 g: 6.00 and 149/3 = 49.67 -> 50
    assert refund_for_line(sold, grams=500) == (600, 50)
    part = returned(sold, grams=500)
    assert refund_for_line(part) == (1200, 99)
    assert refund_for_line(part, grams=1000) == (1200, 99)
    # 1 g of 1500: 1.2 -> 1 and 0.0993 -> 0
    assert refund_for_line(sold, grams=1) == (1, 0)


def test_a_line_that_cost_nothing_refunds_nothing() -> None:
    assert refund_for_line(SoldLine(0, 2, None, 0, 0), 1) == (0, 0)


@pytest.mark.parametrize(
    ("sold", "quantity", "grams"),
    [
        (SoldLine(0, 3, None, 1000, 115), 4, None),
        (SoldLine(0, 3, None, 1000, 115, returned_quantity=2, returned_amount=667), 2, None),
        (SoldLine(0, 3, None, 1000, 115, returned_quantity=3, returned_amount=1000), None, None),
        (SoldLine(0, 1, 1500, 1800, 149), None, 1501),
        (SoldLine(0, 1, 1500, 1800, 149, returned_grams=1500, returned_amount=1800), None, None),
    ],
)
def test_returning_more_than_is_left_is_a_conflict(
    sold: SoldLine, quantity: int | None, grams: int | None
) -> None:
    with pytest.raises(Conflict) as caught:
        refund_for_line(sold, quantity, grams)
    assert caught.value.code == "return_exceeds_sale"
    assert caught.value.status == 409


@pytest.mark.parametrize(
    ("sold", "quantity", "grams"),
    [
        (SoldLine(0, 3, None, 1000, 115), 0, None),
        (SoldLine(0, 3, None, 1000, 115), -1, None),
        (SoldLine(0, 3, None, 1000, 115), None, 100),
        (SoldLine(0, 1, 1500, 1800, 149), 1, None),
        (SoldLine(0, 1, 1500, 1800, 149), None, 0),
    ],
)
def test_malformed_returns_are_refused(
    sold: SoldLine, quantity: int | None, grams: int | None
) -> None:
    with pytest.raises(InvalidInput) as caught:
        refund_for_line(sold, quantity, grams)
    assert caught.value.code == "bad_return"
    assert caught.value.status == 400
