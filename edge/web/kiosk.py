"""Self-checkout kiosks over HTTP: the shopper flow and its attendant calls.

A paired kiosk's browser (role `kiosk`) calls for an attendant and checks its bagging area
here; the attendant screen lists kiosks and approves calls through the devices routes
(`GET /api/v1/kiosks`, `POST /api/v1/kiosks/{kiosk}/calls/{call}/approve`). A kiosk acts only
for itself.
"""

from __future__ import annotations

from aiohttp import web

from edge.domain.kiosk import CALL_REASONS, DEFAULT_ABS_GRAMS, DEFAULT_PERCENT_BP, MAX_BAG_GRAMS
from edge.services.kiosk import (
    call_attendant,
    cancel_call,
    check_bag,
    kiosk_device,
    open_calls,
    own_kiosk,
)
from edge.web.api import Api, json_response, read_json
from edge.web.auth import principal_of
from edge.web.keys import DEVICES, LEDGER
from edge.web.schema import Schema

api = Api("kiosk")

CALL_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["reason"],
    "properties": {
        "reason": {"enum": list(CALL_REASONS)},
        "detail": {"type": "string", "maxLength": 200},
    },
}
CALL_VIEW: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "kiosk": {"type": "string"},
        "reason": {"type": "string"},
        "detail": {"type": "string"},
        "at": {"type": ["string", "null"]},
    },
}
BAGGING_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["lines"],
    "properties": {
        "lines": {
            "type": "array",
            "maxItems": 500,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["product"],
                "properties": {
                    "product": {"type": "string", "minLength": 1, "maxLength": 40},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 9999},
                    "grams": {"type": "integer", "minimum": 1, "maximum": MAX_BAG_GRAMS},
                },
            },
        },
        # weight an attendant accepted in the bag beyond the basket (the shopper's own bag)
        "offset_grams": {"type": "integer", "minimum": -MAX_BAG_GRAMS, "maximum": MAX_BAG_GRAMS},
    },
}
BAGGING_VIEW: Schema = {
    "type": "object",
    "properties": {
        "expected_grams": {"type": "integer"},
        "actual_grams": {"type": ["integer", "null"]},
        "tolerance_grams": {"type": ["integer", "null"]},
        "unknown": {"type": "integer"},
        "ok": {"type": "boolean"},
        "settled": {"type": "boolean"},
        "scale": {"type": "string"},
    },
}


@api.route(
    "POST",
    "/api/v1/kiosks/{kiosk}/calls",
    summary="A kiosk calls an attendant (age_restricted, weight_mismatch, void, help)",
    permission="sale.create",
    request=CALL_SCHEMA,
    response={"type": "object", "properties": {"call": CALL_VIEW}},
    errors={
        403: "the caller is not this kiosk",
        404: "no such kiosk",
        409: "too many open calls",
    },
)
async def new_call(request: web.Request) -> web.Response:
    """Record the kiosk's call; the attendant screen sees it at once."""
    center = request.app[DEVICES]
    kiosk = own_kiosk(center, principal_of(request), request.match_info["kiosk"])
    body = await read_json(request, CALL_SCHEMA)
    call = call_attendant(center, kiosk, body["reason"], body.get("detail", ""))
    return json_response({"call": call}, status=201)


@api.route(
    "GET",
    "/api/v1/kiosks/{kiosk}/calls",
    summary="A kiosk's open calls (the kiosk itself, or an attendant)",
    permission="device.read",
    response={"type": "object", "properties": {"calls": {"type": "array", "items": CALL_VIEW}}},
    errors={403: "another kiosk", 404: "no such kiosk"},
)
async def list_calls(request: web.Request) -> web.Response:
    """Return the open calls of a kiosk: an approved call is no longer among them."""
    center = request.app[DEVICES]
    principal = principal_of(request)
    kiosk_id = request.match_info["kiosk"]
    if principal is not None and principal.may("kiosk.attend"):
        kiosk = kiosk_device(center, kiosk_id)
    else:
        kiosk = own_kiosk(center, principal, kiosk_id)
    return json_response({"kiosk": kiosk.id, "calls": open_calls(center, kiosk.id)})


@api.route(
    "DELETE",
    "/api/v1/kiosks/{kiosk}/calls/{call}",
    summary="A kiosk withdraws its own open call (the shopper put things right)",
    permission="sale.create",
    errors={403: "the caller is not this kiosk", 404: "no such kiosk or open call"},
)
async def withdraw_call(request: web.Request) -> web.Response:
    """Close the kiosk's call without an attendant."""
    center = request.app[DEVICES]
    kiosk = own_kiosk(center, principal_of(request), request.match_info["kiosk"])
    cancel_call(center, kiosk, request.match_info["call"])
    return json_response({"kiosk": kiosk.id, "withdrawn": request.match_info["call"]})


@api.route(
    "POST",
    "/api/v1/kiosks/{kiosk}/bagging",
    summary="Check the bagging area: the kiosk's scale against what the basket should weigh",
    permission="sale.create",
    request=BAGGING_SCHEMA,
    response=BAGGING_VIEW,
    errors={
        403: "the caller is not this kiosk",
        404: "no such kiosk or product",
        409: "no scale is bound to the kiosk",
    },
)
async def bagging(request: web.Request) -> web.Response:
    """Compare the bagging scale with the basket (ok within the tolerance)."""
    center = request.app[DEVICES]
    kiosk = own_kiosk(center, principal_of(request), request.match_info["kiosk"])
    body = await read_json(request, BAGGING_SCHEMA)
    result = await check_bag(
        request.app[LEDGER],
        center,
        kiosk,
        body["lines"],
        offset_grams=body.get("offset_grams", 0),
        abs_grams=DEFAULT_ABS_GRAMS,
        percent_bp=DEFAULT_PERCENT_BP,
    )
    return json_response(result)
