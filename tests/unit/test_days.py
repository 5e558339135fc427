"""Business hours and report sums (pure)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from edge.domain.days import parse_hours, totals_of
from edge.domain.errors import InvalidInput

SH = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def test_no_hours_means_always_open() -> None:
    assert parse_hours({}, []).open_at(at("2026-11-23T03:00"))


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        ("2026-11-23T19:59", False),  # Monday before opening
        ("2026-11-23T20:00", True),
        ("2026-11-24T01:59", True),  # Monday's hours run past midnight into Tuesday
        ("2026-11-24T02:00", False),
        ("2026-11-28T23:00", False),  # Saturday: no hours given, closed
        ("2026-11-28T00:30", True),  # Saturday 00:30 is still Friday night
        ("2026-11-29T00:30", False),  # Sunday 00:30 would be Saturday night: closed
    ],
)
def test_hours_past_midnight(moment: str, is_open: bool) -> None:
    week = dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), "20:00-02:00")
    hours = parse_hours(week, [])
    assert hours.open_at(at(moment)) is is_open


def test_holiday_closes_the_day_but_not_the_night_before() -> None:
    hours = parse_hours({"mon": "20:00-02:00", "tue": "08:00-22:00"}, ["2026-11-24"])
    assert hours.open_at(at("2026-11-24T01:00"))  # Monday night, running into the holiday
    assert not hours.open_at(at("2026-11-24T12:00"))


@pytest.mark.parametrize(
    ("week", "holidays"),
    [({"monday": "08:00-20:00"}, []), ({"mon": "8-20"}, []), ({"mon": "08:00-08:00"}, []),
     ({"mon": "08:00-20:00"}, ["2026-02-30"])],
)  # fmt: skip
def test_bad_hours_are_refused(week: dict[str, str], holidays: list[str]) -> None:
    with pytest.raises(InvalidInput):
        parse_hours(week, holidays)


def test_totals_of_a_sale_a_cash_refund_and_cash_moves() -> None:
    sale = {
        "lines": [{"quantity": 2}, {"quantity": 1}],
        "total": 1_000,
        "discount_total": 100,
        "rounding": 0,
        "tax": [{"rate_bp": 1300, "net": 885, "tax": 115, "gross": 1_000}],
        "tenders": [{"kind": "cash", "amount": 600}, {"kind": "card", "amount": 400}],
    }
    refund = {
        "void": False,
        "amount": 300,
        "rounding": 0,
        "lines": [{"amount": 300, "tax": 35, "tax_rate_bp": 1300}],
        "refunds": [{"kind": "cash", "amount": 300}],
    }
    totals = totals_of(
        [
            ("till.opened", {"float": 5_000}, "T1"),
            ("sale.completed", sale, "T1"),
            ("sale.returned", refund, "T1"),
            ("cash.moved", {"direction": "out", "amount": 1_000}, "T1"),
            ("till.closed", {"counted": 4_250}, "T1"),
            ("store.renamed", {"name": "x"}, None),
        ]
    ).to_data()
    assert totals["net_sales"] == 700 and totals["items"] == 3
    assert totals["tax"] == [{"rate_bp": 1300, "net": 620, "tax": 80, "gross": 700}]
    assert {t["kind"]: t["net"] for t in totals["tenders"]} == {"card": 400, "cash": 300}
    drawer = totals["drawers"]["T1"]
    assert (drawer["expected"], drawer["over_short"]) == (4_300, -50)
    assert totals["over_short"] == -50
