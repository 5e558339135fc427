"""Refunds for returned goods: what part of a sold line's amount and tax goes back.

Refunds are cumulative-proportional: after returning `k` of `n` units (pieces or grams) the
customer has had round_half_up(amount * k / n) back in total, so partial returns in any number
of steps never refund more than the line and returning all of it refunds exactly its amount
and tax, to the minor unit.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.domain.errors import Conflict, InvalidInput
from edge.domain.rounding import div_round_half_up


@dataclass(frozen=True)
class SoldLine:
    """A sold line as returns see it: what was sold and paid, and what came back so far."""

    index: int
    quantity: int
    grams: int | None
    amount: int
    tax: int
    returned_quantity: int = 0
    returned_grams: int = 0
    returned_amount: int = 0
    returned_tax: int = 0


class ReturnExceedsSale(Conflict):
    """Raise when more would come back than is left of the line (HTTP 409)."""

    code = "return_exceeds_sale"


def refund_for_line(
    sold: SoldLine, quantity: int | None = None, grams: int | None = None
) -> tuple[int, int]:
    """Return (refund amount, refund tax) for returning pieces or grams of a sold line.

    A piece line takes `quantity`, a weighed line `grams`; None takes all that is left.
    """
    where = f"line {sold.index}"
    if sold.grams is not None:
        if quantity is not None:
            raise InvalidInput(f"{where} was weighed: return grams, not pieces", code="bad_return")
        total, done, wanted = sold.grams, sold.returned_grams, grams
    else:
        if grams is not None:
            raise InvalidInput(f"{where} was sold by piece: return pieces", code="bad_return")
        total, done, wanted = sold.quantity, sold.returned_quantity, quantity
    if wanted is not None and (isinstance(wanted, bool) or wanted < 1):
        raise InvalidInput(f"{where}: return at least 1, not {wanted}", code="bad_return")
    left = total - done
    take = left if wanted is None else wanted
    if take > left or take < 1:
        raise ReturnExceedsSale(
            f"{where}: {take} would come back but only {max(left, 0)} of {total} is left"
        )
    after = done + take
    amount = div_round_half_up(sold.amount * after, total) - sold.returned_amount
    tax = div_round_half_up(sold.tax * after, total) - sold.returned_tax
    return amount, tax
