"""Split tenders, cash rounding and change."""

from __future__ import annotations

import pytest

from edge.domain.errors import DomainError, InvalidInput
from edge.domain.tenders import TenderInput, currency_exponent, plan_tenders


def test_cash_gives_change_after_card() -> None:
    plan = plan_tenders(3195, [TenderInput("card", 1000), TenderInput("cash", 5000)])
    assert [(t.kind, t.amount) for t in plan.tenders] == [("card", 1000), ("cash", 2195)]
    assert (plan.cash_tendered, plan.change, plan.rounding, plan.due) == (5000, 2805, 0, 3195)


@pytest.mark.parametrize(
    ("mode", "cash_due", "rounding"),
    [("half_up", 2200, 5), ("down", 2190, -5), ("up", 2200, 5)],
)
def test_cash_rounding_modes(mode: str, cash_due: int, rounding: int) -> None:
    plan = plan_tenders(
        3195,
        [TenderInput("card", 1000), TenderInput("cash", 5000)],
        10,
        mode,  # type: ignore[arg-type]
    )
    assert plan.tenders[1].amount == cash_due
    assert (plan.rounding, plan.change, plan.due) == (rounding, 5000 - cash_due, 3195 + rounding)


def test_exact_electronic_payment_needs_no_cash() -> None:
    plan = plan_tenders(1200, [TenderInput("qr", 200), TenderInput("card", 1000)])
    assert (plan.change, plan.rounding, plan.due) == (0, 0, 1200)


@pytest.mark.parametrize(
    ("total", "tenders", "code"),
    [
        (1000, [TenderInput("cash", 999)], "tender_short"),
        (1000, [TenderInput("card", 500)], "tender_short"),
        (1000, [], "tender_short"),
        (1000, [TenderInput("card", 1001)], "overpaid"),
        (1000, [TenderInput("card", 1000), TenderInput("cash", 100)], "overpaid"),
        (1000, [TenderInput("cash", 600), TenderInput("cash", 600)], "bad_tender"),
        (1000, [TenderInput("cheque", 1000)], "bad_tender"),
        (1000, [TenderInput("cash", 0)], "bad_tender"),
        (1000, [TenderInput("coupon", 1000)], "bad_tender"),
        (1000, [TenderInput("card", 1)] * 9, "too_many_tenders"),
    ],
)
def test_refused_tenders(total: int, tenders: list[TenderInput], code: str) -> None:
    with pytest.raises(DomainError) as caught:
        plan_tenders(total, tenders)
    assert caught.value.code == code
    assert caught.value.status in (400, 422)
    assert isinstance(caught.value, InvalidInput) == (caught.value.status == 400)


def test_nothing_due_needs_no_tender_and_exponents() -> None:
    assert plan_tenders(0, []).due == 0
    assert (currency_exponent("CNY"), currency_exponent("JPY"), currency_exponent("KWD")) == (
        2,
        0,
        3,
    )
