"""Devices as the broker sees them: who may publish where, and how passwords are stored.

Pure: the Mosquitto ACL text for a store's device list, the Mosquitto 2.0 password line
(PBKDF2-SHA512, the `$7$` format `mosquitto_passwd` writes), and the rules for device ids,
types and bindings. A device may write only below its own topic and read only its own
commands; a gateway may also speak for the devices attached to it; the server is the one
privileged client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from edge.domain.errors import InvalidInput
from edge.protocol.mqtt import ROOT, valid_id

DEVICE_TYPES = ("kiosk", "scale", "scanner", "printer", "drawer", "display", "gateway")
BINDABLE = ("scale", "scanner", "printer", "drawer", "display")
SERVER_USER = "edge-server"
PBKDF2_ITERATIONS = 101  # what mosquitto_passwd (2.0) writes; the broker reads the count


@dataclass(frozen=True)
class Device:
    """A device record: its id (= MQTT user and client id), type, gateway and binding."""

    id: str
    type: str
    gateway: str | None = None  # the gateway process that bridges it, if any
    till: str | None = None  # the till or kiosk it serves
    label: str = ""


def check_device(device: Device) -> Device:
    """Return the device if its fields make sense (raises InvalidInput)."""
    if device.type not in DEVICE_TYPES:
        raise InvalidInput(
            f"device type must be one of {', '.join(DEVICE_TYPES)}", code="bad_device"
        )
    if not valid_id(device.id) or device.id == SERVER_USER:
        raise InvalidInput(
            "a device id is 1..48 letters, digits, '.', '_' or '-', starting with a letter"
            " or digit",
            code="bad_device",
        )
    if device.gateway is not None and not valid_id(device.gateway):
        raise InvalidInput("bad gateway id", code="bad_device")
    if device.gateway is not None and device.type in ("gateway", "kiosk"):
        raise InvalidInput(f"a {device.type} connects by itself", code="bad_device")
    if device.till is not None and device.type not in BINDABLE:
        raise InvalidInput(f"a {device.type} is not bound to a till", code="bad_device")
    if len(device.label) > 80:
        raise InvalidInput("label is at most 80 characters", code="bad_device")
    return device


def new_password() -> str:
    """Return a fresh device password (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def password_line(user: str, password: str, salt: bytes | None = None) -> str:
    """Return a Mosquitto 2.0 password-file line for a user."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    encoded_salt = base64.b64encode(salt).decode()
    encoded = base64.b64encode(digest).decode()
    return f"{user}:$7${PBKDF2_ITERATIONS}${encoded_salt}${encoded}"


def password_matches(line: str, password: str) -> bool:
    """Tell whether a `$7$` password-file line accepts a password."""
    try:
        _, rest = line.split(":", 1)
        _, kind, rounds, salt, digest = rest.split("$")
    except ValueError:
        return False
    if kind != "7":
        return False
    computed = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(rounds))
    return hmac.compare_digest(computed, base64.b64decode(digest))


def device_root(store: str, device: Device) -> str:
    """Return the topic prefix a device owns."""
    return f"{ROOT}/{store}/{device.type}/{device.id}"


def _grants(store: str, device: Device) -> list[str]:
    """Return the ACL lines that let a device speak on its own topics only."""
    root = device_root(store, device)
    return [
        f"topic write {root}/status",
        f"topic write {root}/evt/#",
        f"topic write {root}/res/#",
        f"topic read {root}/cmd/#",
    ]


def render_acl(store: str, devices: Iterable[Device]) -> str:
    """Return the Mosquitto ACL file for a store (devices are sorted for stable output)."""
    ordered = sorted(devices, key=lambda d: d.id)
    lines = [
        "# Written by `edge devices`; regenerated on every change, do not edit.",
        "# A device writes only its own status/evt/res topics and reads only its own cmd.",
        "",
        f"user {SERVER_USER}",
        f"topic readwrite {ROOT}/{store}/#",
    ]
    for device in ordered:
        lines += ["", f"user {device.id}", *_grants(store, device)]
        if device.type == "gateway":
            for attached in ordered:
                if attached.gateway == device.id:
                    lines += _grants(store, attached)
    return "\n".join(lines) + "\n"


def replace_password(lines: Iterable[str], user: str, new_line: str | None) -> list[str]:
    """Return password-file lines with `user`'s line replaced, added or (None) removed."""
    kept = [line for line in lines if line.strip() and line.split(":", 1)[0] != user]
    if new_line is not None:
        kept.append(new_line)
    return sorted(kept)
