"""Stock over HTTP: adjustments with a reason, goods received, stock on hand, its history."""

from __future__ import annotations

from aiohttp import web

from edge.services import inventory
from edge.web.api import Api, query_param, read_json
from edge.web.auth import actor
from edge.web.keys import LEDGER
from edge.web.sales import UUID
from edge.web.schema import Schema

api = Api("inventory")

_ITEM: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["product", "quantity"],
    "properties": {
        "product": {"type": "string", "minLength": 1, "maxLength": 40},
        "quantity": {"type": "integer", "minimum": -10_000_000, "maximum": 10_000_000},
    },
}
ADJUSTMENT_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "reason", "items"],
    "properties": {
        "id": UUID,
        "reason": {"enum": list(inventory.ADJUSTMENT_REASONS)},
        "items": {"type": "array", "minItems": 1, "maxItems": 500, "items": _ITEM},
        "note": {"type": "string", "maxLength": 200},
    },
}
RECEIPT_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "items"],
    "properties": {
        "id": UUID,
        "supplier": {"type": ["string", "null"], "maxLength": 60},
        "document": {"type": ["string", "null"], "maxLength": 60},  # the delivery note number
        "items": {"type": "array", "minItems": 1, "maxItems": 2000, "items": _ITEM},
        "note": {"type": "string", "maxLength": 200},
    },
}
STOCK_QUERY: dict[str, Schema] = {
    "product": {"type": "string", "minLength": 1, "maxLength": 40},
    "below": {"type": "integer", "minimum": -10_000_000, "maximum": 10_000_000},
}
MOVES_QUERY: dict[str, Schema] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
}


async def _move(request: web.Request, kind: str, schema: Schema) -> web.Response:
    """Record a stock movement; 201 the first time, 200 for a retry."""
    body = await read_json(request, schema)
    moved = await inventory.move_stock(
        request.app[LEDGER], body["id"].lower(), kind, body, actor(request)
    )
    return web.json_response(moved, status=200 if moved["replayed"] else 201)


@api.route(
    "POST",
    "/api/v1/stock/adjustments",
    summary="Adjust stock with a reason (damage, theft, expiry, found, correction, own use)",
    permission="stock.adjust",
    request=ADJUSTMENT_SCHEMA,
    errors={404: "unknown product", 409: "the id was used for another movement"},
)
async def adjust(request: web.Request) -> web.Response:
    """Record an adjustment (signed quantities)."""
    return await _move(request, "adjustment", ADJUSTMENT_SCHEMA)


@api.route(
    "POST",
    "/api/v1/stock/receipts",
    summary="Record goods received from a supplier (idempotent by id)",
    permission="stock.receive",
    request=RECEIPT_SCHEMA,
    errors={404: "unknown product", 409: "the id was used for another movement"},
)
async def receive(request: web.Request) -> web.Response:
    """Record goods received (positive quantities)."""
    return await _move(request, "receiving", RECEIPT_SCHEMA)


@api.route(
    "GET",
    "/api/v1/stock",
    summary="Stock on hand per product (?product= one, ?below= those under a level)",
    permission="catalog.read",
    query=STOCK_QUERY,
    errors={404: "unknown product"},
)
async def levels(request: web.Request) -> web.Response:
    """Return stock levels."""
    product = query_param(request, "product", STOCK_QUERY["product"])
    below = query_param(request, "below", STOCK_QUERY["below"])
    return web.json_response(
        {"stock": await inventory.stock_levels(request.app[LEDGER], product, below=below)}
    )


@api.route(
    "GET",
    "/api/v1/stock/{product}/movements",
    summary="A product's latest stock movements, newest first",
    permission="catalog.read",
    query=MOVES_QUERY,
)
async def history(request: web.Request) -> web.Response:
    """Return a product's movements."""
    limit = query_param(request, "limit", MOVES_QUERY["limit"])
    moves = await inventory.movements(request.app[LEDGER], request.match_info["product"], limit)
    return web.json_response({"movements": moves})
