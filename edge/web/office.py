"""Back office over HTTP: time clock, rota, staff performance, expenses, customer feedback."""

from __future__ import annotations

from aiohttp import web

from edge.domain.errors import InvalidInput
from edge.web.api import Api, json_response, query_param, read_json
from edge.web.auth import actor
from edge.web.keys import OFFICE
from edge.web.sales import UUID
from edge.web.schema import Schema

api = Api("office")

_DATE: Schema = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_HHMM: Schema = {"type": "string", "pattern": "^[0-9]{2}:[0-9]{2}$"}
RANGE_QUERY: dict[str, Schema] = {"from": _DATE, "to": _DATE}
SHIFTS_QUERY: dict[str, Schema] = {**RANGE_QUERY, "staff": {"type": "string", "maxLength": 20}}
CLOCK_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["action"],
    "properties": {"action": {"enum": ["in", "out"]}},
}
ROTA_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["shifts"],
    "properties": {
        "shifts": {
            "type": "array",
            "maxItems": 500,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["staff", "day", "start", "end"],
                "properties": {
                    "staff": {"type": "string", "minLength": 1, "maxLength": 20},
                    "day": {"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
                    "start": _HHMM,
                    "end": _HHMM,
                },
            },
        }
    },
}
EXPENSE_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "category", "amount"],
    "properties": {
        "id": UUID,
        "category": {"enum": ["utility", "rent", "sundries", "wages", "repairs", "other"]},
        "amount": {"type": "integer", "minimum": 1, "maximum": 1_000_000_000},
        "date": _DATE,
        "note": {"type": "string", "maxLength": 200},
        "photo": {"type": ["string", "null"], "maxLength": 200},  # a reference to the picture
    },
}
FEEDBACK_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "kind", "text"],
    "properties": {
        "id": UUID,
        "kind": {"enum": ["complaint", "suggestion", "praise"]},
        "text": {"type": "string", "minLength": 1, "maxLength": 2000},
        "contact": {"type": ["string", "null"], "maxLength": 80},
        "sale": {"type": ["string", "null"], "maxLength": 40},
        "owner": {"type": ["string", "null"], "maxLength": 20},
    },
}
FEEDBACK_UPDATE_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "owner": {"type": ["string", "null"], "maxLength": 20},
        "status": {"enum": ["open", "in_progress", "resolved"]},
        "resolution": {"type": ["string", "null"], "maxLength": 2000},
    },
}
FEEDBACK_QUERY: dict[str, Schema] = {"status": {"enum": ["open", "in_progress", "resolved"]}}


def _range(request: web.Request, query: dict[str, Schema]) -> tuple[str, str]:
    """Return the from/to dates a report asks for (both required)."""
    start = query_param(request, "from", query["from"])
    end = query_param(request, "to", query["to"])
    if start is None or end is None:
        raise InvalidInput("give ?from=YYYY-MM-DD&to=YYYY-MM-DD", code="bad_range")
    return str(start), str(end)


@api.route(
    "POST",
    "/api/v1/staff/clock",
    summary="Clock the signed-in staff member in or out",
    permission="session.own",
    request=CLOCK_SCHEMA,
    errors={409: "clocked in already, not clocked in, or not a staff member"},
)
async def clock(request: web.Request) -> web.Response:
    """Clock in or out."""
    body = await read_json(request, CLOCK_SCHEMA)
    done = await request.app[OFFICE].clock_in_out(actor(request), body["action"])
    return json_response(done, status=201)


@api.route(
    "GET",
    "/api/v1/staff/shifts",
    summary="Worked shifts between two dates (?staff= for one person), in minutes",
    permission="staff.read",
    query=SHIFTS_QUERY,
)
async def shifts(request: web.Request) -> web.Response:
    """List worked shifts."""
    start, end = _range(request, SHIFTS_QUERY)
    staff = query_param(request, "staff", SHIFTS_QUERY["staff"])
    return json_response({"shifts": await request.app[OFFICE].shifts(staff, start, end)})


@api.route(
    "PUT",
    "/api/v1/rota/{week}",
    summary="Replace the rota of the week starting on Monday {week} (YYYY-MM-DD)",
    permission="staff.write",
    request=ROTA_SCHEMA,
    errors={404: "unknown staff"},
)
async def put_rota(request: web.Request) -> web.Response:
    """Save a week's rota."""
    body = await read_json(request, ROTA_SCHEMA)
    saved = await request.app[OFFICE].save_rota(
        request.match_info["week"], body["shifts"], actor(request)
    )
    return json_response(saved)


@api.route(
    "GET",
    "/api/v1/rota/{week}",
    summary="The rota of a week with each person's planned minutes",
    permission="session.own",
)
async def get_rota(request: web.Request) -> web.Response:
    """Return a week's rota."""
    return json_response(await request.app[OFFICE].rota(request.match_info["week"]))


@api.route(
    "GET",
    "/api/v1/reports/staff",
    summary="Sales per staff member over business days: tickets, items, average, commission",
    permission="report.x",
    query=RANGE_QUERY,
)
async def performance(request: web.Request) -> web.Response:
    """Return staff performance."""
    start, end = _range(request, RANGE_QUERY)
    return json_response(await request.app[OFFICE].performance(start, end))


@api.route(
    "POST",
    "/api/v1/expenses",
    summary="Record an expense (idempotent by id) with its category and receipt photo",
    permission="expense.write",
    request=EXPENSE_SCHEMA,
    errors={409: "the id was used for another expense"},
)
async def post_expense(request: web.Request) -> web.Response:
    """Record an expense."""
    body = await read_json(request, EXPENSE_SCHEMA)
    recorded = await request.app[OFFICE].record_expense(body["id"].lower(), body, actor(request))
    return json_response(recorded, status=201)


@api.route(
    "GET",
    "/api/v1/expenses",
    summary="Expenses between two dates with totals per category",
    permission="report.x",
    query=RANGE_QUERY,
)
async def list_expenses(request: web.Request) -> web.Response:
    """List expenses."""
    start, end = _range(request, RANGE_QUERY)
    return json_response(await request.app[OFFICE].expenses(start, end))


@api.route(
    "POST",
    "/api/v1/feedback",
    summary="Take down a shopper's complaint, suggestion or praise (idempotent by id)",
    permission="feedback.write",
    request=FEEDBACK_SCHEMA,
    errors={409: "the id was used already"},
)
async def post_feedback(request: web.Request) -> web.Response:
    """Record feedback."""
    body = await read_json(request, FEEDBACK_SCHEMA)
    recorded = await request.app[OFFICE].record_feedback(body["id"].lower(), body, actor(request))
    return json_response(recorded, status=201)


@api.route(
    "PATCH",
    "/api/v1/feedback/{feedback_id}",
    summary="Assign feedback, move its status, record how it was resolved",
    permission="feedback.manage",
    request=FEEDBACK_UPDATE_SCHEMA,
    errors={404: "no such feedback", 400: "resolved without a resolution"},
)
async def patch_feedback(request: web.Request) -> web.Response:
    """Update feedback."""
    body = await read_json(request, FEEDBACK_UPDATE_SCHEMA)
    updated = await request.app[OFFICE].update_feedback(
        request.match_info["feedback_id"].lower(), body, actor(request)
    )
    return json_response(updated)


@api.route(
    "GET",
    "/api/v1/feedback",
    summary="Customer feedback (?status=open|in_progress|resolved), newest first",
    permission="feedback.manage",
    query=FEEDBACK_QUERY,
)
async def list_feedback(request: web.Request) -> web.Response:
    """List feedback."""
    status = query_param(request, "status", FEEDBACK_QUERY["status"])
    return json_response({"feedback": await request.app[OFFICE].feedback(status)})
