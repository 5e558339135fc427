"""Suspended baskets: park a basket at a till, list the parked ones, resume one (once)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from edge.services import suspended
from edge.web.api import Api, json_response, query_param, read_json
from edge.web.auth import actor
from edge.web.keys import LEDGER
from edge.web.sales import BASKET_SCHEMA, UUID, basket_request
from edge.web.schema import Schema

api = Api("baskets")

SUSPEND_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "basket"],
    "properties": {
        "id": UUID,
        "label": {"type": "string", "maxLength": 40},
        "basket": BASKET_SCHEMA,
    },
}
SUSPENDED_SCHEMA: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "label": {"type": "string"},
        "till": {"type": ["string", "null"]},
        "basket": BASKET_SCHEMA,
    },
}
LIST_QUERY: dict[str, Schema] = {"till": {"type": "string", "maxLength": 20}}


def suspended_json(basket: suspended.SuspendedBasket) -> dict[str, Any]:
    """Return a parked basket as JSON."""
    return {
        "id": basket.id,
        "label": basket.label,
        "till": basket.till,
        "staff": basket.staff,
        "ts": basket.ts,
        "basket": basket.basket,
        "resumed": basket.resumed,
    }


@api.route(
    "POST",
    "/api/v1/baskets/suspended",
    summary="Park a basket to resume later (idempotent by id)",
    permission="sale.create",
    request=SUSPEND_SCHEMA,
    response=SUSPENDED_SCHEMA,
    errors={409: "the id was used for another basket"},
)
async def suspend_basket(request: web.Request) -> web.Response:
    """Suspend a basket."""
    body = await read_json(request, SUSPEND_SCHEMA)
    basket_request(body["basket"])  # refuse what could never be sold before parking it
    parked = await suspended.suspend(
        request.app[LEDGER],
        body["id"].lower(),
        body.get("label", ""),
        body["basket"],
        actor(request),
    )
    return json_response(suspended_json(parked), status=201)


@api.route(
    "GET",
    "/api/v1/baskets/suspended",
    summary="Baskets waiting to be resumed (?till= for one till's)",
    permission="sale.create",
    query=LIST_QUERY,
    response={"type": "object", "properties": {"baskets": {"type": "array"}}},
)
async def list_suspended(request: web.Request) -> web.Response:
    """List parked baskets."""
    till = query_param(request, "till", LIST_QUERY["till"])
    baskets = await suspended.list_suspended(request.app[LEDGER], till)
    return json_response({"baskets": [suspended_json(b) for b in baskets]})


@api.route(
    "POST",
    "/api/v1/baskets/suspended/{basket_id}/resume",
    summary="Take a parked basket back to a till (only once)",
    permission="sale.create",
    response=SUSPENDED_SCHEMA,
    errors={404: "no such basket", 409: "resumed already"},
)
async def resume_basket(request: web.Request) -> web.Response:
    """Resume a parked basket."""
    basket = await suspended.resume(
        request.app[LEDGER],
        request.match_info["basket_id"].lower(),
        actor(request),
    )
    return json_response(suspended_json(basket))
