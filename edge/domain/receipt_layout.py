"""Lay out a completed sale or a return (their event data) as a receipt document.

Pure: the same sale always gives the same document, so a reprint is identical to the first
print. Text is in the store's language (zh-CN or en); amounts in the currency's major unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from edge.protocol import receipt as r

LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "receipt": "小票号",
        "time": "时间",
        "till": "收银台",
        "cashier": "收银员",
        "member": "会员",
        "subtotal": "小计",
        "discounts": "优惠合计",
        "total": "应付",
        "rounding": "抹零",
        "change": "找零",
        "tax": "税额",
        "net": "不含税",
        "reprint": "重打小票",
        "thanks": "谢谢惠顾，欢迎再次光临",
        "e_receipt": "扫码查看电子小票",
        "cash": "现金",
        "card": "银行卡",
        "qr": "扫码支付",
        "stored_value": "储值卡",
        "coupon": "券",
        "points": "积分",
        "items": "件数",
        "refund_title": "退货单",
        "void_title": "作废单",
        "original": "原小票",
        "refunded": "退款合计",
        "reason": "原因",
        "signature": "顾客签名",
        "exchange": "换货抵扣",
        "restock": "退回库存",
    },
    "en": {
        "receipt": "Receipt",
        "time": "Time",
        "till": "Till",
        "cashier": "Cashier",
        "member": "Member",
        "subtotal": "Subtotal",
        "discounts": "Discounts",
        "total": "TOTAL",
        "rounding": "Rounding",
        "change": "Change",
        "tax": "Tax",
        "net": "Net",
        "reprint": "REPRINT",
        "thanks": "Thank you for shopping with us",
        "e_receipt": "Scan for your e-receipt",
        "cash": "Cash",
        "card": "Card",
        "qr": "QR wallet",
        "stored_value": "Stored value",
        "coupon": "Coupon",
        "points": "Points",
        "items": "Items",
        "refund_title": "REFUND",
        "void_title": "VOID",
        "original": "Original receipt",
        "refunded": "REFUNDED",
        "reason": "Reason",
        "signature": "Customer signature",
        "exchange": "Exchange credit",
        "restock": "back to stock",
    },
}


def money(amount: int, exponent: int = 2) -> str:
    """Format minor units as a plain decimal (e.g. -1050 -> '-10.50')."""
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 10**exponent)
    return f"{sign}{whole}.{part:0{exponent}d}" if exponent else f"{sign}{whole}"


def _quantity(line: Mapping[str, Any], exponent: int) -> str:
    """Describe the quantity and unit price of a line."""
    if line.get("grams") is not None:
        kg, grams = divmod(int(line["grams"]), 1000)
        return f"{kg}.{grams:03d} kg x {money(line['unit_price'], exponent)}/kg"
    return f"{line['quantity']} x {money(line['unit_price'], exponent)}"


def receipt_number(store: str, number: int) -> str:
    """Return the printed receipt number (store id and an 8-digit number)."""
    return f"{store}-{number:08d}"


def layout_sale(
    sale: Mapping[str, Any],
    *,
    store_name: str,
    store_id: str,
    ts: str,
    till: str | None,
    staff: str | None,
    timezone: str,
    locale: str,
    e_receipt_url: str | None,
    reprint: bool = False,
    extra_lines: Sequence[str] = (),
) -> dict[str, Any]:
    """Return the receipt document of a completed sale."""
    t = LABELS.get(locale, LABELS["en"])
    name_key = "name_zh" if locale == "zh-CN" else "name_en"
    exponent = int(sale.get("exponent", 2))
    when = datetime.fromisoformat(ts).astimezone(ZoneInfo(timezone))
    number = receipt_number(store_id, sale["receipt_no"])
    blocks: list[r.Block] = [r.image("logo"), r.text(store_name, align="center", bold=True, size=2)]
    if reprint:
        blocks.append(r.text(f"*** {t['reprint']} ***", align="center", bold=True))
    blocks += [
        r.columns(t["receipt"], number),
        r.columns(t["time"], when.strftime("%Y-%m-%d %H:%M:%S")),
    ]
    if till:
        blocks.append(r.columns(t["till"], till))
    if staff:
        blocks.append(r.columns(t["cashier"], staff))
    if sale.get("member"):
        blocks.append(r.columns(t["member"], str(sale.get("member_display") or sale["member"])))
    blocks.append(r.rule())
    items = 0
    for line in sale["lines"]:
        items += line["quantity"] if line.get("quantity") is not None else 1
        blocks.append(r.text(line[name_key]))
        blocks.append(r.columns("  " + _quantity(line, exponent), money(line["gross"], exponent)))
        blocks.extend(
            r.columns("  " + discount[name_key], money(-discount["amount"], exponent))
            for discount in line["discounts"]
        )
    blocks += [
        r.rule(),
        r.columns(t["items"], str(items)),
        r.columns(t["subtotal"], money(sale["subtotal"], exponent)),
    ]
    blocks.extend(
        r.columns(discount[name_key], money(-discount["amount"], exponent))
        for discount in sale.get("basket_discounts", ())
    )
    if sale["discount_total"]:
        blocks.append(r.columns(t["discounts"], money(-sale["discount_total"], exponent)))
    if sale.get("tax_mode") == "exclusive":
        blocks.append(r.columns(t["tax"], money(sale["tax_total"], exponent)))
    blocks.append(r.columns(t["total"], money(sale["total"], exponent), bold=True))
    if sale.get("rounding"):
        blocks.append(r.columns(t["rounding"], money(sale["rounding"], exponent)))
    for tender in sale["tenders"]:
        label = t.get(tender["kind"], tender["kind"])
        if tender.get("masked_pan"):
            label += f" {tender['masked_pan'][-4:]}"
        blocks.append(r.columns(label, money(tender["amount"], exponent)))
    if sale.get("change"):
        blocks.append(r.columns(t["change"], money(sale["change"], exponent), bold=True))
    if sale.get("points", {}).get("earned"):
        blocks.append(r.columns(t["points"], f"+{sale['points']['earned']}"))
    blocks.append(r.rule())
    for tax in sale["tax"]:
        rate = f"{tax['rate_bp'] / 100:g}%"
        blocks.append(
            r.columns(
                f"{t['tax']} {rate} ({t['net']} {money(tax['net'], exponent)})",
                money(tax["tax"], exponent),
            )
        )
    blocks.extend(r.text(extra, align="center") for extra in extra_lines)
    blocks += [r.feed(1), r.barcode(number, "CODE128")]
    if e_receipt_url:
        blocks += [r.qr(e_receipt_url), r.text(t["e_receipt"], align="center")]
    blocks += [r.text(t["thanks"], align="center"), r.feed(3), r.cut()]
    if not reprint and any(tender["kind"] == "cash" for tender in sale["tenders"]):
        blocks.append(r.drawer(2))
    return r.document(blocks)


def layout_return(
    ret: Mapping[str, Any],
    *,
    store_name: str,
    store_id: str,
    ts: str,
    till: str | None,
    staff: str | None,
    timezone: str,
    locale: str,
    reprint: bool = False,
) -> dict[str, Any]:
    """Return the receipt document of a return or void: what came back, what was paid out."""
    t = LABELS.get(locale, LABELS["en"])
    name_key = "name_zh" if locale == "zh-CN" else "name_en"
    exponent = int(ret.get("exponent", 2))
    when = datetime.fromisoformat(ts).astimezone(ZoneInfo(timezone))
    number = receipt_number(store_id, ret["receipt_no"])
    title = t["void_title"] if ret.get("void") else t["refund_title"]
    blocks: list[r.Block] = [
        r.text(store_name, align="center", bold=True, size=2),
        r.text(title, align="center", bold=True, size=2),
    ]
    if reprint:
        blocks.append(r.text(f"*** {t['reprint']} ***", align="center", bold=True))
    blocks += [
        r.columns(t["receipt"], number),
        r.columns(t["original"], receipt_number(store_id, ret["original_receipt_no"])),
        r.columns(t["time"], when.strftime("%Y-%m-%d %H:%M:%S")),
    ]
    if till:
        blocks.append(r.columns(t["till"], till))
    if staff:
        blocks.append(r.columns(t["cashier"], staff))
    blocks.append(r.rule())
    for line in ret["lines"]:
        blocks.append(r.text(line[name_key]))
        if line.get("grams"):
            kg, grams = divmod(int(line["grams"]), 1000)
            amount_text = f"{kg}.{grams:03d} kg"
        else:
            amount_text = f"{line['quantity']} x"
        if line.get("restock"):
            amount_text += f" ({t['restock']})"
        blocks.append(r.columns("  " + amount_text, money(-line["amount"], exponent)))
    blocks.append(r.rule())
    if ret.get("rounding"):
        blocks.append(r.columns(t["rounding"], money(-ret["rounding"], exponent)))
    blocks.append(r.columns(t["refunded"], money(-ret["amount"], exponent), bold=True))
    for refund in ret["refunds"]:
        kind = refund["kind"]
        label = t["exchange"] if kind == "exchange" else t.get(kind, kind)
        if refund.get("masked_pan"):
            label += f" {refund['masked_pan'][-4:]}"
        blocks.append(r.columns(label, money(-refund["amount"], exponent)))
    if ret.get("reason"):
        blocks.append(r.columns(t["reason"], str(ret["reason"])))
    blocks += [
        r.feed(2),
        r.text(f"{t['signature']}: ____________________"),
        r.feed(1),
        r.barcode(number, "CODE128"),
        r.feed(3),
        r.cut(),
    ]
    cash_out = any(
        refund["kind"] == "cash" or refund.get("paid_as") == "cash" for refund in ret["refunds"]
    )
    if cash_out and not reprint:
        blocks.append(r.drawer(2))
    return r.document(blocks)
