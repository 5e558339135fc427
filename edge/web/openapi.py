"""The API's own description at /api/v1/openapi.json, built from the registered operations."""

from __future__ import annotations

from aiohttp import web

from edge.web.api import Api, json_response, openapi_document
from edge.web.keys import APIS

api = Api("meta")


@api.route(
    "GET",
    "/api/v1/openapi.json",
    summary="This API's OpenAPI 3.1 document",
    permission="public",
    response={"type": "object"},
)
async def get_openapi(request: web.Request) -> web.Response:
    """Return the OpenAPI document of every registered operation."""
    operations = [op for area in request.app[APIS] for op in area.operations]
    return json_response(openapi_document(operations, "store-edge"))
