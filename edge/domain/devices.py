"""Devices as the broker sees them: who may publish where, and how passwords are stored.

Pure: the Mosquitto dynamic-security document and commands for a store's device list (the
plain ACL file cannot refuse a SUBSCRIBE; dynamic security answers 0x87), the Mosquitto 2.0
password line (PBKDF2-SHA512, the `$7$` format `mosquitto_passwd` writes) in which the
server keeps the hashes, and the rules for device ids, types and bindings. A device may
write only below its own topic and read only its own commands; a gateway may also speak for
the devices attached to it; the server is the one privileged client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from edge.domain.errors import InvalidInput
from edge.protocol.mqtt import ROOT, valid_id

DEVICE_TYPES = ("kiosk", "scale", "scanner", "printer", "drawer", "display", "gateway")
BINDABLE = ("scale", "scanner", "printer", "drawer", "display")
SERVER_USER = "edge-server"
PBKDF2_ITERATIONS = 101  # what mosquitto_passwd (2.0) writes; the broker reads the count
CONTROL = "$CONTROL/dynamic-security/v1"  # the broker's dynamic-security command topic


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


def role_name(user: str) -> str:
    """Return the broker role that holds a user's rights."""
    return f"edge-{user}"


def _acl(kind: str, topic: str) -> dict[str, Any]:
    """Return one dynamic-security ACL entry that allows something."""
    return {"acltype": kind, "topic": topic, "priority": 0, "allow": True}


def own_acls(store: str, device: Device) -> list[dict[str, Any]]:
    """Return the rights of a device on its own topics: write status/evt/res, read cmd."""
    root = device_root(store, device)
    return [
        _acl("publishClientSend", f"{root}/status"),
        _acl("publishClientSend", f"{root}/evt/#"),
        _acl("publishClientSend", f"{root}/res/#"),
        _acl("subscribePattern", f"{root}/cmd/#"),
    ]


def role_acls(store: str, device: Device, devices: Iterable[Device]) -> list[dict[str, Any]]:
    """Return a device's role: its own topics, and a gateway's also those it bridges."""
    acls = own_acls(store, device)
    if device.type == "gateway":
        for attached in sorted(devices, key=lambda d: d.id):
            if attached.gateway == device.id:
                acls += own_acls(store, attached)
    return acls


def server_acls(store: str) -> list[dict[str, Any]]:
    """Return the server's rights: the whole store's device tree and the broker's control."""
    return [
        _acl("publishClientSend", f"{ROOT}/{store}/#"),
        _acl("subscribePattern", f"{ROOT}/{store}/#"),
        _acl("publishClientSend", f"{CONTROL}/#"),
        _acl("subscribePattern", f"{CONTROL}/#"),
        _acl("publishClientReceive", f"{CONTROL}/#"),  # $ topics need it said explicitly
    ]


def parse_password_line(line: str) -> tuple[str, int, str, str]:
    """Split a `$7$` password-file line into (user, iterations, salt, hash) (base64)."""
    user, rest = line.split(":", 1)
    _, kind, rounds, salt, digest = rest.split("$")
    if kind != "7":
        raise ValueError(f"{user}: not a PBKDF2-SHA512 ($7$) hash")
    return user, int(rounds), salt, digest


def broker_document(store: str, devices: Iterable[Device], lines: Iterable[str]) -> dict[str, Any]:
    """Return the broker's dynamic-security document for a store.

    Everything not granted is refused: a device may not publish outside its own topics and
    its SUBSCRIBE to anything but its own commands (`#` included) is answered 0x87.
    """
    devices = sorted(devices, key=lambda d: d.id)
    hashes = {}
    for line in lines:
        if line.strip():
            user, rounds, salt, digest = parse_password_line(line.strip())
            hashes[user] = (rounds, salt, digest)
    roles = [{"rolename": role_name(SERVER_USER), "acls": server_acls(store)}]
    roles += [{"rolename": role_name(d.id), "acls": role_acls(store, d, devices)} for d in devices]
    clients = []
    for user in [SERVER_USER, *(d.id for d in devices)]:
        if user not in hashes:
            continue  # a device without credentials cannot connect until rotated
        rounds, salt, digest = hashes[user]
        clients.append(
            {"username": user, "textname": "", "password": digest, "salt": salt,
             "iterations": rounds, "roles": [{"rolename": role_name(user)}]}
        )  # fmt: skip
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": True,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": clients,
        "groups": [],
        "roles": roles,
    }


def add_commands(store: str, device: Device, devices: Iterable[Device],
                 password: str) -> list[dict[str, Any]]:  # fmt: skip
    """Return the broker commands that create a device's role and login."""
    commands: list[dict[str, Any]] = [
        {"command": "createRole", "rolename": role_name(device.id),
         "acls": role_acls(store, device, devices)},
        {"command": "createClient", "username": device.id, "password": password,
         "roles": [{"rolename": role_name(device.id)}]},
    ]  # fmt: skip
    if device.gateway is not None:
        commands += _gateway_acls("addRoleACL", store, device)
    return commands


def remove_commands(store: str, device: Device) -> list[dict[str, Any]]:
    """Return the broker commands that delete a device's login and role."""
    commands: list[dict[str, Any]] = [
        {"command": "deleteClient", "username": device.id},
        {"command": "deleteRole", "rolename": role_name(device.id)},
    ]
    if device.gateway is not None:
        commands += _gateway_acls("removeRoleACL", store, device)
    return commands


def move_commands(store: str, before: Device, after: Device) -> list[dict[str, Any]]:
    """Return the broker commands for a device that changed gateway."""
    if before.gateway == after.gateway:
        return []
    commands = _gateway_acls("removeRoleACL", store, before) if before.gateway else []
    return commands + (_gateway_acls("addRoleACL", store, after) if after.gateway else [])


def _gateway_acls(verb: str, store: str, device: Device) -> list[dict[str, Any]]:
    """Return commands adding or removing a device's topics on its gateway's role."""
    commands = []
    for acl in own_acls(store, device):
        command = {"command": verb, "rolename": role_name(str(device.gateway)),
                   "acltype": acl["acltype"], "topic": acl["topic"]}  # fmt: skip
        if verb == "addRoleACL":
            command |= {"priority": 0, "allow": True}
        commands.append(command)
    return commands


def replace_password(lines: Iterable[str], user: str, new_line: str | None) -> list[str]:
    """Return password-file lines with `user`'s line replaced, added or (None) removed."""
    kept = [line for line in lines if line.strip() and line.split(":", 1)[0] != user]
    if new_line is not None:
        kept.append(new_line)
    return sorted(kept)
