"""The till's day over HTTP: open with a float, cash in/out, no-sale drawer, blind close, X/Z.

Cash in, cash out and a no-sale open the till's cash drawer when one is bound to it (after the
movement is recorded: a drawer that cannot be reached never loses the record).
"""

from __future__ import annotations

import logging

from aiohttp import web

from edge.domain.errors import DomainError
from edge.web.api import Api, json_response, query_param, read_json
from edge.web.auth import actor
from edge.web.keys import DAYS, DEVICES
from edge.web.schema import Schema

api = Api("days")
log = logging.getLogger(__name__)

_CASH: Schema = {"type": "integer", "minimum": 0, "maximum": 100_000_000}
_REASON: Schema = {"type": "string", "minLength": 1, "maxLength": 120}
OPEN_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["float"],
    "properties": {"float": _CASH},
}
CASH_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["direction", "amount", "reason"],
    "properties": {
        "direction": {"enum": ["in", "out"]},
        "amount": {"type": "integer", "minimum": 1, "maximum": 100_000_000},
        "reason": _REASON,
    },
}
DRAWER_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["reason"],
    "properties": {"reason": _REASON},
}
CLOSE_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["counted"],
    "properties": {"counted": _CASH},
}
OVERRIDE_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["minutes", "reason"],
    "properties": {
        "minutes": {"type": "integer", "minimum": 1, "maximum": 1440},
        "reason": _REASON,
    },
}
REPORT_SCHEMA: Schema = {
    "type": "object",
    "properties": {
        "sales": {"type": "integer"},
        "net_sales": {"type": "integer"},
        "tax": {"type": "array"},
        "tenders": {"type": "array"},
        "drawers": {"type": "object"},
    },
}
X_QUERY: dict[str, Schema] = {"till": {"type": "string", "minLength": 1, "maxLength": 20}}


async def kick_drawer(request: web.Request) -> str:
    """Open the caller's till's cash drawer: "opened", "none" (no drawer) or "unreachable"."""
    center = request.app[DEVICES]
    drawer = center.bound(actor(request).till, "drawer")
    if drawer is None:
        return "none"
    try:
        await center.command(drawer.id, "open", {"pin": 2})
    except DomainError as err:
        log.warning("drawer %s did not open: %s", drawer.id, err)
        return "unreachable"
    return "opened"


@api.route(
    "POST",
    "/api/v1/till/open",
    summary="Open this till with a float (opens the business day if none is open)",
    permission="till.open",
    request=OPEN_SCHEMA,
    errors={409: "the till is open already", 423: "outside business hours"},
)
async def open_till(request: web.Request) -> web.Response:
    """Open a till session."""
    body = await read_json(request, OPEN_SCHEMA)
    opened = await request.app[DAYS].open_till(actor(request), body["float"])
    return json_response(opened, status=201)


@api.route(
    "POST",
    "/api/v1/till/cash",
    summary="Cash in or out of this till's drawer, with a reason (the drawer opens)",
    permission="cash.move",
    request=CASH_SCHEMA,
    errors={409: "the till is not open"},
)
async def move_cash(request: web.Request) -> web.Response:
    """Record a cash movement."""
    body = await read_json(request, CASH_SCHEMA)
    moved = await request.app[DAYS].move_cash(
        actor(request), body["direction"], body["amount"], body["reason"]
    )
    return json_response(moved | {"drawer": await kick_drawer(request)}, status=201)


@api.route(
    "POST",
    "/api/v1/till/drawer",
    summary="Open the drawer without a sale (recorded with the reason, then opened)",
    permission="drawer.open",
    request=DRAWER_SCHEMA,
    errors={409: "the till is not open"},
)
async def open_drawer(request: web.Request) -> web.Response:
    """Record a no-sale drawer opening."""
    body = await read_json(request, DRAWER_SCHEMA)
    opened = await request.app[DAYS].open_drawer(actor(request), body["reason"])
    return json_response(opened | {"drawer": await kick_drawer(request)}, status=201)


@api.route(
    "POST",
    "/api/v1/till/close",
    summary="Close this till with the cash counted (blind); answers the session's report",
    permission="till.close",
    request=CLOSE_SCHEMA,
    response=REPORT_SCHEMA,
    errors={409: "the till is not open"},
)
async def close_till(request: web.Request) -> web.Response:
    """Close the till session."""
    body = await read_json(request, CLOSE_SCHEMA)
    return json_response(await request.app[DAYS].close_till(actor(request), body["counted"]))


@api.route(
    "GET",
    "/api/v1/reports/x",
    summary="X report: the open business day so far (?till= for one till's open session)",
    permission="report.x",
    query=X_QUERY,
    response=REPORT_SCHEMA,
    errors={404: "no open day, or the till is not open"},
)
async def x_report(request: web.Request) -> web.Response:
    """Return the X report."""
    till = query_param(request, "till", X_QUERY["till"])
    return json_response(await request.app[DAYS].x_report(till))


@api.route(
    "POST",
    "/api/v1/reports/z",
    summary="Z report: close the business day (every till closed first; once per day)",
    permission="report.z",
    response=REPORT_SCHEMA,
    errors={409: "a till is still open, or the day is closed already"},
)
async def z_report(request: web.Request) -> web.Response:
    """Close the day."""
    return json_response(await request.app[DAYS].z_report(actor(request)), status=201)


@api.route(
    "GET",
    "/api/v1/reports/z",
    summary="The recorded Z reports, newest first",
    permission="report.x",
)
async def list_z(request: web.Request) -> web.Response:
    """Return every Z report."""
    return json_response({"reports": await request.app[DAYS].z_reports()})


@api.route(
    "GET",
    "/api/v1/reports/z/{z_no}",
    summary="One recorded Z report by its number",
    permission="report.x",
    response=REPORT_SCHEMA,
    errors={404: "no such Z report"},
)
async def get_z(request: web.Request) -> web.Response:
    """Return one Z report."""
    text = request.match_info["z_no"]
    number = int(text) if text.isdigit() and len(text) < 10 else -1
    return json_response((await request.app[DAYS].z_reports(number))[0])


@api.route(
    "POST",
    "/api/v1/hours/override",
    summary="Let the tills trade outside business hours for some minutes (recorded)",
    permission="hours.override",
    request=OVERRIDE_SCHEMA,
)
async def override_hours(request: web.Request) -> web.Response:
    """Record a business-hours override."""
    body = await read_json(request, OVERRIDE_SCHEMA)
    until = await request.app[DAYS].override_hours(body["minutes"], body["reason"], actor(request))
    return json_response({"until": until}, status=201)
