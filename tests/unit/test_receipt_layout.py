"""Receipt documents: a sale laid out in both languages, and the document checker."""

from __future__ import annotations

from typing import Any

import pytest

from edge.domain.receipt_layout import layout_sale, money, receipt_number
from edge.protocol.receipt import check_document

SALE: dict[str, Any] = {
    "receipt_no": 42,
    "member": "M001",
    "member_display": "138****8000",
    "lines": [
        {
            "name_zh": "苹果",
            "name_en": "Apple",
            "grams": 1250,
            "quantity": None,
            "unit_price": 1280,
            "gross": 1600,
            "discounts": [],
        },
        {
            "name_zh": "牛奶",
            "name_en": "Milk",
            "grams": None,
            "quantity": 2,
            "unit_price": 650,
            "gross": 1300,
            "discounts": [{"name_zh": "第二件半价", "name_en": "2nd half price", "amount": 325}],
        },
    ],
    "subtotal": 2900,
    "discount_total": 325,
    "total": 2575,
    "rounding": -5,
    "tenders": [
        {"kind": "card", "amount": 1000, "masked_pan": "411111******1111"},
        {"kind": "cash", "amount": 2000},
    ],
    "change": 430,
    "tax": [{"rate_bp": 900, "net": 2362, "tax": 213}],
}


def layout(locale: str, **kw: Any) -> dict[str, Any]:
    return layout_sale(
        SALE,
        store_name="静安店",
        store_id="SH-0042",
        ts="2026-11-22T02:05:00.000+00:00",
        till="T01",
        staff="E007",
        timezone="Asia/Shanghai",
        locale=locale,
        e_receipt_url="http://edge.local/r/abc",
        **kw,
    )


def texts(doc: dict[str, Any]) -> str:
    parts = []
    for b in doc["blocks"]:
        parts += [str(b.get(k, "")) for k in ("text", "left", "right", "data")]
    return "\n".join(parts)


def test_money_formatting() -> None:
    assert [money(0), money(5), money(-1050), money(123456)] == [
        "0.00",
        "0.05",
        "-10.50",
        "1234.56",
    ]
    assert receipt_number("SH-0042", 42) == "SH-0042-00000042"


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_sale_layout_is_valid_and_complete(locale: str) -> None:
    doc = layout(locale)
    assert check_document(doc) == []
    body = texts(doc)
    assert "SH-0042-00000042" in body
    assert "2026-11-22 10:05:00" in body  # Shanghai time
    assert "1.250 kg x 12.80/kg" in body
    assert "-3.25" in body
    assert "25.75" in body and "4.30" in body
    assert ("第二件半价" if locale == "zh-CN" else "2nd half price") in body
    kinds = [b["kind"] for b in doc["blocks"]]
    assert kinds.count("cut") == 1
    assert "drawer" in kinds  # paid partly in cash
    assert {"barcode", "qr"} <= set(kinds)
    assert "411111******1111" not in body and "1111" in body


def test_reprint_is_marked_and_does_not_open_the_drawer() -> None:
    doc = layout("en", reprint=True)
    assert "REPRINT" in texts(doc)
    assert "drawer" not in [b["kind"] for b in doc["blocks"]]


@pytest.mark.parametrize(
    "doc",
    [
        None,
        {"version": 2, "blocks": [{"kind": "cut"}]},
        {"version": 1, "blocks": []},
        {"version": 1, "blocks": [{"kind": "text", "text": "x", "align": "middle"}]},
        {"version": 1, "blocks": [{"kind": "barcode", "symbology": "PDF417", "data": "x"}]},
        {"version": 1, "blocks": [{"kind": "laser"}]},
        {"version": 1, "blocks": [{"kind": "text", "text": "x" * 600}]},
        {"version": 1, "blocks": ["cut"]},
    ],
)
def test_check_document_refuses_what_a_driver_cannot_render(doc: Any) -> None:
    assert check_document(doc)
