"""Promotions HTTP API: list and save (every change is a ledger event)."""

from __future__ import annotations

from aiohttp import web

from edge.domain.errors import InvalidInput
from edge.domain.promotions import promotion_from_fields
from edge.services.promotions import (
    issue_vouchers,
    list_promotions,
    save_promotion,
    voucher_state,
)
from edge.web.api import Api, json_response, read_json
from edge.web.auth import actor
from edge.web.keys import LEDGER
from edge.web.schema import Schema

api = Api("promotions")

_LIST: Schema = {"type": "array", "maxItems": 500, "items": {"type": "string", "maxLength": 40}}
PROMOTION_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name_zh", "kind"],
    "properties": {
        "id": {"type": "string", "maxLength": 40},
        "name_zh": {"type": "string", "maxLength": 80},
        "name_en": {"type": "string", "maxLength": 80},
        "kind": {
            "enum": [
                "percent_off",
                "amount_off",
                "multi_buy",
                "buy_n_get_m",
                "spend_save",
                "basket_percent",
            ]
        },
        "scope": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"products": _LIST, "categories": _LIST},
        },
        "window": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "starts_at": {"type": ["string", "null"], "maxLength": 40},
                "ends_at": {"type": ["string", "null"], "maxLength": 40},
                "weekdays": {"type": "array", "maxItems": 7, "items": {"type": "integer"}},
                "time_from": {"type": ["string", "null"], "maxLength": 8},
                "time_to": {"type": ["string", "null"], "maxLength": 8},
            },
        },
        "priority": {"type": "integer", "minimum": -1000, "maximum": 1000},
        "exclusive": {"type": "boolean"},
        "members_only": {"type": "boolean"},
        "birthday_only": {"type": "boolean"},
        "tiers": {
            "type": "array",
            "maxItems": 10,
            "items": {"type": "string", "minLength": 1, "maxLength": 20},
        },
        "coupon_code": {"type": ["string", "null"], "maxLength": 32},
        "active": {"type": "boolean"},
        "percent_bp": {"type": ["integer", "null"]},
        "amount": {"type": ["integer", "null"]},
        "buy": {"type": ["integer", "null"]},
        "get": {"type": ["integer", "null"]},
        "quantity": {"type": ["integer", "null"]},
        "price": {"type": ["integer", "null"]},
        "threshold": {"type": ["integer", "null"]},
        "repeat": {"type": "boolean"},
    },
}


@api.route(
    "GET",
    "/api/v1/promotions",
    summary="Every promotion",
    permission="catalog.read",
    response={"type": "object", "properties": {"promotions": {"type": "array"}}},
)
async def get_promotions(request: web.Request) -> web.Response:
    """Return the promotions."""
    promotions = await list_promotions(request.app[LEDGER])
    return json_response({"promotions": [p.to_data() for p in promotions]})


@api.route(
    "PUT",
    "/api/v1/promotions/{promotion_id}",
    summary="Create or update a promotion (an unchanged one appends no event)",
    permission="promotion.write",
    request=PROMOTION_SCHEMA,
    response={"type": "object", "properties": {"outcome": {"type": "string"}}},
)
async def put_promotion(request: web.Request) -> web.Response:
    """Save a promotion."""
    body = await read_json(request, PROMOTION_SCHEMA)
    path_id = request.match_info["promotion_id"]
    if body.get("id", path_id) != path_id:
        raise InvalidInput("the body's id differs from the path's")
    promotion = promotion_from_fields({**body, "id": path_id})
    outcome = await save_promotion(request.app[LEDGER], promotion, actor(request))
    return json_response({"outcome": outcome}, status=201 if outcome == "created" else 200)


VOUCHERS_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "vouchers": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1000,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["amount"],
                "properties": {
                    "code": {"type": "string", "minLength": 4, "maxLength": 32},
                    "amount": {"type": "integer", "minimum": 1, "maximum": 10_000_000},
                    "valid_from": {"type": ["string", "null"], "maxLength": 10},
                    "valid_to": {"type": ["string", "null"], "maxLength": 10},
                    "member": {"type": ["string", "null"], "maxLength": 40},
                },
            },
        },
        "count": {"type": "integer", "minimum": 1, "maximum": 1000},
        "amount": {"type": "integer", "minimum": 1, "maximum": 10_000_000},
        "valid_from": {"type": ["string", "null"], "maxLength": 10},
        "valid_to": {"type": ["string", "null"], "maxLength": 10},
    },
}


@api.route(
    "POST",
    "/api/v1/vouchers",
    summary="Issue single-use vouchers: a list, or {count, amount, valid_to} with new codes",
    permission="voucher.issue",
    request=VOUCHERS_SCHEMA,
    errors={404: "unknown member", 409: "a code was issued already"},
)
async def post_vouchers(request: web.Request) -> web.Response:
    """Issue vouchers and return their codes (shown once to print or send)."""
    body = await read_json(request, VOUCHERS_SCHEMA)
    if ("vouchers" in body) == ("count" in body):
        raise InvalidInput("give a list of vouchers, or a count and an amount", code="bad_vouchers")
    specs = body.get("vouchers") or [
        {"amount": body.get("amount"), "valid_from": body.get("valid_from"),
         "valid_to": body.get("valid_to")}
        for _ in range(body["count"])
    ]  # fmt: skip
    if any(spec["amount"] is None for spec in specs):
        raise InvalidInput("say what each voucher is worth (amount)", code="bad_amount")
    issued = await issue_vouchers(request.app[LEDGER], specs, actor(request))
    return json_response({"vouchers": issued}, status=201)


@api.route(
    "GET",
    "/api/v1/vouchers/{code}",
    summary="A voucher: value, validity, member and the sale that used it",
    permission="sale.read",
    errors={404: "no such voucher"},
)
async def get_voucher(request: web.Request) -> web.Response:
    """Return a voucher's state."""
    return json_response(await voucher_state(request.app[LEDGER], request.match_info["code"]))
