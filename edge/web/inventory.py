"""Stock over HTTP: adjustments with a reason, goods received, stock on hand, its history."""

from __future__ import annotations

import csv
import io

from aiohttp import web

from edge.domain.errors import InvalidInput
from edge.services import inventory
from edge.services.catalog import resolve_scan
from edge.web.api import Api, json_response, query_param, read_json
from edge.web.auth import actor
from edge.web.keys import CHECKOUT, LEDGER, SETTINGS
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
        "lot": {"type": "string", "minLength": 1, "maxLength": 40},
        "expires": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
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
        "purchase_order": UUID,  # the order this delivery answers (over/under shown)
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
    return json_response(moved, status=200 if moved["replayed"] else 201)


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
    return json_response(
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
    return json_response({"movements": moves})


COUNT_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id"],
    "properties": {
        "id": UUID,
        "category": {"type": ["string", "null"], "minLength": 1, "maxLength": 40},
        "note": {"type": "string", "maxLength": 200},
    },
}
ENTRY_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["items"],
    "properties": {
        "mode": {"enum": ["add", "set"]},
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": 2000,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "product": {"type": "string", "minLength": 1, "maxLength": 40},
                    "code": {"type": "string", "minLength": 1, "maxLength": 48},
                    "quantity": {"type": "integer", "minimum": 0, "maximum": 10_000_000},
                },
            },
        },
    },
}
POST_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"uncounted": {"enum": ["keep", "zero"]}},
}


@api.route(
    "POST",
    "/api/v1/counts",
    summary="Open a stock count of a category (or the whole store)",
    permission="stock.adjust",
    request=COUNT_SCHEMA,
    errors={404: "unknown category", 409: "the id names a count of another scope"},
)
async def open_count(request: web.Request) -> web.Response:
    """Open a count."""
    body = await read_json(request, COUNT_SCHEMA)
    opened = await inventory.open_count(
        request.app[LEDGER], body["id"].lower(), body.get("category"), body.get("note", ""),
        actor(request),
    )  # fmt: skip
    return json_response(opened, status=201)


COUNTS_QUERY: dict[str, Schema] = {
    "status": {"enum": list(inventory.COUNT_STATUSES)},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
}


@api.route(
    "GET",
    "/api/v1/counts",
    summary="The latest stock counts, newest first (?status=open for those still counting)",
    permission="stock.receive",
    query=COUNTS_QUERY,
)
async def list_counts(request: web.Request) -> web.Response:
    """Return the latest counts with their progress."""
    counts = await inventory.list_counts(
        request.app[LEDGER],
        query_param(request, "status", COUNTS_QUERY["status"]),
        query_param(request, "limit", COUNTS_QUERY["limit"]),
    )
    return json_response({"counts": counts})


@api.route(
    "POST",
    "/api/v1/counts/{count_id}/entries",
    summary="Enter counted quantities by product id or scanned code (mode add or set)",
    permission="stock.receive",
    request=ENTRY_SCHEMA,
    errors={404: "unknown count or code", 409: "count closed, product not in the count"},
)
async def count_entries(request: web.Request) -> web.Response:
    """Record counted items; a scale label counts its weight in grams."""
    body = await read_json(request, ENTRY_SCHEMA)
    settings = request.app[SETTINGS]
    items = []
    for index, raw in enumerate(body["items"]):
        if ("code" in raw) == ("product" in raw):
            raise InvalidInput(f"items[{index}]: give a code or a product id", code="bad_item")
        product, quantity = raw.get("product"), raw.get("quantity")
        if "code" in raw:
            scanned = await resolve_scan(
                request.app[LEDGER], raw["code"], settings.barcodes.variable_measure
            )
            product = scanned.product.id
            quantity = quantity if quantity is not None else scanned.grams or 1
        if quantity is None:
            raise InvalidInput(f"items[{index}]: how many?", code="bad_quantity")
        items.append({"product": product, "quantity": quantity})
    entered = await inventory.count_items(
        request.app[LEDGER], request.match_info["count_id"].lower(), items,
        body.get("mode", "add"), actor(request),
    )  # fmt: skip
    return json_response(entered, status=201)


@api.route(
    "GET",
    "/api/v1/counts/{count_id}",
    summary="A count: counted, book and variance per product, and what is not counted yet",
    permission="stock.receive",
    errors={404: "no such count"},
)
async def get_count(request: web.Request) -> web.Response:
    """Return a count's state."""
    state = await inventory.count_state(request.app[LEDGER], request.match_info["count_id"].lower())
    return json_response(state)


@api.route(
    "POST",
    "/api/v1/counts/{count_id}/post",
    summary="Post a count: variances become one stock correction (uncounted: keep or zero)",
    permission="stock.adjust",
    request=POST_SCHEMA,
    errors={404: "no such count", 409: "posted or cancelled already"},
)
async def post_count(request: web.Request) -> web.Response:
    """Post the count's variances."""
    body = await read_json(request, POST_SCHEMA) if request.can_read_body else {}
    posted = await inventory.post_count(
        request.app[LEDGER], request.match_info["count_id"].lower(), actor(request),
        uncounted_zero=body.get("uncounted") == "zero",
    )  # fmt: skip
    return json_response(posted, status=201)


@api.route(
    "POST",
    "/api/v1/counts/{count_id}/cancel",
    summary="Cancel an open count (nothing is posted)",
    permission="stock.adjust",
    errors={404: "no such count", 409: "posted or cancelled already"},
)
async def cancel_count(request: web.Request) -> web.Response:
    """Cancel a count."""
    count_id = request.match_info["count_id"].lower()
    await inventory.cancel_count(request.app[LEDGER], count_id, actor(request))
    return json_response({"count": count_id, "status": "cancelled"})


REPLENISH_QUERY: dict[str, Schema] = {
    "window_days": {"type": "integer", "minimum": 1, "maximum": 365, "default": 28},
    "lead_days": {"type": "integer", "minimum": 0, "maximum": 180, "default": 3},
    "review_days": {"type": "integer", "minimum": 0, "maximum": 180, "default": 7},
    "safety_days": {"type": "integer", "minimum": 0, "maximum": 180, "default": 2},
    "format": {"enum": ["json", "csv"], "default": "json"},
}
CSV_COLUMNS = ("product", "name_zh", "name_en", "on_hand", "sold", "target", "pack_size", "packs",
               "order")  # fmt: skip


@api.route(
    "GET",
    "/api/v1/stock/replenishment",
    summary="Suggested orders from sales velocity, lead time, review period and safety stock",
    permission="report.x",
    query=REPLENISH_QUERY,
)
async def replenishment(request: web.Request) -> web.StreamResponse:
    """Return order suggestions as JSON, or as CSV for the supplier (?format=csv)."""
    params = {
        name: query_param(request, name, REPLENISH_QUERY[name])
        for name in ("window_days", "lead_days", "review_days", "safety_days")
    }
    suggestions = await inventory.replenishment(
        request.app[LEDGER], now=request.app[CHECKOUT].clock(), **params
    )
    if query_param(request, "format", REPLENISH_QUERY["format"]) == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows([row[column] for column in CSV_COLUMNS] for row in suggestions)
        return web.Response(
            text=out.getvalue(),
            content_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="replenishment.csv"'},
        )
    return json_response({"suggestions": suggestions, **params})


@api.route(
    "GET",
    "/api/v1/stock/alerts",
    summary="Low stock, stock below zero, lots near their expiry (with a markdown) or expired",
    permission="catalog.read",
)
async def alerts(request: web.Request) -> web.Response:
    """Return stock alerts."""
    settings = request.app[SETTINGS]
    today = request.app[CHECKOUT].clock().astimezone(settings.tz).date()
    found = await inventory.stock_alerts(
        request.app[LEDGER],
        today=today,
        warn_days=settings.inventory.expiry_warn_days,
        markdown_bp=settings.inventory.near_expiry_markdown_bp,
    )
    return json_response({"alerts": found})


PO_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "supplier", "lines"],
    "properties": {
        "id": UUID,
        "supplier": {"type": "string", "minLength": 1, "maxLength": 60},
        "expected": {"type": ["string", "null"], "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        "lines": {"type": "array", "minItems": 1, "maxItems": 2000, "items": _ITEM},
    },
}


@api.route(
    "POST",
    "/api/v1/purchase-orders",
    summary="Record a purchase order to a supplier (idempotent by id)",
    permission="stock.adjust",
    request=PO_SCHEMA,
    errors={404: "unknown product"},
)
async def create_po(request: web.Request) -> web.Response:
    """Record what was ordered."""
    body = await read_json(request, PO_SCHEMA)
    created = await inventory.create_purchase_order(
        request.app[LEDGER], body["id"].lower(), body, actor(request)
    )
    return json_response(created, status=201)


@api.route(
    "GET",
    "/api/v1/purchase-orders/{po_id}",
    summary="A purchase order: ordered, received, outstanding and over-delivered per line",
    permission="stock.receive",
    errors={404: "no such purchase order"},
)
async def get_po(request: web.Request) -> web.Response:
    """Return a purchase order's state."""
    po = await inventory.purchase_order(request.app[LEDGER], request.match_info["po_id"].lower())
    return json_response(po)


@api.route(
    "POST",
    "/api/v1/purchase-orders/{po_id}/close",
    summary="Close a purchase order; what did not come is recorded as short",
    permission="stock.adjust",
    errors={404: "no such purchase order", 409: "closed already"},
)
async def close_po(request: web.Request) -> web.Response:
    """Close the order."""
    closed = await inventory.close_purchase_order(
        request.app[LEDGER], request.match_info["po_id"].lower(), actor(request)
    )
    return json_response(closed)


_STORE_ID: Schema = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"}
TRANSFER_OUT_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "to_store", "lines"],
    "properties": {
        "id": UUID,
        "to_store": _STORE_ID,
        "lines": {"type": "array", "minItems": 1, "maxItems": 2000, "items": _ITEM},
        "note": {"type": "string", "maxLength": 200},
    },
}
TRANSFER_IN_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "from_store", "lines"],
    "properties": {
        "id": UUID,
        "from_store": _STORE_ID,
        "lines": {"type": "array", "minItems": 1, "maxItems": 2000, "items": _ITEM},
    },
}
TRANSFER_RECEIVE_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["lines"],
    "properties": {"lines": {"type": "array", "maxItems": 2000, "items": _ITEM}},
}


@api.route(
    "POST",
    "/api/v1/transfers/out",
    summary="Send goods to another store: out of stock now, in transit until confirmed",
    permission="stock.adjust",
    request=TRANSFER_OUT_SCHEMA,
    errors={404: "unknown product"},
)
async def transfer_out(request: web.Request) -> web.Response:
    """Record a transfer-out document."""
    body = await read_json(request, TRANSFER_OUT_SCHEMA)
    sent = await inventory.send_transfer(
        request.app[LEDGER], body["id"].lower(), body["to_store"], body, actor(request)
    )
    return json_response(sent, status=201)


@api.route(
    "POST",
    "/api/v1/transfers/in",
    summary="Record a transfer another store sent here (as HQ relays it): goods in transit",
    permission="stock.adjust",
    request=TRANSFER_IN_SCHEMA,
    errors={404: "unknown product"},
)
async def transfer_in(request: web.Request) -> web.Response:
    """Record an incoming transfer."""
    body = await read_json(request, TRANSFER_IN_SCHEMA)
    announced = await inventory.announce_transfer(
        request.app[LEDGER], body["id"].lower(), body["from_store"], body, actor(request)
    )
    return json_response(announced, status=201)


@api.route(
    "POST",
    "/api/v1/transfers/{transfer_id}/receive",
    summary="Confirm an incoming transfer with what arrived (differences recorded)",
    permission="stock.receive",
    request=TRANSFER_RECEIVE_SCHEMA,
    errors={404: "no such transfer", 409: "not incoming, or received already"},
)
async def transfer_receive(request: web.Request) -> web.Response:
    """Receive an incoming transfer."""
    body = await read_json(request, TRANSFER_RECEIVE_SCHEMA)
    received = await inventory.receive_transfer(
        request.app[LEDGER], request.match_info["transfer_id"].lower(), body["lines"],
        actor(request),
    )  # fmt: skip
    return json_response(received)


@api.route(
    "GET",
    "/api/v1/transfers/{transfer_id}",
    summary="A transfer: lines sent, what arrived, the discrepancies",
    permission="stock.receive",
    errors={404: "no such transfer"},
)
async def get_transfer(request: web.Request) -> web.Response:
    """Return a transfer."""
    found = await inventory.transfer_state(
        request.app[LEDGER], request.match_info["transfer_id"].lower()
    )
    return json_response(found)
