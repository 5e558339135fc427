"""Back-office reports over HTTP (JSON and CSV).

Each report is its own route with the permission it needs (costs and margins are for
managers); all take `from`/`to` (local dates in the store's time zone, inclusive, today by
default) and `format=csv` for the same figures as a CSV file.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from aiohttp import web

from edge.domain.reports import render_csv
from edge.services.reports import Reports
from edge.web.api import Api, Handler, json_response, query_param
from edge.web.keys import CHECKOUT, LEDGER, SETTINGS
from edge.web.schema import Schema

api = Api("reports")

_DAY: Schema = {"type": "string", "minLength": 10, "maxLength": 10}
RANGE_QUERY: dict[str, Schema] = {"from": _DAY, "to": _DAY}
REPORT_QUERY: dict[str, Schema] = RANGE_QUERY | {
    "format": {"enum": ["json", "csv"], "default": "json"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10},
}
TABLE_SCHEMA: Schema = {
    "type": "object",
    "required": ["report", "from", "to", "columns", "rows", "totals"],
    "properties": {
        "report": {"type": "string"},
        "from": {"type": "string"},
        "to": {"type": "string"},
        "columns": {"type": "array", "items": {"type": "string"}},
        "rows": {"type": "array", "items": {"type": "object"}},
        "totals": {"type": "object"},
    },
}
DASHBOARD_SCHEMA: Schema = {
    "type": "object",
    "properties": {
        "date": {"type": "string"},
        "sales": {"type": "integer"},
        "net": {"type": "integer"},
        "average_ticket": {"type": "integer"},
        "hourly": {"type": "array"},
        "top": {"type": "array"},
    },
}
_ERRORS = {400: "bad dates, from after to, or a range over 366 days"}

# name -> (summary, permission)
CATALOG: dict[str, tuple[str, str]] = {
    "daily": ("Sales per day: tickets, gross, returned, net, discounts, tax", "report.x"),
    "hourly": ("Sales per hour of the day (store time), over the range", "report.x"),
    "category": ("Net quantity and amount per category, returns netted", "report.x"),
    "payment": ("Taken, refunded and net per tender kind", "report.x"),
    "tax": ("Net, tax and gross per tax rate, returns netted", "report.x"),
    "discounts": ("Discounts given per promotion", "report.x"),
    "products": ("Top products by net amount (?limit=)", "report.x"),
    "margin": ("Gross margin per product: revenue without tax against cost", "report.z"),
    "stock-value": ("Stock value at cost, cost of goods sold and turnover", "report.z"),
    "slow-movers": ("Products in stock that sold least over the range", "report.x"),
}


def reports_of(request: web.Request) -> Reports:
    """Return the reports service over this app's ledger."""
    app = request.app
    return Reports(app[LEDGER], app[SETTINGS].tz, app[CHECKOUT].clock)


def _range(request: web.Request, reports: Reports) -> tuple[date, date]:
    """Read and check ?from=&to=."""
    start = query_param(request, "from", RANGE_QUERY["from"])
    end = query_param(request, "to", RANGE_QUERY["to"])
    return reports.range(start, end)


def _report_handler(name: str) -> Handler:
    """Return the handler of one named report."""

    async def handler(request: web.Request) -> web.Response:
        reports = reports_of(request)
        first, last = _range(request, reports)
        limit = query_param(request, "limit", REPORT_QUERY["limit"])
        table = await reports.report(name, first, last, limit)
        if query_param(request, "format", REPORT_QUERY["format"]) == "csv":
            filename = f"{name}-{first.isoformat()}-{last.isoformat()}.csv"
            return web.Response(
                text=render_csv(table),
                content_type="text/csv",
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        return json_response(table.to_data(first, last))

    handler.__doc__ = f"Return the {name} report."
    return handler


def _register(name: str, summary: str, permission: str) -> Callable[[Handler], Handler]:
    """Register one report route."""
    return api.route(
        "GET",
        f"/api/v1/reports/{name}",
        summary=summary,
        permission=permission,
        query=REPORT_QUERY,
        response=TABLE_SCHEMA,
        errors=_ERRORS,
    )


@api.route(
    "GET",
    "/api/v1/reports/dashboard",
    summary="One day at a glance: sales, tickets, average ticket, per hour, top 10 products",
    permission="report.x",
    query={"date": _DAY},
    response=DASHBOARD_SCHEMA,
    errors=_ERRORS,
)
async def dashboard(request: web.Request) -> web.Response:
    """Return the dashboard's figures."""
    reports = reports_of(request)
    text = query_param(request, "date", _DAY)
    day = reports.range(text, text)[0] if text else None
    return json_response(await reports.dashboard(day))


for _name, (_summary, _permission) in CATALOG.items():
    _register(_name, _summary, _permission)(_report_handler(_name))


@api.route(
    "GET",
    "/api/v1/reports/{name}",
    summary="Any other report name: 404 unknown_report",
    permission="report.x",
    errors={404: "no such report"},
)
async def unknown_report(request: web.Request) -> web.Response:
    """Refuse a report name nobody knows."""
    reports = reports_of(request)
    await reports.report(request.match_info["name"], reports.today(), reports.today())
    raise web.HTTPNotFound  # not reached: every known name has its own route
