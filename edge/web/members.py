"""Members HTTP API: save, look up at the till (phone masked), top up stored value."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from edge.domain.errors import InvalidInput
from edge.domain.members import member_from_fields
from edge.services import members
from edge.web.api import Api, json_response, query_param, read_json
from edge.web.auth import actor
from edge.web.keys import CHECKOUT, DAYS, LEDGER
from edge.web.sales import UUID
from edge.web.schema import Schema

api = Api("members")

MEMBER_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "maxLength": 40},
        "name": {"type": "string", "maxLength": 80},
        "phone": {"type": ["string", "null"], "maxLength": 24},
        "card_no": {"type": ["string", "null"], "maxLength": 32},
        "tier": {"type": "string", "maxLength": 20},
        "birthday": {"type": ["string", "null"], "pattern": "^[0-9]{2}-[0-9]{2}$"},
        "active": {"type": "boolean"},
    },
}
ACCOUNT_SCHEMA: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "phone": {"type": ["string", "null"], "description": "masked (138****8000)"},
        "tier": {"type": "string"},
        "stored_value": {"type": "integer"},
    },
}
TOP_UP_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "amount"],
    "properties": {
        "id": UUID,
        "amount": {"type": "integer", "minimum": 1, "maximum": 10_000_000},
        "bonus": {"type": "integer", "minimum": 0, "maximum": 10_000_000},
        "tender": {"enum": ["cash", "card", "qr"]},
        "presented": {"type": "string", "maxLength": 64},  # card or wallet data, never stored
    },
}
LOOKUP_QUERY: dict[str, Schema] = {"key": {"type": "string", "minLength": 1, "maxLength": 40}}


def account_json(account: members.MemberAccount) -> dict[str, Any]:
    """Return what a till may see of a member: the phone masked."""
    member = account.member
    return {
        "id": member.id,
        "name": member.name,
        "phone": member.display if member.phone else None,
        "card_no": member.card_no,
        "tier": member.tier,
        "birthday": member.birthday,
        "active": member.active,
        "stored_value": account.stored_value,
        "points": account.points,
    }


@api.route(
    "PUT",
    "/api/v1/members/{member_id}",
    summary="Create or update a member (an edit without tier or phone keeps them)",
    permission="member.write",
    request=MEMBER_SCHEMA,
    response={"type": "object", "properties": {"outcome": {"type": "string"}}},
    errors={409: "phone or card number belongs to another member"},
)
async def put_member(request: web.Request) -> web.Response:
    """Save a member."""
    body = await read_json(request, MEMBER_SCHEMA)
    path_id = request.match_info["member_id"]
    if body.get("id", path_id) != path_id:
        raise InvalidInput("the body's id differs from the path's")
    fields = {**body, "id": path_id}
    known = await request.app[LEDGER].reader.fetch_one(
        "SELECT tier, phone FROM members WHERE id = ?", (path_id,)
    )
    if known is not None:
        # an edit without a tier keeps the one earned (upgrades included); one without a
        # phone keeps the number on file: screens only ever see it masked (null clears it)
        fields.setdefault("tier", known[0])
        fields.setdefault("phone", known[1])
    member = member_from_fields(fields)
    outcome = await members.save_member(request.app[LEDGER], member, actor(request))
    return json_response({"outcome": outcome}, status=201 if outcome == "created" else 200)


@api.route(
    "GET",
    "/api/v1/members/lookup",
    summary="Find a member by exact phone, card number, member QR or id",
    permission="member.read",
    query=LOOKUP_QUERY,
    response=ACCOUNT_SCHEMA,
    errors={404: "no such member"},
)
async def lookup_member(request: web.Request) -> web.Response:
    """Return the member a phone, card or QR names."""
    key = query_param(request, "key", LOOKUP_QUERY["key"])
    if key is None:
        raise InvalidInput("give ?key= (phone, card number or member QR)", code="missing_key")
    account = await members.find_member(request.app[LEDGER], key)
    return json_response(account_json(account))


@api.route(
    "POST",
    "/api/v1/members/{member_id}/top-ups",
    summary=(
        "Top up a member's stored value (idempotent by id); cash needs an open till, card and"
        " QR need none (the back office)"
    ),
    permission="stored_value.top_up",
    request=TOP_UP_SCHEMA,
    response={"type": "object", "properties": {"balance": {"type": "integer"}}},
    errors={
        402: "the card or wallet payment was declined or timed out",
        404: "no such member",
        409: (
            "id used for another top-up (id_reused); cash without an open till (no_till,"
            " till_closed); card or QR while no business day is open (no_open_day)"
        ),
    },
)
async def post_top_up(request: web.Request) -> web.Response:
    """Add money (and a bonus) to a member's stored value."""
    body = await read_json(request, TOP_UP_SCHEMA)
    request.app[DAYS].check_hours()
    checkout = request.app[CHECKOUT]
    result = await members.top_up(
        request.app[LEDGER],
        top_up_id=body["id"].lower(),
        member_id=request.match_info["member_id"],
        amount=body["amount"],
        bonus=body.get("bonus", 0),
        tender={"kind": body.get("tender", "cash"), "presented": body.get("presented")},
        actor=actor(request),
        payments=checkout.payments,
        currency=checkout.currency,
        payment_timeout=checkout.payment_timeout,
    )
    return json_response(result, status=201)


HISTORY_QUERY: dict[str, Schema] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
    "before_seq": {"type": "integer", "minimum": 1, "maximum": 2**53},
}


@api.route(
    "GET",
    "/api/v1/members/{member_id}/purchases",
    summary="A member's purchase history, newest first (?before_seq= for the next page)",
    permission="member.read",
    query=HISTORY_QUERY,
    errors={404: "no such member"},
)
async def purchases(request: web.Request) -> web.Response:
    """Return a member's sales with receipt, total, status and points earned."""
    history = await members.purchase_history(
        request.app[LEDGER],
        request.match_info["member_id"],
        limit=query_param(request, "limit", HISTORY_QUERY["limit"]),
        before_seq=query_param(request, "before_seq", HISTORY_QUERY["before_seq"]),
    )
    return json_response({"purchases": history})
