"""Returns, voids and exchanges over HTTP, against a recorded sale's receipt."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from edge.domain.errors import InvalidInput
from edge.domain.tenders import TenderInput
from edge.services.checkout import SaleRequest, fingerprint
from edge.services.returns import ReturnLine, ReturnRecord, ReturnRequest
from edge.web.api import Api, json_response, read_json
from edge.web.auth import actor, require
from edge.web.keys import CHECKOUT, DAYS, RETURNS, SETTINGS
from edge.web.sales import (
    BASKET_PROPERTIES,
    SALE_RESPONSE,
    TENDER_SCHEMA,
    UUID,
    approvals,
    basket_request,
    parse_receipt,
    return_json,
    sale_json,
)
from edge.web.schema import Schema

api = Api("returns")

RETURN_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "lines"],
    "properties": {
        "id": UUID,
        "sale": UUID,
        "receipt": {"type": ["string", "integer"], "maxLength": 48, "minimum": 1},
        "lines": {
            "type": "array",
            "minItems": 1,
            "maxItems": 500,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["index"],
                "properties": {
                    "index": {"type": "integer", "minimum": 0, "maximum": 499},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 9999},
                    "grams": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                    "restock": {"type": "boolean"},
                },
            },
        },
        "reason": {"type": "string", "maxLength": 120},
    },
}


VOID_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "reason"],
    "properties": {
        "id": UUID,
        "reason": {"type": "string", "minLength": 1, "maxLength": 120},
    },
}


RETURN_RESPONSE: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "receipt": {"type": "string"},
        "amount": {"type": "integer"},
        "refunds": {"type": "array"},
    },
}

EXCHANGE_SCHEMA: Schema = {
    **RETURN_SCHEMA,
    "required": ["id", "lines", "new"],
    "properties": {
        **RETURN_SCHEMA["properties"],
        "new": {
            "type": "object",
            "additionalProperties": False,
            "required": ["lines"],
            "properties": {
                **BASKET_PROPERTIES,
                "tenders": {"type": "array", "maxItems": 7, "items": TENDER_SCHEMA},
            },
        },
    },
}


def _return_request(
    request: web.Request,
    body: dict[str, Any],
    sale_id: str | None,
    receipt: int | None,
    *,
    void: bool,
    exchange: SaleRequest | None = None,
) -> ReturnRequest:
    """Build a return request from a validated body."""
    return ReturnRequest(
        id=body["id"].lower(),
        sale_id=sale_id,
        receipt_no=receipt,
        lines=tuple(
            ReturnLine(
                index=line["index"],
                quantity=line.get("quantity"),
                grams=line.get("grams"),
                restock=line.get("restock", True),
            )
            for line in body.get("lines", ())
        ),
        reason=body.get("reason", ""),
        void=void,
        fingerprint=fingerprint(body),
        actor=actor(request),
        exchange=exchange,
    )


def _original(request: web.Request, body: dict[str, Any]) -> tuple[str | None, int | None]:
    """Return the original sale named by id or by receipt number (exactly one)."""
    if ("sale" in body) == ("receipt" in body):
        raise InvalidInput("name the sale by its id or its receipt number", code="bad_return")
    if "receipt" in body:
        return None, parse_receipt(str(body["receipt"]), request.app[SETTINGS].store.id)
    return str(body["sale"]).lower(), None


def _answer(request: web.Request, record: ReturnRecord) -> web.Response:
    """Answer with the recorded return (and an exchange's sale): 201, replays marked."""
    body: dict[str, Any] = return_json(request, record.event)
    if record.sale is not None:
        body = {"return": body, "sale": sale_json(request, record.sale)}
    headers = {"Idempotent-Replayed": "true"} if record.replayed else {}
    return json_response(body, status=201, headers=headers)


@api.route(
    "POST",
    "/api/v1/returns",
    summary="Return part or all of a sale against its receipt (idempotent by id)",
    permission="sale.return",
    request=RETURN_SCHEMA,
    response=RETURN_RESPONSE,
    errors={404: "no such sale or line", 409: "more than is left of the line, id reused"},
)
async def create_return(request: web.Request) -> web.Response:
    """Refund returned goods to the original tenders."""
    body = await read_json(request, RETURN_SCHEMA)
    request.app[DAYS].check_hours()
    sale_id, receipt = _original(request, body)
    record = await request.app[RETURNS].return_items(
        _return_request(request, body, sale_id, receipt, void=False)
    )
    return _answer(request, record)


RETURNED_RESPONSE: Schema = {
    "type": "object",
    "properties": {
        "sale": {"type": "string"},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "product": {"type": "string"},
                    "quantity": {"type": "integer"},
                    "grams": {"type": ["integer", "null"]},
                    "amount": {"type": "integer"},
                    "returned_quantity": {"type": "integer"},
                    "returned_grams": {"type": "integer"},
                    "returned_amount": {"type": "integer"},
                    "left": {"type": "integer", "description": "pieces, or grams if weighed"},
                },
            },
        },
    },
}


@api.route(
    "GET",
    "/api/v1/sales/{sale_id}/returns",
    summary="What came back of each line of a sale so far, and what a return may still take",
    permission="sale.read",
    response=RETURNED_RESPONSE,
    errors={404: "no such sale"},
)
async def returned_so_far(request: web.Request) -> web.Response:
    """Return the sale's lines with the quantities or grams returned and left."""
    sale_id = request.match_info["sale_id"].lower()
    lines = await request.app[RETURNS].returned_lines(sale_id)
    return json_response({"sale": sale_id, "lines": lines})


@api.route(
    "POST",
    "/api/v1/sales/{sale_id}/void",
    summary="Void a whole sale (above auth.void_limit only with sale.void or an approval)",
    permission="sale.create",
    request=VOID_SCHEMA,
    response=RETURN_RESPONSE,
    errors={404: "no such sale", 409: "part of it was returned already"},
)
async def void_sale(request: web.Request) -> web.Response:
    """Reverse a sale in full."""
    body = await read_json(request, VOID_SCHEMA)
    request.app[DAYS].check_hours()
    sale_id = request.match_info["sale_id"].lower()
    sale = await request.app[CHECKOUT].sale_event(sale_id=sale_id)
    if sale.data["total"] > request.app[SETTINGS].auth.void_limit:
        await require(request, "sale.void", f"void {sale_id}")
    record = await request.app[RETURNS].return_items(
        _return_request(request, body, sale_id, None, void=True)
    )
    return _answer(request, record)


@api.route(
    "POST",
    "/api/v1/exchanges",
    summary="Exchange: return goods and take others, paying or refunding only the difference",
    permission="sale.return",
    request=EXCHANGE_SCHEMA,
    response={
        "type": "object",
        "properties": {"return": RETURN_RESPONSE, "sale": SALE_RESPONSE},
    },
    errors={
        402: "the difference could not be paid",
        404: "no such sale or line",
        409: "more than is left of a line, id reused",
        422: "the difference is not covered by the tenders",
    },
)
async def create_exchange(request: web.Request) -> web.Response:
    """Record a return and the new sale it pays for, in one ledger command."""
    body = await read_json(request, EXCHANGE_SCHEMA)
    request.app[DAYS].check_hours()
    sale_id, receipt = _original(request, body)
    new = body["new"]
    exchange = SaleRequest(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"exchange:{body['id'].lower()}")),
        basket=basket_request(new, await approvals(request, new)),
        tenders=tuple(
            TenderInput(t["kind"], t["amount"], t.get("presented"), t.get("code"))
            for t in new.get("tenders", ())
        ),
        fingerprint=fingerprint(body),
        actor=actor(request),
    )
    record = await request.app[RETURNS].return_items(
        _return_request(request, body, sale_id, receipt, void=False, exchange=exchange)
    )
    return _answer(request, record)
