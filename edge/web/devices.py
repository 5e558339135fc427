"""Devices over HTTP: records and credentials, health and alerts, commands, print jobs, kiosks."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from edge.domain.devices import DEVICE_TYPES, Device
from edge.domain.errors import InvalidInput, NotFound
from edge.protocol.mqtt import ID_PATTERN
from edge.web.api import Api, json_response, query_param, read_json
from edge.web.auth import actor, principal_of
from edge.web.keys import DEVICES, SOCKETS
from edge.web.schema import Schema

api = Api("devices")

_ID: Schema = {"type": "string", "pattern": ID_PATTERN.pattern}
_TILL: Schema = {"type": ["string", "null"], "minLength": 1, "maxLength": 20}
ADD_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "type"],
    "properties": {
        "id": _ID,
        "type": {"enum": list(DEVICE_TYPES)},
        "gateway": {"type": ["string", "null"], "pattern": ID_PATTERN.pattern},
        "till": _TILL,
        "label": {"type": "string", "maxLength": 80},
    },
}
UPDATE_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "gateway": {"type": ["string", "null"], "pattern": ID_PATTERN.pattern},
        "till": _TILL,
        "label": {"type": "string", "maxLength": 80},
    },
}
COMMAND_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "pin": {"enum": [2, 5]},
        "lines": {
            "type": "array",
            "maxItems": 4,
            "items": {"type": "string", "maxLength": 40},
        },
    },
}
VERBS = {"scale": ("tare", "zero", "weigh"), "drawer": ("open",), "display": ("show",),
         "printer": ("status", "open")}  # fmt: skip
JOBS_QUERY: dict[str, Schema] = {"state": {"enum": ["pending", "printed", "failed"]}}
PRINT_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"reprint": {"type": "boolean"}},
}


@api.route(
    "GET",
    "/api/v1/devices",
    summary="Every device with its state, last seen time, paper; alerts; bus counters",
    permission="device.read",
    response={"type": "object"},
)
async def list_devices(request: web.Request) -> web.Response:
    """Return the devices and their health."""
    center = request.app[DEVICES]
    return json_response(
        {
            "bus": {"running": center.sender is not None, "counts": dict(center.counts)},
            "devices": center.snapshot(),
            "alerts": center.alerts(),
        }
    )


@api.route(
    "POST",
    "/api/v1/devices",
    summary="Add a device: its record and broker credentials (the password is shown once)",
    permission="device.manage",
    request=ADD_SCHEMA,
    errors={409: "a device with that id exists", 404: "unknown gateway"},
)
async def add_device(request: web.Request) -> web.Response:
    """Create a device and return its password once."""
    body = await read_json(request, ADD_SCHEMA)
    center = request.app[DEVICES]
    device, password = await center.records.add(
        Device(body["id"], body["type"], body.get("gateway"), body.get("till"),
               body.get("label", "")),
        actor(request),
    )  # fmt: skip
    await center.refresh()
    return json_response(
        {"device": center.health.view(device), "username": device.id, "password": password},
        status=201,
    )


@api.route(
    "PATCH",
    "/api/v1/devices/{device_id}",
    summary="Bind a device to a till or kiosk, move it to a gateway, or relabel it",
    permission="device.manage",
    request=UPDATE_SCHEMA,
    errors={404: "no such device or gateway"},
)
async def update_device(request: web.Request) -> web.Response:
    """Change a device record."""
    body = await read_json(request, UPDATE_SCHEMA)
    center = request.app[DEVICES]
    device = await center.records.update(request.match_info["device_id"], body, actor(request))
    await center.refresh()
    return json_response({"device": center.health.view(device)})


@api.route(
    "POST",
    "/api/v1/devices/{device_id}/rotate",
    summary="Give a device a new broker password (shown once; the old one stops working)",
    permission="device.manage",
    errors={404: "no such device"},
)
async def rotate_device(request: web.Request) -> web.Response:
    """Rotate a device's password."""
    device_id = request.match_info["device_id"]
    password = await request.app[DEVICES].records.rotate(device_id, actor(request))
    return json_response({"username": device_id, "password": password})


@api.route(
    "DELETE",
    "/api/v1/devices/{device_id}",
    summary="Remove a device (its credentials stop working; its history stays)",
    permission="device.manage",
    errors={404: "no such device", 409: "a gateway that still bridges devices"},
)
async def remove_device(request: web.Request) -> web.Response:
    """Remove a device."""
    center = request.app[DEVICES]
    await center.records.remove(request.match_info["device_id"], actor(request))
    await center.refresh()
    return json_response({"removed": request.match_info["device_id"]})


@api.route(
    "POST",
    "/api/v1/devices/{device_id}/commands/{verb}",
    summary="Send a command: tare/zero/weigh a scale, open a drawer, show lines on a display",
    permission="device.operate",
    request=COMMAND_SCHEMA,
    errors={404: "no such device", 409: "the bus is offline", 400: "not a command of it"},
)
async def device_command(request: web.Request) -> web.Response:
    """Send a command to a device."""
    body = await read_json(request, COMMAND_SCHEMA) if request.can_read_body else {}
    center = request.app[DEVICES]
    device = center.device(request.match_info["device_id"])
    verb = request.match_info["verb"]
    if verb not in VERBS.get(device.type, ()):
        raise InvalidInput(f"a {device.type} has no command {verb}", code="bad_command")
    command = await center.command(device.id, verb, body)
    return json_response({"command": command, "device": device.id, "verb": verb}, status=202)


@api.route(
    "GET",
    "/api/v1/devices/{device_id}/weight",
    summary="The last weight a scale reported (stable, in range)",
    permission="device.read",
    errors={404: "no such scale, or no current weight (none yet, an error since, scale offline)"},
)
async def last_weight(request: web.Request) -> web.Response:
    """Return a scale's last weight."""
    center = request.app[DEVICES]
    device = center.device(request.match_info["device_id"])
    reading = center.weight(device.id)
    if reading is None:
        raise NotFound(f"{device.id} has no current weight", code="no_weight")
    return json_response(reading)


@api.route(
    "GET",
    "/api/v1/print-jobs",
    summary="The latest print jobs (?state=pending|printed|failed)",
    permission="device.read",
    query=JOBS_QUERY,
)
async def print_jobs(request: web.Request) -> web.Response:
    """List print jobs."""
    state = query_param(request, "state", JOBS_QUERY["state"])
    return json_response({"jobs": await request.app[DEVICES].printing.jobs(state)})


@api.route(
    "POST",
    "/api/v1/print-jobs/{job}/reprint",
    summary="Print a job's receipt again on its printer (marked as a copy)",
    permission="device.operate",
    errors={404: "no such job or printer", 409: "the bus is offline"},
)
async def reprint(request: web.Request) -> web.Response:
    """Reprint a job."""
    center = request.app[DEVICES]
    job = request.match_info["job"]
    row = next((j for j in await center.printing.jobs(None, 1000) if j["job"] == job), None)
    if row is None:
        raise NotFound(f"no print job {job}", code="unknown_job")
    printer = center.device(row["printer"])
    return json_response(await center.printing.reprint(job, printer, actor(request)), status=201)


@api.route(
    "POST",
    "/api/v1/sales/{sale_id}/print",
    summary="Print a sale's receipt on the printer bound to the caller's till",
    permission="device.operate",
    request=PRINT_SCHEMA,
    errors={404: "no such sale or no printer at this till"},
)
async def print_sale(request: web.Request) -> web.Response:
    """Queue a sale's receipt at this till."""
    body = await read_json(request, PRINT_SCHEMA) if request.can_read_body else {}
    who = actor(request)
    job = await request.app[DEVICES].print_sale(
        request.match_info["sale_id"].lower(), who.till, who, reprint=body.get("reprint", True)
    )
    return json_response(job, status=201)


@api.route(
    "GET",
    "/api/v1/kiosks",
    summary="Every self-checkout kiosk as the attendant screen shows it",
    permission="kiosk.attend",
)
async def kiosks(request: web.Request) -> web.Response:
    """Return the kiosks' states and open calls."""
    center = request.app[DEVICES]
    views = [
        {"kiosk": d.id, "label": d.label, **center.health.kiosk_view(d.id)}
        for d in center.devices.values()
        if d.type == "kiosk"
    ]
    return json_response({"kiosks": sorted(views, key=lambda v: v["kiosk"])})


@api.route(
    "POST",
    "/api/v1/kiosks/{kiosk}/calls/{call}/approve",
    summary="Answer a kiosk's call (age check, weight mismatch, void): the kiosk goes on",
    permission="kiosk.attend",
    errors={404: "no such kiosk or call", 409: "the bus is offline"},
)
async def approve_call(request: web.Request) -> web.Response:
    """Approve a kiosk's open call and tell the kiosk."""
    center = request.app[DEVICES]
    kiosk = center.device(request.match_info["kiosk"])
    if kiosk.type != "kiosk":
        raise NotFound(f"{kiosk.id} is not a kiosk", code="unknown_kiosk")
    call = request.match_info["call"]
    if not any(c["id"] == call for c in center.health.get(kiosk.id).attendant):
        raise NotFound(f"no open call {call} at {kiosk.id}", code="unknown_call")
    who = actor(request)
    command = await center.command(kiosk.id, "approve", {"call": call, "staff": who.staff})
    center.health.clear_call(kiosk.id, call)
    # the kiosk's own screen waits on its live channel for this
    approved = {"type": "approved", "kiosk": kiosk.id, "call": call, "staff": who.staff}
    center.hub.publish(f"till:{kiosk.id}", approved)
    return json_response({"kiosk": kiosk.id, "call": call, "command": command})


def allowed_channels(request: web.Request, wanted: list[str]) -> set[str]:
    """Return the live channels the caller asked for and may follow.

    A till follows its own channel; an attendant also the kiosks' and `attendant`; managers
    and technicians any till; everyone with a role the `devices` health channel.
    """
    principal = principal_of(request)
    if principal is None:
        return set()
    kiosks = {d.id for d in request.app[DEVICES].devices.values() if d.type == "kiosk"}
    allowed: set[str] = set()
    for channel in wanted:
        if channel.startswith("till:"):
            till = channel.removeprefix("till:")
            if (
                till == principal.till
                or principal.may("device.manage")
                or (till in kiosks and principal.may("kiosk.attend"))
            ):
                allowed.add(channel)
        elif (channel == "attendant" and principal.may("kiosk.attend")) or channel == "devices":
            allowed.add(channel)
    return allowed


LIVE_QUERY: dict[str, Schema] = {"channels": {"type": "string", "maxLength": 400}}


@api.route(
    "GET",
    "/api/v1/live",
    summary="WebSocket of live updates: till:{id} (scans, weights), devices, attendant",
    permission="device.read",
    query=LIVE_QUERY,
)
async def live(request: web.Request) -> web.StreamResponse:
    """Stream the channels the caller may follow as JSON messages."""
    wanted = str(query_param(request, "channels", LIVE_QUERY["channels"]) or "").split(",")
    principal = principal_of(request)
    if principal is not None and principal.till and not any(wanted):
        wanted = [f"till:{principal.till}"]
    channels = allowed_channels(request, [c.strip() for c in wanted if c.strip()])
    socket = web.WebSocketResponse(heartbeat=20.0)
    if not socket.can_prepare(request).ok:
        raise NotFound("this is a WebSocket; connect with Upgrade: websocket", code="websocket")
    await socket.prepare(request)
    center = request.app[DEVICES]
    subscription = center.hub.subscribe(channels)
    request.app[SOCKETS].add(socket)
    try:
        await socket.send_json({"type": "hello", "channels": sorted(channels)})
        await _pump(socket, subscription)
    finally:
        subscription.close()
        request.app[SOCKETS].discard(socket)
    return socket


async def _pump(socket: web.WebSocketResponse, subscription: Any) -> None:
    """Forward hub messages until the client goes away."""
    reader = asyncio.ensure_future(socket.receive())
    try:
        while not socket.closed:
            getter = asyncio.ensure_future(subscription.next())
            done, _ = await asyncio.wait({reader, getter}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                await socket.send_json(getter.result())
            else:
                getter.cancel()
            if reader in done:
                message = reader.result()
                if message.type in (web.WSMsgType.CLOSE, web.WSMsgType.CLOSED,
                                    web.WSMsgType.ERROR, web.WSMsgType.CLOSING):  # fmt: skip
                    return
                reader = asyncio.ensure_future(socket.receive())
    finally:
        reader.cancel()
