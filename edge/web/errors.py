"""One place that turns failures into JSON errors: `{"error":{"code":…,"message":…}}`."""

from __future__ import annotations

import json
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from edge.domain.errors import DomainError, ValidationFailed
from edge.ledger.errors import LedgerClosedError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
}


def json_error(
    status: int, code: str, message: str, fields: list[tuple[str, str]] | None = None
) -> web.Response:
    """Build a JSON error response (with the invalid fields when there are any)."""
    error: dict[str, object] = {"code": code, "message": message}
    if fields:
        error["fields"] = [{"path": path, "problem": problem} for path, problem in fields]
    body = json.dumps({"error": error}, ensure_ascii=False)
    return web.Response(status=status, text=body, content_type="application/json")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map domain errors and HTTP errors to JSON; log and hide anything unexpected."""
    try:
        return await handler(request)
    except ValidationFailed as err:
        return json_error(err.status, err.code, err.message, err.problems)
    except DomainError as err:
        return json_error(err.status, err.code, err.message)
    except web.HTTPException as err:
        if err.status < 400 or not request.path.startswith("/api/"):
            raise
        code = _HTTP_CODES.get(err.status, "http_error")
        return json_error(err.status, code, err.reason if err.text is None else err.text)
    except LedgerClosedError:
        return json_error(503, "shutting_down", "the server is shutting down; retry shortly")
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal_error", "internal error (logged on the server)")
