"""The MQTT device contract (SPEC §2.1): topic names and payload checks, pure.

Topics are `pos/v1/{store}/{type}/{device}/{tail}` where the tail is `status`, `evt/{kind}`,
`cmd/{verb}` or `res/{verb}`. Payloads are JSON objects in UTF-8; every `evt` and `cmd`
carries a unique `id` and `ts` (milliseconds since the epoch). Both the server (edge/bus) and
the gateway (drivers/gateway.py) build and check messages here so the two sides cannot drift.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

ROOT = "pos/v1"
DEVICE_TYPES = ("kiosk", "scale", "scanner", "printer", "drawer", "display", "gateway", "server")
EVENT_KINDS = ("scan", "weight", "attendant", "paper", "error", "bagging", "drawer")
STATES = ("online", "offline", "lost")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")
MAX_PAYLOAD = 256 * 1024
MAX_CODE = 128
MAX_GRAMS = 1_000_000


class MessageError(ValueError):
    """A topic or payload that breaks the contract (counted and dropped by receivers)."""


@dataclass(frozen=True)
class Topic:
    """A parsed device topic."""

    store: str
    type: str
    device: str
    channel: str  # status | evt | cmd | res
    name: str  # the event kind or the command verb ("" for status)

    def __str__(self) -> str:
        """Return the topic string."""
        tail = self.channel if self.channel == "status" else f"{self.channel}/{self.name}"
        return f"{ROOT}/{self.store}/{self.type}/{self.device}/{tail}"


def valid_id(value: str) -> bool:
    """Tell whether a store or device id is safe inside a topic and a file name."""
    return bool(ID_PATTERN.match(value))


def topic(store: str, type_: str, device: str, channel: str, name: str = "") -> str:
    """Build a device topic (raises MessageError on a bad part)."""
    if type_ not in DEVICE_TYPES:
        raise MessageError(f"unknown device type {type_!r}")
    if not valid_id(store) or not valid_id(device):
        raise MessageError(f"bad store or device id: {store!r}/{device!r}")
    return str(Topic(store, type_, device, channel, name))


def parse_topic(text: str) -> Topic:
    """Split a device topic into its parts (raises MessageError)."""
    parts = text.split("/")
    if len(parts) < 6 or "/".join(parts[:2]) != ROOT:
        raise MessageError(f"not a device topic: {text!r}")
    _, _, store, type_, device, channel, *rest = parts
    if type_ not in DEVICE_TYPES or not valid_id(device) or not valid_id(store):
        raise MessageError(f"bad device in topic {text!r}")
    if channel == "status" and not rest:
        return Topic(store, type_, device, channel, "")
    if channel in ("evt", "cmd", "res") and len(rest) == 1 and rest[0]:
        return Topic(store, type_, device, channel, rest[0])
    raise MessageError(f"unknown channel in topic {text!r}")


def new_id() -> str:
    """Return a fresh message id."""
    return uuid.uuid4().hex


def encode(payload: dict[str, Any]) -> bytes:
    """Serialise a payload."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def decode(raw: bytes) -> dict[str, Any]:
    """Parse a payload into a JSON object (raises MessageError)."""
    if len(raw) > MAX_PAYLOAD:
        raise MessageError(f"payload of {len(raw)} bytes is over {MAX_PAYLOAD}")
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MessageError(f"payload is not UTF-8 JSON: {err}") from err
    if not isinstance(value, dict):
        raise MessageError("payload is not a JSON object")
    return value


def _int(payload: dict[str, Any], key: str, low: int, high: int) -> int:
    """Return an integer field within bounds (raises MessageError)."""
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MessageError(f"{key} must be an integer in {low}..{high}")
    return value


def _message_id(payload: dict[str, Any]) -> str:
    """Return the message id (raises MessageError)."""
    value = payload.get("id")
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise MessageError("id must be a string of 1..64 characters")
    return value


def check_event(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Return a device event payload after checking its fields (raises MessageError)."""
    _message_id(payload)
    _int(payload, "ts", 0, 2**53)
    if kind == "scan":
        code = payload.get("code")
        if not isinstance(code, str) or not 0 < len(code) <= MAX_CODE or not code.isprintable():
            raise MessageError(f"code must be printable text of 1..{MAX_CODE} characters")
        if not isinstance(payload.get("symbology", ""), str):
            raise MessageError("symbology must be text")
    elif kind == "weight":
        _int(payload, "grams", -MAX_GRAMS, MAX_GRAMS)
        if not isinstance(payload.get("stable"), bool):
            raise MessageError("stable must be true or false")
        if "tare_grams" in payload:
            _int(payload, "tare_grams", 0, MAX_GRAMS)
    elif kind not in EVENT_KINDS:
        raise MessageError(f"unknown event kind {kind!r}")
    return payload


def check_status(payload: dict[str, Any]) -> str:
    """Return the state of a `status` payload (raises MessageError)."""
    state = payload.get("state")
    if state not in STATES:
        raise MessageError(f"state must be one of {', '.join(STATES)}")
    return str(state)


def check_result(payload: dict[str, Any]) -> tuple[str, bool, str]:
    """Return (command id, ok, error code) of a `res/…` payload (raises MessageError)."""
    command = _message_id(payload)
    ok = payload.get("ok")
    if not isinstance(ok, bool):
        raise MessageError("ok must be true or false")
    error = payload.get("error", "")
    if not isinstance(error, str) or len(error) > 64:
        raise MessageError("error must be a short text")
    if not ok and not error:
        raise MessageError("a failed result names its error")
    return command, ok, error


def check_command(payload: dict[str, Any]) -> str:
    """Return the id of a `cmd/…` payload (raises MessageError)."""
    return _message_id(payload)
