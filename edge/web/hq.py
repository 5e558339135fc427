"""The HQ link's state for the back office and the operator's retry."""

from __future__ import annotations

from aiohttp import web

from edge.domain.errors import Conflict
from edge.web.api import Api, json_response
from edge.web.keys import UPLINK

api = Api("hq")


@api.route(
    "GET",
    "/api/v1/hq",
    summary="The HQ link: acknowledged cursor, backlog and its oldest event's age, last error",
    permission="hq.read",
    response={"type": "object"},
)
async def hq_status(request: web.Request) -> web.Response:
    """Return the HQ link's status."""
    return json_response(request.app[UPLINK].status())


@api.route(
    "POST",
    "/api/v1/hq/retry",
    summary="Resume forwarding after HQ refused a batch (once the cause is fixed)",
    permission="hq.manage",
    errors={409: "the link is not stopped"},
)
async def hq_retry(request: web.Request) -> web.Response:
    """Resume a stopped HQ link."""
    uplink = request.app[UPLINK]
    if not uplink.retry():
        raise Conflict("the HQ link is not stopped", code="not_stopped")
    return json_response({"status": "retrying"}, status=202)
