"""Report maths: ranges, local hours, netting returns, averages, margins and CSV."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from edge.domain import reports as r
from edge.domain.errors import InvalidInput

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 24)


def line(index: int, product: str, amount: int, tax: int, **extra: Any) -> dict[str, Any]:
    return {
        "index": index,
        "product": product,
        "name_zh": product,
        "name_en": product,
        "category": extra.pop("category", "drinks"),
        "quantity": extra.pop("quantity", 1),
        "grams": extra.pop("grams", None),
        "amount": amount,
        "tax": tax,
        "tax_rate_bp": 1300,
        "discounts": extra.pop("discounts", []),
    }


def sale(seq: int, ts: str, lines: list[dict[str, Any]], **extra: Any) -> r.SaleFact:
    total = sum(ln["amount"] for ln in lines)
    tax = sum(ln["tax"] for ln in lines)
    data = {
        "sale": f"s{seq}",
        "lines": lines,
        "basket_discounts": extra.get("basket_discounts", []),
        "total": total,
        "discount_total": extra.get("discount_total", 0),
        "tax_total": tax,
        "tax": [{"rate_bp": 1300, "net": total - tax, "tax": tax, "gross": total}],
        "tenders": extra.get("tenders", [{"kind": "cash", "amount": total}]),
    }
    return r.fact((seq, r.SALE, ts, "T01", "C01"), data, SHANGHAI)


def give_back(seq: int, ts: str, of: r.SaleFact, lines: list[dict[str, Any]]) -> r.SaleFact:
    amount = sum(ln["amount"] for ln in lines)
    data = {
        "sale": of.data["sale"],
        "lines": lines,
        "amount": amount,
        "rounding": 0,
        "tax": sum(ln["tax"] for ln in lines),
        "refunds": [{"kind": "cash", "amount": amount, "tender": 0}],
    }
    sold = {ln["index"]: ln for ln in of.data["lines"]}
    return r.fact((seq, r.RETURN, ts, "T01", "S01"), data, SHANGHAI, sold)


def test_range_defaults_and_limits() -> None:
    assert r.parse_range(None, None, TODAY) == (TODAY, TODAY)
    assert r.parse_range("2026-11-01", None, TODAY) == (date(2026, 11, 1), date(2026, 11, 1))
    assert r.parse_range(None, "2026-11-02", TODAY) == (date(2026, 11, 2), date(2026, 11, 2))
    assert r.parse_range("2025-11-24", "2026-11-24", TODAY)[0] == date(2025, 11, 24)  # 366 days
    for start, end, code in (
        ("2026-02-30", None, "bad_date"),
        ("2026-11-2", None, "bad_date"),
        ("2026-11-03", "2026-11-02", "bad_range"),
        ("2025-11-23", "2026-11-24", "range_too_large"),
    ):
        with pytest.raises(InvalidInput) as err:
            r.parse_range(start, end, TODAY)
        assert err.value.code == code


def test_local_hours_and_days_in_the_store_zone() -> None:
    late = sale(1, "2026-11-23T15:50:00.000+00:00", [line(0, "COKE", 300, 35)])  # 23:50 local
    early = sale(2, "2026-11-23T16:10:00.000+00:00", [line(0, "COKE", 600, 69)])  # 00:10
    daily = r.daily([late, early], date(2026, 11, 23), date(2026, 11, 25))
    assert [(row["date"], row["sales"]) for row in daily.rows] == [
        ("2026-11-23", 1),
        ("2026-11-24", 1),
        ("2026-11-25", 0),
    ]
    hours = {row["hour"]: row["net"] for row in r.hourly([late, early]).rows if row["sales"]}
    assert hours == {23: 300, 0: 600}


def test_returns_net_against_the_original_category_and_tender() -> None:
    sold = sale(1, "2026-11-23T02:00:00+00:00", [line(0, "MILK", 1300, 115, category="dairy",
                                                      quantity=2)])  # fmt: skip
    back = give_back(2, "2026-11-24T02:00:00+00:00", sold, [line(0, "MILK", 650, 57,
                                                                 category=None)])  # fmt: skip
    cats = r.by_category([sold, back]).rows
    assert cats == [
        {"category": "dairy", "quantity": 1, "grams": 0, "net": 650, "tax": 58, "share_bp": 10000}
    ]
    tenders = r.by_tender([sold, back]).rows
    assert tenders == [{"kind": "cash", "count": 1, "taken": 1300, "refunded": 650, "net": 650}]
    day = r.daily([sold, back], date(2026, 11, 24), date(2026, 11, 24)).rows[0]
    assert (day["sales"], day["returns"], day["net"]) == (0, 1, -650)


def test_average_and_ratio_round_half_up() -> None:
    assert r.average(1000, 3) == 333
    assert r.average(1001, 2) == 501
    assert r.average(5, 0) == 0
    assert r.ratio_bp(1, 3) == 3333
    assert r.ratio_bp(1, 0) == 0


def test_margin_per_piece_and_per_kg() -> None:
    apple = line(0, "APPLE", 640, 53, grams=500, quantity=1)
    coke = line(1, "COKE", 600, 69, quantity=2)
    facts = [sale(1, "2026-11-23T02:00:00+00:00", [apple, coke])]
    margin = r.gross_margin(facts, {"APPLE": (700, True), "COKE": (180, False)})
    rows = {row["product"]: row for row in margin.rows}
    assert (rows["APPLE"]["cost"], rows["COKE"]["cost"]) == (350, 360)
    assert rows["COKE"]["margin"] == 600 - 69 - 360
    assert margin.totals["margin"] == rows["APPLE"]["margin"] + rows["COKE"]["margin"]


def test_discounts_by_promotion_count_each_sale_once() -> None:
    off = {"kind": "percent", "promotion": "P1", "name_zh": "九折", "name_en": "10% off"}
    lines = [
        line(0, "A", 900, 0, discounts=[off | {"amount": 100}]),
        line(1, "B", 900, 0, discounts=[off | {"amount": 100}]),
    ]
    table = r.by_promotion([sale(1, "2026-11-23T02:00:00+00:00", lines)])
    assert table.rows[0] | {} == {**off, "promotion": "P1", "sales": 1, "amount": 200}


def test_csv_has_a_header_and_empty_cells_for_none() -> None:
    table = r.Table("t", ("a", "b"), [{"a": 1, "b": None}, {"a": "x,y", "b": 2}])
    assert r.render_csv(table) == 'a,b\r\n1,\r\n"x,y",2\r\n'
