"""API routes that carry their own documentation and permission.

`Api.route` registers an aiohttp handler and records its operation (summary, permission,
request and response schemas, errors). The OpenAPI document is built from those records and
request bodies are validated against the same schemas, so documentation cannot drift from
behaviour.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from edge import __version__
from edge.domain.errors import InvalidInput, ValidationFailed
from edge.web.schema import Schema, validate

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPERATION_ATTR = "__edge_operation__"

ERROR_SCHEMA: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"path": {"type": "string"}, "problem": {"type": "string"}},
                    },
                },
            },
        }
    },
}


@dataclass(frozen=True)
class Operation:
    """One documented API operation."""

    method: str
    path: str
    summary: str
    permission: str
    tag: str
    request: Schema | None = None
    response: Schema | None = None
    errors: dict[int, str] = field(default_factory=dict)
    query: dict[str, Schema] = field(default_factory=dict)


class Api:
    """A RouteTableDef for one area of the API that also records each operation."""

    def __init__(self, tag: str) -> None:
        """Name the area (the OpenAPI tag)."""
        self.tag = tag
        self.routes = web.RouteTableDef()
        self.operations: list[Operation] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        permission: str,
        request: Schema | None = None,
        response: Schema | None = None,
        errors: dict[int, str] | None = None,
        query: dict[str, Schema] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register a handler with its documentation and the permission it needs."""
        operation = Operation(
            method.upper(),
            path,
            summary,
            permission,
            self.tag,
            request,
            response,
            errors or {},
            query or {},
        )

        def register(handler: Handler) -> Handler:
            setattr(handler, OPERATION_ATTR, operation)
            self.routes.route(method, path)(handler)
            self.operations.append(operation)
            return handler

        return register


def compact_json(value: Any) -> str:
    """Serialise an answer as compact JSON, UTF-8 text as is (smaller and faster to write).

    orjson writes it (several times faster than the json module); what it refuses (integers
    beyond 64 bits, lone surrogates) goes through the json module.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Answer `data` as compact JSON (every API answer goes through here)."""
    return json_text_response(compact_json(data), status=status, headers=headers)


def json_text_response(
    text: str, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Answer JSON text already made (what `json_response` sends for a value)."""
    return web.Response(text=text, status=status, headers=headers, content_type="application/json")


def operation_of(handler: object) -> Operation | None:
    """Return the operation a handler was registered with, if any."""
    found = getattr(handler, OPERATION_ATTR, None)
    return found if isinstance(found, Operation) else None


async def read_json(request: web.Request, schema: Schema) -> dict[str, Any]:
    """Read a JSON object body and check it against `schema`; 400 with every problem."""
    raw = await request.read()  # over client_max_size: 413, mapped to JSON by the middleware
    if not raw:
        raise InvalidInput("the request body is empty; send a JSON object", code="empty_body")
    try:
        body = orjson.loads(raw)  # strict: no NaN or Infinity, UTF-8 only, no lone surrogates
    except orjson.JSONDecodeError as err:
        raise InvalidInput(f"malformed JSON: {err}", code="malformed_json") from err
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", code="malformed_json")
    problems = validate(body, schema)
    if problems:
        raise ValidationFailed(problems)
    return body


def query_param(request: web.Request, name: str, schema: Schema) -> Any:
    """Return a query parameter converted to the schema's type (400 when it does not fit)."""
    text = request.query.get(name)
    if text is None:
        return schema.get("default")
    value: Any = text
    if schema.get("type") == "integer":
        try:
            value = int(text)
        except ValueError:
            raise ValidationFailed([(f"query.{name}", "must be an integer")]) from None
    problems = validate(value, schema, f"query.{name}")
    if problems:
        raise ValidationFailed(problems)
    return value


def openapi_document(operations: Iterable[Operation], title: str) -> dict[str, Any]:
    """Build the OpenAPI 3.1 document of the given operations."""
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", op.path)  # OpenAPI has no {name:regex}
        entry: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "x-permission": op.permission,
            "operationId": f"{op.method.lower()}_{path.strip('/').replace('/', '_')}",
        }
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_params(op.path)
        ]
        parameters += [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in op.query.items()
        ]
        if parameters:
            entry["parameters"] = parameters
        if op.request is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": op.request}},
            }
        ok: dict[str, Any] = {"description": "OK"}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": op.response}}
        responses: dict[str, Any] = {"200": ok}
        for status, text in sorted({400: "invalid request", **op.errors}.items()):
            responses[str(status)] = {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        entry["responses"] = responses
        paths.setdefault(path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__},
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }


def _path_params(path: str) -> list[str]:
    """Return the {names} in an aiohttp path."""
    return [
        part[1:-1].split(":")[0]
        for part in path.split("/")
        if part.startswith("{") and part.endswith("}")
    ]
