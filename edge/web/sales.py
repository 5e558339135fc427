"""Checkout HTTP API: price a basket, complete a sale, look it up by id or receipt number."""

from __future__ import annotations

from json.encoder import encode_basestring
from time import perf_counter
from typing import Any

from aiohttp import web

from edge.domain.errors import Conflict, InvalidInput, NotFound
from edge.domain.pricing import ManualDiscount, PriceOverride
from edge.domain.receipt_layout import receipt_number
from edge.domain.tenders import TENDER_KINDS, TenderInput
from edge.metrics import METRICS
from edge.protocol.chain import Event, canonical_text
from edge.services.basket import BasketRequest, LineRequest
from edge.services.checkout import SaleRecord, SaleRequest, fingerprint
from edge.web.api import Api, compact_json, json_response, json_text_response, read_json
from edge.web.auth import actor, require
from edge.web.keys import CHECKOUT, DAYS, DEVICES, SETTINGS
from edge.web.schema import Schema

api = Api("sales")

UUID: Schema = {
    "type": "string",
    "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
}
_MONEY: Schema = {"type": "integer", "minimum": 1, "maximum": 100_000_000}
DISCOUNT_SCHEMA: Schema = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "properties": {
        "percent_bp": {"type": "integer", "minimum": 1, "maximum": 10_000},
        "amount": _MONEY,
        "reason": {"type": "string", "maxLength": 80},
    },
}
OVERRIDE_SCHEMA: Schema = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "required": ["unit_price", "reason"],
    "properties": {
        "unit_price": {"type": "integer", "minimum": 0, "maximum": 100_000_000},
        "reason": {"type": "string", "minLength": 1, "maxLength": 80},
    },
}
LINE_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "code": {"type": "string", "minLength": 1, "maxLength": 48},
        "product": {"type": "string", "minLength": 1, "maxLength": 40},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 9999},
        "grams": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "scale": {"type": "string", "minLength": 1, "maxLength": 48},  # weigh on this scale now
        "override": OVERRIDE_SCHEMA,
        "discount": DISCOUNT_SCHEMA,
    },
}
BASKET_PROPERTIES: dict[str, Schema] = {
    "lines": {"type": "array", "minItems": 1, "maxItems": 500, "items": LINE_SCHEMA},
    "member": {"type": ["string", "null"], "minLength": 1, "maxLength": 40},
    "coupons": {
        "type": "array",
        "maxItems": 10,
        "items": {"type": "string", "minLength": 1, "maxLength": 32},
    },
    "discount": DISCOUNT_SCHEMA,
}
BASKET_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["lines"],
    "properties": BASKET_PROPERTIES,
}
TENDER_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "amount"],
    "properties": {
        "kind": {"enum": list(TENDER_KINDS)},
        "amount": _MONEY,
        "presented": {"type": "string", "maxLength": 64},
        "code": {"type": "string", "minLength": 1, "maxLength": 32},
    },
}
SALE_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "lines", "tenders"],
    "properties": {
        "id": UUID,
        **BASKET_PROPERTIES,
        "tenders": {"type": "array", "maxItems": 8, "items": TENDER_SCHEMA},
    },
}
SALE_RESPONSE: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "receipt_no": {"type": "integer"},
        "receipt": {"type": "string"},
        "total": {"type": "integer"},
        "change": {"type": "integer"},
        "lines": {"type": "array"},
        "tenders": {"type": "array"},
        "tax": {"type": "array"},
        "e_receipt_url": {"type": "string"},
    },
}
PRICED_SCHEMA: Schema = {
    "type": "object",
    "properties": {
        "lines": {"type": "array"},
        "subtotal": {"type": "integer"},
        "discount_total": {"type": "integer"},
        "total": {"type": "integer"},
        "tax": {"type": "array"},
    },
}
HIDDEN = ("request_hash", "token")


def _discount(
    raw: dict[str, Any] | None, where: str, approved_by: str | None
) -> ManualDiscount | None:
    """Read a manual discount; exactly one of percent_bp and amount."""
    if raw is None:
        return None
    if ("percent_bp" in raw) == ("amount" in raw):
        raise InvalidInput(f"{where}: give percent_bp or amount", code="bad_discount")
    return ManualDiscount(
        percent_bp=raw.get("percent_bp"),
        amount=raw.get("amount"),
        reason=raw.get("reason", ""),
        approved_by=approved_by,
    )


def weigh_lines(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """Fill `grams` of lines that name a scale from that scale's last stable weight.

    The scale must be bound to the caller's till and its reading stable and above zero: only
    a stable, in-range weight prices goods.
    """
    if not any("scale" in line for line in body["lines"]):
        return body
    center = request.app[DEVICES]
    till = actor(request).till
    lines = []
    for index, line in enumerate(body["lines"]):
        if "scale" not in line:
            lines.append(line)
            continue
        where = f"lines[{index}]"
        if "grams" in line:
            raise InvalidInput(f"{where}: give grams or a scale, not both", code="bad_line")
        device = center.device(line["scale"])
        if device.type != "scale" or device.till != till:
            raise Conflict(f"{where}: {device.id} is not a scale of till {till}",
                           code="scale_not_bound")  # fmt: skip
        reading = center.weight(device.id)
        if reading is None:
            raise NotFound(f"{where}: {device.id} has no current weight", code="no_weight")
        if not reading["stable"] or reading["grams"] <= 0:
            raise Conflict(f"{where}: {device.id} has no stable weight above zero",
                           code="unstable_weight")  # fmt: skip
        lines.append({k: v for k, v in line.items() if k != "scale"} | {"grams": reading["grams"]})
    return {**body, "lines": lines}


def basket_request(body: dict[str, Any], approved_by: str | None = None) -> BasketRequest:
    """Turn a validated basket body into a request.

    `approved_by` is who allowed its price overrides and manual discounts (see `approvals`).
    """
    lines = []
    for index, raw in enumerate(body["lines"]):
        if ("code" in raw) == ("product" in raw):
            raise InvalidInput(f"lines[{index}]: give a code or a product id", code="bad_line")
        override = raw.get("override")
        lines.append(
            LineRequest(
                code=raw.get("code"),
                product=raw.get("product"),
                quantity=raw.get("quantity"),
                grams=raw.get("grams"),
                override=None
                if override is None
                else PriceOverride(**override, approved_by=approved_by or ""),
                discount=_discount(raw.get("discount"), f"lines[{index}].discount", approved_by),
            )
        )
    return BasketRequest(
        lines=tuple(lines),
        member=body.get("member"),
        coupons=tuple(body.get("coupons", ())),
        discount=_discount(body.get("discount"), "discount", approved_by),
    )


async def approvals(request: web.Request, body: dict[str, Any]) -> str | None:
    """Check the permissions a basket's overrides and manual discounts need.

    Return who allowed them: the approving supervisor, or the caller when their own role
    allows it (None when the basket has neither).
    """
    lines = body.get("lines", ())
    needs = []
    if any(line.get("override") for line in lines):
        needs.append("price.override")
    if body.get("discount") or any(line.get("discount") for line in lines):
        needs.append("discount.manual")
    allowed_by = None
    for permission in needs:
        approver = await require(request, permission, f"{request.method} {request.path}")
        allowed_by = approver or actor(request).staff
    return allowed_by


def base_url(request: web.Request) -> str:
    """Return the URL e-receipts are published under."""
    configured = request.app[SETTINGS].checkout.e_receipt_base_url
    return configured.rstrip("/") if configured else f"{request.scheme}://{request.host}"


def _sale_head(request: web.Request, event: Event) -> dict[str, Any]:
    """Return the fields a sale's answer shows besides its event data."""
    data = event.data
    return {
        "id": data["sale"],
        "receipt": receipt_number(request.app[SETTINGS].store.id, data["receipt_no"]),
        "seq": event.seq,
        "ts": event.ts,
        "till": event.till,
        "staff": event.staff,
        "e_receipt_url": f"{base_url(request)}/r/{data['token']}",
    }


def sale_json(request: web.Request, event: Event) -> dict[str, Any]:
    """Return a recorded sale as the API shows it."""
    shown = {k: v for k, v in event.data.items() if k not in HIDDEN}
    return _sale_head(request, event) | shown


def sale_response(
    request: web.Request,
    record: SaleRecord,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """Answer a sale as `sale_json` shows it.

    A sale just recorded is answered from its event data's canonical text (the hidden fields
    cut out, the sale's own fields put in front) instead of serialising the whole sale again:
    the same fields and values, in another order.
    """
    event, text = record.event, record.data_json
    data = event.data
    head = _sale_head(request, event)
    if text is not None and head.keys().isdisjoint(data):
        for key in HIDDEN:
            if key in data:
                piece = f",{encode_basestring(key)}:{canonical_text(data[key])}"
                cut = text.replace(piece, "", 1)
                if len(cut) != len(text) - len(piece):
                    break  # not where the canonical order puts it: serialise it all
                text = cut
        else:
            front = compact_json(head)
            body = front if text == "{}" else f"{front[:-1]},{text[1:]}"
            return json_text_response(body, status=status, headers=headers)
    shown = {k: v for k, v in data.items() if k not in HIDDEN}
    return json_response(head | shown, status=status, headers=headers)


def return_json(request: web.Request, event: Event) -> dict[str, Any]:
    """Return a recorded return as the API shows it."""
    data = event.data
    store = request.app[SETTINGS].store.id
    return {
        "id": data["return"],
        "receipt": receipt_number(store, data["receipt_no"]),
        "original_receipt": receipt_number(store, data["original_receipt_no"]),
        "seq": event.seq,
        "ts": event.ts,
        "till": event.till,
        "staff": event.staff,
        **{k: v for k, v in data.items() if k not in HIDDEN},
    }


@api.route(
    "POST",
    "/api/v1/baskets/price",
    summary="Price a basket on the server without recording anything",
    permission="sale.create",
    request=BASKET_SCHEMA,
    response=PRICED_SCHEMA,
    errors={404: "unknown barcode, product or member", 409: "weight problems", 422: "refused"},
)
async def price_basket(request: web.Request) -> web.Response:
    """Return the priced basket (lines, discounts with their reasons, tax, total)."""
    body = await read_json(request, BASKET_SCHEMA)
    weighed = weigh_lines(request, body)
    preview = basket_request(weighed, actor(request).staff or "preview")  # approval at the sale
    priced = await request.app[CHECKOUT].price(preview)
    center = request.app[DEVICES]
    if center.sender is not None and center.bound(actor(request).till, "display") is not None:
        await center.show(actor(request).till, center.basket_lines(priced))
    return json_response(priced)


@api.route(
    "POST",
    "/api/v1/sales",
    summary="Complete a sale (idempotent by its client-generated id)",
    permission="sale.create",
    request=SALE_SCHEMA,
    response=SALE_RESPONSE,
    errors={
        402: "payment declined or timed out, or not enough stored value",
        404: "unknown barcode, product or member",
        409: "the id was used with another body, a voucher was used, weight problems",
        422: "tenders short of the total or overpaid, invalid coupon",
    },
)
async def create_sale(request: web.Request) -> web.Response:
    """Record a sale; a retry with the same id and body returns the same sale."""
    started = perf_counter()
    body = await read_json(request, SALE_SCHEMA)
    request.app[DAYS].check_hours()
    approved_by = await approvals(request, body)
    tenders = tuple(
        TenderInput(t["kind"], t["amount"], t.get("presented"), t.get("code"))
        for t in body["tenders"]
    )
    sale = SaleRequest(
        id=body["id"].lower(),
        basket=basket_request(weigh_lines(request, body), approved_by),
        tenders=tenders,
        fingerprint=fingerprint(body),  # the body as sent: a retry matches whatever it weighs
        actor=actor(request),
    )

    def answer(record: SaleRecord) -> web.Response:  # built while the sale's COMMIT runs
        headers = {"Idempotent-Replayed": "true"} if record.replayed else {}
        return sale_response(request, record, status=201, headers=headers)

    response = await request.app[CHECKOUT].complete_sale_then(sale, answer)
    request.app[METRICS].sale_seconds.observe(perf_counter() - started)
    return response


@api.route(
    "GET",
    "/api/v1/sales/{sale_id}",
    summary="A recorded sale",
    permission="sale.read",
    response=SALE_RESPONSE,
    errors={404: "no such sale"},
)
async def get_sale(request: web.Request) -> web.Response:
    """Return a sale by its id."""
    event = await request.app[CHECKOUT].sale_event(sale_id=request.match_info["sale_id"].lower())
    return json_response(sale_json(request, event))


def parse_receipt(text: str, store: str) -> int:
    """Read a receipt number as printed (STORE-00000042) or as a plain number."""
    number = text[len(store) + 1 :] if text.startswith(store + "-") else text
    if not number.isascii() or not number.isdigit() or not 0 < len(number) <= 12:
        raise InvalidInput(f"{text!r} is not a receipt number of this store", code="bad_receipt")
    return int(number)


@api.route(
    "GET",
    "/api/v1/receipts/{receipt}",
    summary="A sale by its printed receipt number (for returns and reprints)",
    permission="sale.read",
    response=SALE_RESPONSE,
    errors={404: "no sale with that receipt number"},
)
async def get_by_receipt(request: web.Request) -> web.Response:
    """Return a sale by receipt number."""
    number = parse_receipt(request.match_info["receipt"], request.app[SETTINGS].store.id)
    event = await request.app[CHECKOUT].sale_event(receipt_no=number)
    return json_response(sale_json(request, event))
