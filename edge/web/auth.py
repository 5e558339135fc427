"""Who may call what: the permission check every route goes through, and the sign-in API.

Deny by default: a route that declares no permission answers 403 to everyone. Credentials are
an `Authorization: Bearer` API token, or the till cookies: `edge_till` (the paired device) and
`edge_session` (the staff member signed in on it). Both cookies are HttpOnly and
SameSite=Strict (and Secure under HTTPS). A write authenticated by cookie must also carry the
`X-Edge-CSRF` token the pairing and sign-in answers gave, and a foreign `Origin` is refused,
so another site cannot make a till's browser sell or refund.

A cashier who lacks a permission sends `X-Edge-Approval: STAFF:PIN` of a supervisor or manager
standing at the till; the approval is checked against that person's role, counted like a
sign-in and recorded as an `auth.approved` event.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from edge.domain.errors import Forbidden, InvalidInput, Unauthorized
from edge.domain.staff import PERMISSIONS, PUBLIC, TILL
from edge.services.auth import Auth, Principal, StaffInput
from edge.services.catalog import Actor
from edge.web.api import Api, json_response, operation_of, read_json
from edge.web.keys import AUTH, PRINCIPAL
from edge.web.schema import Schema

api = Api("auth")

TILL_COOKIE = "edge_till"
SESSION_COOKIE = "edge_session"
CSRF_HEADER = "X-Edge-CSRF"
APPROVAL_HEADER = "X-Edge-Approval"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TILL_COOKIE_DAYS = 3650


def principal_of(request: web.Request) -> Principal | None:
    """Return who the request comes from (set by the middleware)."""
    return request.get(PRINCIPAL)


def actor(request: web.Request) -> Actor:
    """Return who acts, for the events a handler appends."""
    principal = principal_of(request)
    return principal.actor if principal is not None else Actor()


async def require(request: web.Request, permission: str, action: str) -> str | None:
    """Pass if the caller has `permission`, or a supervisor approves it here and now.

    Return the approver's staff id when an approval was used (None when not needed).
    """
    principal = principal_of(request)
    if principal is None:
        raise Unauthorized("sign in first", code="sign_in_required")
    if principal.may(permission):
        return None
    header = request.headers.get(APPROVAL_HEADER)
    if header is None:
        raise Forbidden(
            f"{permission} needs a supervisor's approval ({APPROVAL_HEADER}: STAFF:PIN)",
            code="approval_required",
        )
    approver, _, pin = header.partition(":")
    if not approver or not pin:
        raise InvalidInput(f"{APPROVAL_HEADER} is STAFF:PIN", code="bad_approval")
    return await request.app[AUTH].approve(principal, permission, approver, pin, action)


def _credentials(request: web.Request) -> tuple[str | None, str | None, str | None]:
    """Return (bearer token, device token, session token) as the request carries them."""
    header = request.headers.get("Authorization", "")
    bearer = header[7:].strip() if header[:7].lower() == "bearer " else None
    return bearer, request.cookies.get(TILL_COOKIE), request.cookies.get(SESSION_COOKIE)


def _check_forgery(request: web.Request, auth: Auth, device: str) -> None:
    """Refuse a cookie-authenticated write from another site."""
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise Forbidden("cross-site request refused", code="cross_site")
    if request.headers.get(CSRF_HEADER) != auth.csrf_for(device):
        raise Forbidden(f"missing or wrong {CSRF_HEADER} header", code="csrf")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the caller and check the route's permission before the handler runs."""
    match = request.match_info
    if match.http_exception is not None:  # 404 / 405: nothing to protect
        return await handler(request)
    operation = operation_of(match.handler)
    if operation is None:
        raise Forbidden("this route declares no permission", code="no_permission_declared")
    permission = operation.permission
    if permission == PUBLIC:
        return await handler(request)
    auth = request.app[AUTH]
    bearer, device, session = _credentials(request)
    principal = auth.principal(bearer=bearer, device=device, session=session)
    if principal is None:
        raise Unauthorized(
            "send an API token, or pair this device as a till and sign in", code="unauthorized"
        )
    if principal.kind != "token" and request.method not in SAFE_METHODS:
        assert device is not None  # noqa: S101 - a cookie principal has a device
        _check_forgery(request, auth, device)
    request[PRINCIPAL] = principal
    if permission != TILL:
        if principal.kind == "till":
            raise Unauthorized("sign in on this till first", code="sign_in_required")
        await require(request, permission, f"{request.method} {operation.path}")
    return await handler(request)


def _cookie(
    response: web.StreamResponse, request: web.Request, name: str, value: str, max_age: int
) -> None:
    """Set an HttpOnly, SameSite=Strict cookie (Secure when the till uses HTTPS)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


def _session_json(request: web.Request, principal: Principal | None) -> dict[str, Any]:
    """Describe who is at this till and what they may do."""
    auth = request.app[AUTH]
    device = request.cookies.get(TILL_COOKIE)
    return {
        "till": principal.till if principal else None,
        "staff": principal.staff if principal else None,
        "name": principal.name if principal else None,
        "role": principal.role if principal else None,
        "permissions": sorted(p for p in PERMISSIONS if principal and principal.may(p)),
        "csrf": auth.csrf_for(device) if device and principal else None,
    }


PAIR_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["code"],
    "properties": {"code": {"type": "string", "minLength": 4, "maxLength": 40}},
}
SIGN_IN_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "staff": {"type": "string", "minLength": 1, "maxLength": 20},
        "pin": {"type": "string", "minLength": 1, "maxLength": 16},
        "badge": {"type": "string", "minLength": 4, "maxLength": 64},
    },
}
PAIRING_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["till"],
    "properties": {
        "till": {"type": "string", "minLength": 1, "maxLength": 20},
        "name": {"type": "string", "maxLength": 40},
    },
}
STAFF_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "role"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 60},
        "role": {"enum": ["cashier", "supervisor", "manager", "technician"]},
        "active": {"type": "boolean"},
        "pin": {"type": "string", "minLength": 1, "maxLength": 16},
        "badge": {"type": ["string", "null"], "minLength": 4, "maxLength": 64},
        "commission_bp": {"type": "integer", "minimum": 0, "maximum": 10_000},
    },
}
TOKEN_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["role"],
    "properties": {
        "role": {"enum": ["cashier", "supervisor", "manager", "technician"]},
        "till": {"type": ["string", "null"], "minLength": 1, "maxLength": 20},
    },
}
SESSION_RESPONSE: Schema = {
    "type": "object",
    "properties": {
        "till": {"type": ["string", "null"]},
        "staff": {"type": ["string", "null"]},
        "role": {"type": ["string", "null"]},
        "permissions": {"type": "array"},
        "csrf": {"type": ["string", "null"]},
    },
}


@api.route(
    "POST",
    "/api/v1/tills/pair",
    summary="Make this browser a till with a one-time pairing code (sets the till cookie)",
    permission=PUBLIC,
    request=PAIR_SCHEMA,
    response=SESSION_RESPONSE,
    errors={401: "unknown, used or expired code"},
)
async def pair_till(request: web.Request) -> web.Response:
    """Pair the calling browser."""
    body = await read_json(request, PAIR_SCHEMA)
    auth = request.app[AUTH]
    till, device = await auth.pair(body["code"])
    response = json_response({"till": till, "csrf": auth.csrf_for(device)}, status=201)
    _cookie(response, request, TILL_COOKIE, device, TILL_COOKIE_DAYS * 86_400)
    return response


@api.route(
    "GET",
    "/api/v1/session",
    summary="Who is at this till and what they may do (till null: this browser is not paired)",
    permission=PUBLIC,
    response=SESSION_RESPONSE,
)
async def get_session(request: web.Request) -> web.Response:
    """Describe the caller; an unpaired browser learns it must pair (a normal answer, not 401)."""
    bearer, device, session = _credentials(request)
    principal = request.app[AUTH].principal(bearer=bearer, device=device, session=session)
    return json_response(_session_json(request, principal))


@api.route(
    "POST",
    "/api/v1/session",
    summary="Sign in on this till with staff id and PIN, or a badge (sets the session cookie)",
    permission=TILL,
    request=SIGN_IN_SCHEMA,
    response=SESSION_RESPONSE,
    errors={401: "staff id or PIN not accepted (the same answer for unknown, wrong or locked)"},
)
async def sign_in(request: web.Request) -> web.Response:
    """Open a staff session bound to this till."""
    body = await read_json(request, SIGN_IN_SCHEMA)
    principal = principal_of(request)
    if principal is None or principal.kind == "token" or principal.till is None:
        raise Unauthorized("sign in on a paired till", code="not_a_till")
    auth = request.app[AUTH]
    signed = await auth.sign_in(
        principal.till, staff_id=body.get("staff"), pin=body.get("pin"), badge=body.get("badge")
    )
    now = Principal("staff", signed.till, staff=signed.staff, role=signed.role, name=signed.name)
    response = json_response(_session_json(request, now) | {"expires": signed.expires})
    _cookie(response, request, SESSION_COOKIE, signed.token, auth.settings.session_hours * 3600)
    return response


@api.route(
    "DELETE",
    "/api/v1/session",
    summary="Sign out of this till",
    permission=TILL,
)
async def sign_out(request: web.Request) -> web.Response:
    """End the session and clear its cookie."""
    principal = principal_of(request)
    if principal is not None:
        await request.app[AUTH].sign_out(principal)
    response = json_response({"signed_out": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@api.route(
    "POST",
    "/api/v1/tills/pairings",
    summary="Make a one-time code that pairs one browser as the given till",
    permission="till.manage",
    request=PAIRING_SCHEMA,
)
async def create_pairing(request: web.Request) -> web.Response:
    """Return the code to type on the new till."""
    body = await read_json(request, PAIRING_SCHEMA)
    code, expires = await request.app[AUTH].create_pairing(
        body["till"], body.get("name") or body["till"], actor(request)
    )
    return json_response({"till": body["till"], "code": code, "expires": expires}, status=201)


@api.route("GET", "/api/v1/tills", summary="The store's tills", permission="till.manage")
async def list_tills(request: web.Request) -> web.Response:
    """Return the tills and who is signed in on each."""
    return json_response({"tills": await request.app[AUTH].list_tills()})


@api.route(
    "DELETE",
    "/api/v1/tills/{till}",
    summary="Unpair a till (lost or replaced device)",
    permission="till.manage",
    errors={404: "no such paired till"},
)
async def unpair_till(request: web.Request) -> web.Response:
    """Forget the till's device."""
    await request.app[AUTH].unpair(request.match_info["till"], actor(request))
    return json_response({"unpaired": request.match_info["till"]})


@api.route(
    "GET", "/api/v1/staff", summary="Staff and their sign-in record", permission="staff.read"
)
async def list_staff(request: web.Request) -> web.Response:
    """Return every staff member (no secrets)."""
    return json_response({"staff": await request.app[AUTH].list_staff()})


@api.route(
    "PUT",
    "/api/v1/staff/{staff_id}",
    summary="Create or update a staff member (a new one needs a PIN; no badge keeps it)",
    permission="staff.write",
    request=STAFF_SCHEMA,
    errors={409: "badge used by someone else"},
)
async def put_staff(request: web.Request) -> web.Response:
    """Save a staff member."""
    body = await read_json(request, STAFF_SCHEMA)
    staff = StaffInput(
        id=request.match_info["staff_id"],
        name=body["name"],
        role=body["role"],
        active=body.get("active", True),
        badge=body.get("badge"),
        commission_bp=body.get("commission_bp", 0),
    )
    outcome = await request.app[AUTH].save_staff(
        staff, body.get("pin"), actor(request), keep_badge="badge" not in body
    )
    return json_response(
        {"id": staff.id, "outcome": outcome}, status=201 if outcome == "created" else 200
    )


@api.route(
    "PUT",
    "/api/v1/tokens/{name}",
    summary="Create or replace a named API token with a role (the token is shown once)",
    permission="token.manage",
    request=TOKEN_SCHEMA,
)
async def put_token(request: web.Request) -> web.Response:
    """Return a new token."""
    body = await read_json(request, TOKEN_SCHEMA)
    name = request.match_info["name"]
    token = await request.app[AUTH].create_token(
        name, body["role"], body.get("till"), actor(request)
    )
    return json_response({"name": name, "role": body["role"], "token": token}, status=201)


@api.route(
    "DELETE",
    "/api/v1/tokens/{name}",
    summary="Revoke an API token",
    permission="token.manage",
    errors={404: "no live token with that name"},
)
async def delete_token(request: web.Request) -> web.Response:
    """Revoke a token."""
    await request.app[AUTH].revoke_token(request.match_info["name"], actor(request))
    return json_response({"revoked": request.match_info["name"]})
