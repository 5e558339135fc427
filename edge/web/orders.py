"""Pickup orders over HTTP: create (HQ, a mini-program, the phone), pick, collect or cancel."""

from __future__ import annotations

from aiohttp import web

from edge.domain.tenders import TenderInput
from edge.web.api import Api, json_response, read_json
from edge.web.auth import actor
from edge.web.keys import DAYS, ORDERS
from edge.web.sales import TENDER_SCHEMA, UUID
from edge.web.schema import Schema

api = Api("orders")

ORDER_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "customer", "lines"],
    "properties": {
        "id": UUID,
        "source": {"type": "string", "maxLength": 40},
        "customer": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 60},
                "phone": {"type": ["string", "null"], "maxLength": 20},
            },
        },
        "member": {"type": ["string", "null"], "maxLength": 40},
        "lines": {
            "type": "array",
            "minItems": 1,
            "maxItems": 200,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["product", "quantity"],
                "properties": {
                    "product": {"type": "string", "minLength": 1, "maxLength": 40},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 9999},
                },
            },
        },
        "paid_online": {"type": "boolean"},
        "payment": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "required": ["provider", "reference"],
            "properties": {
                "provider": {"type": "string", "maxLength": 40},
                "reference": {"type": "string", "maxLength": 80},
            },
        },
        "pickup_by": {"type": ["string", "null"], "maxLength": 32},
    },
}
STATUS_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["to"],
    "properties": {"to": {"enum": ["picking", "ready", "cancelled"]}},
}
COLLECT_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"tenders": {"type": "array", "maxItems": 8, "items": TENDER_SCHEMA}},
}


@api.route(
    "POST",
    "/api/v1/orders",
    summary="Create a pickup order: priced now, its stock reserved (idempotent by id)",
    permission="order.write",
    request=ORDER_SCHEMA,
    errors={404: "unknown product or member", 409: "not enough stock (when not allowed)"},
)
async def create_order(request: web.Request) -> web.Response:
    """Record an order."""
    body = await read_json(request, ORDER_SCHEMA)
    order = await request.app[ORDERS].create(body["id"].lower(), body, actor(request))
    return json_response(order, status=201)


@api.route("GET", "/api/v1/orders", summary="Open orders, oldest first", permission="order.fulfil")
async def list_orders(request: web.Request) -> web.Response:
    """Return the picking list."""
    return json_response({"orders": await request.app[ORDERS].list_open()})


@api.route(
    "GET",
    "/api/v1/orders/{order_id}",
    summary="An order and its state",
    permission="order.fulfil",
    errors={404: "no such order"},
)
async def get_order(request: web.Request) -> web.Response:
    """Return an order."""
    return json_response(await request.app[ORDERS].get(request.match_info["order_id"].lower()))


@api.route(
    "POST",
    "/api/v1/orders/{order_id}/status",
    summary="Move an order: new → picking → ready, or cancel it (stock released)",
    permission="order.fulfil",
    request=STATUS_SCHEMA,
    errors={404: "no such order", 409: "not allowed from its state"},
)
async def move_order(request: web.Request) -> web.Response:
    """Change an order's state."""
    body = await read_json(request, STATUS_SCHEMA)
    moved = await request.app[ORDERS].move(
        request.match_info["order_id"].lower(), body["to"], actor(request)
    )
    return json_response(moved)


@api.route(
    "POST",
    "/api/v1/orders/{order_id}/collect",
    summary="Hand a ready order over (unpaid: sold at the till at the order's prices)",
    permission="order.fulfil",
    request=COLLECT_SCHEMA,
    errors={404: "no such order", 409: "not ready, or the till is closed", 422: "tenders short"},
)
async def collect_order(request: web.Request) -> web.Response:
    """Collect an order."""
    body = await read_json(request, COLLECT_SCHEMA) if request.can_read_body else {}
    tenders = tuple(
        TenderInput(t["kind"], t["amount"], t.get("presented"), t.get("code"))
        for t in body.get("tenders", ())
    )
    if tenders:
        request.app[DAYS].check_hours()
    collected = await request.app[ORDERS].collect(
        request.match_info["order_id"].lower(),
        tenders,
        actor(request),
    )
    return json_response(collected)
