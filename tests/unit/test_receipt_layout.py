"""Receipt documents: a sale laid out in both languages, and the document checker."""

from __future__ import annotations

from typing import Any

import pytest

from edge.domain.receipt_layout import layout_return, layout_sale, money, receipt_number
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


RETURN = {
    "receipt_no": 12,
    "original_receipt_no": 9,
    "void": False,
    "reason": "坏了 broken",
    "exponent": 2,
    "lines": [
        {"name_zh": "牛奶", "name_en": "Milk", "quantity": 1, "grams": None, "amount": 650,
         "tax": 54, "tax_rate_bp": 900, "restock": True},
        {"name_zh": "苹果", "name_en": "Apple", "quantity": 0, "grams": 500, "amount": 640,
         "tax": 53, "tax_rate_bp": 900, "restock": False},
    ],
    "amount": 1_290,
    "rounding": 0,
    "refunds": [{"tender": 0, "kind": "cash", "amount": 1_290}],
}  # fmt: skip


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_return_layout_is_valid_and_opens_the_drawer_for_cash(locale: str) -> None:
    doc = layout_return(
        RETURN, store_name="Store", store_id="S1", ts="2026-11-23T02:00:00.000+00:00",
        till="T01", staff="S01", timezone="Asia/Shanghai", locale=locale,
    )  # fmt: skip
    assert check_document(doc) == []
    kinds = [b["kind"] for b in doc["blocks"]]
    assert kinds[-1] == "drawer" and "cut" in kinds
    rights = [b.get("right") for b in doc["blocks"] if b["kind"] == "columns"]
    assert "S1-00000009" in rights and "-12.90" in rights
    lefts = " ".join(str(b.get("left", "")) + str(b.get("text", "")) for b in doc["blocks"])
    assert "0.500 kg" in lefts
    assert ("退货单" if locale == "zh-CN" else "REFUND") in lefts


def test_a_reprinted_void_says_so_and_keeps_the_drawer_shut() -> None:
    void = RETURN | {"void": True, "refunds": [{"tender": 0, "kind": "card", "amount": 1_290,
                                                 "masked_pan": "411111******1111"}]}  # fmt: skip
    doc = layout_return(
        void, store_name="Store", store_id="S1", ts="2026-11-23T02:00:00.000+00:00",
        till=None, staff=None, timezone="Asia/Shanghai", locale="en", reprint=True,
    )  # fmt: skip
    texts = [b.get("text") for b in doc["blocks"] if b["kind"] == "text"]
    assert "VOID" in texts and "*** REPRINT ***" in texts
    assert "drawer" not in [b["kind"] for b in doc["blocks"]]
    assert any(b.get("left") == "Card 1111" for b in doc["blocks"])
