"""Device records and the broker credentials that follow them.

`edge devices add|rm|rotate|bind` and the devices API land here. A device record is a ledger
event (`device.saved`, `device.rotated`, `device.removed`; never a password). The server keeps
each login's PBKDF2 hash in a password file (mode 0600) and tells the broker's
dynamic-security plugin about the change: by command while the broker runs, or by rewriting
the document the broker loads at start.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.domain.devices import (
    SERVER_USER,
    Device,
    add_commands,
    broker_document,
    check_device,
    move_commands,
    new_password,
    password_line,
    password_matches,
    remove_commands,
    replace_password,
    role_acls,
    role_name,
)
from edge.domain.errors import Conflict, NotFound
from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.services.catalog import Actor

log = logging.getLogger(__name__)

DEVICE_COLUMNS = "id, type, gateway, till, label, rotated"


def _write_atomically(path: Path, text: str, mode: int) -> None:
    """Replace a file's content in one rename (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# Runs dynamic-security commands on the live broker; returns the per-command responses.
BrokerControl = Callable[[list[dict[str, Any]]], Awaitable[list[dict[str, Any]]]]
BENIGN = ("already exists", "not found")  # a repeated command after a crash


class BrokerError(Conflict):
    """The broker refused a credentials change."""

    code = "broker_refused"


@dataclass
class BrokerFiles:
    """The hashes the server keeps, and the broker's dynamic-security state derived from them.

    While the broker runs, changes go to it as dynamic-security commands (`control`, set by the
    bus); while it does not, the document it loads at start is rewritten instead.
    """

    password_file: Path
    dynsec_file: Path
    control: BrokerControl | None = None

    def password_lines(self) -> list[str]:
        """Return the password file's lines (none if it does not exist yet)."""
        try:
            return self.password_file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []

    def set_password(self, user: str, password: str | None) -> None:
        """Store a user's password hash (None removes the user)."""
        line = password_line(user, password) if password is not None else None
        lines = replace_password(self.password_lines(), user, line)
        _write_atomically(self.password_file, "\n".join(lines) + "\n" if lines else "", 0o600)

    def users(self) -> set[str]:
        """Return the users the password file knows."""
        return {line.split(":", 1)[0] for line in self.password_lines() if ":" in line}

    def write_document(self, store: str, devices: list[Device]) -> None:
        """Rewrite the broker's dynamic-security document (only while the broker is down)."""
        document = broker_document(store, devices, self.password_lines())
        _write_atomically(self.dynsec_file, json.dumps(document, indent=1) + "\n", 0o600)

    async def apply(
        self, commands: list[dict[str, Any]], store: str, devices: list[Device]
    ) -> None:
        """Apply a change to the running broker, or to its document when it does not run."""
        if self.control is None:
            self.write_document(store, devices)
            return
        for response in await self.control(commands):
            error = str(response.get("error", ""))
            if error and not any(text in error.lower() for text in BENIGN):
                raise BrokerError(f"the broker refused {response.get('command')}: {error}")


def _row_device(row: tuple[Any, ...]) -> Device:
    """Build a Device from a devices row."""
    return Device(id=row[0], type=row[1], gateway=row[2], till=row[3], label=row[4])


def device_json(row: tuple[Any, ...]) -> dict[str, Any]:
    """Return a device row as the API shows it."""
    return {
        "id": row[0],
        "type": row[1],
        "gateway": row[2],
        "till": row[3],
        "label": row[4],
        "rotated": row[5],
    }


class Devices:
    """Device records of one store and the broker files derived from them."""

    def __init__(self, ledger: Ledger, store: str, files: BrokerFiles) -> None:
        """Keep the ledger, the store id and the broker files."""
        self.ledger = ledger
        self.store = store
        self.files = files

    async def records(self) -> list[dict[str, Any]]:
        """Return every current (not removed) device record."""
        rows = await self.ledger.reader.fetch_all(
            f"SELECT {DEVICE_COLUMNS} FROM devices WHERE removed_seq IS NULL ORDER BY id"
        )
        return [device_json(row) for row in rows]

    async def devices(self) -> list[Device]:
        """Return every current device."""
        rows = await self.ledger.reader.fetch_all(
            f"SELECT {DEVICE_COLUMNS} FROM devices WHERE removed_seq IS NULL ORDER BY id"
        )
        return [_row_device(row) for row in rows]

    async def get(self, device_id: str) -> Device:
        """Return one current device (raises NotFound)."""
        row = await self.ledger.reader.fetch_one(
            f"SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ? AND removed_seq IS NULL",
            (device_id,),
        )
        if row is None:
            raise NotFound(f"no device {device_id}", code="unknown_device")
        return _row_device(row)

    async def add(self, device: Device, actor: Actor) -> tuple[Device, str]:
        """Create a device record and its broker credentials; return the password (once)."""
        check_device(device)

        def command(tx: Tx) -> None:
            exists = tx.conn.execute(
                "SELECT 1 FROM devices WHERE id = ? AND removed_seq IS NULL", (device.id,)
            ).fetchone()
            if exists is not None:
                raise Conflict(f"device {device.id} exists already", code="device_exists")
            self._check_links(tx, device)
            tx.append("device.saved", {"device": _device_data(device)}, **_who(actor))

        await self.ledger.submit(command)
        password = new_password()
        self.files.set_password(device.id, password)
        devices = await self.devices()
        await self.files.apply(add_commands(self.store, device, devices, password),
                               self.store, devices)  # fmt: skip
        return device, password

    async def update(self, device_id: str, changes: dict[str, Any], actor: Actor) -> Device:
        """Bind a device to a till or kiosk, move it to a gateway, or relabel it."""
        current = await self.get(device_id)
        device = check_device(
            Device(
                id=current.id,
                type=current.type,
                gateway=changes.get("gateway", current.gateway),
                till=changes.get("till", current.till),
                label=changes.get("label", current.label),
            )
        )

        def command(tx: Tx) -> None:
            self._check_links(tx, device)
            tx.append("device.saved", {"device": _device_data(device)}, **_who(actor))

        await self.ledger.submit(command)
        devices = await self.devices()
        await self.files.apply(move_commands(self.store, current, device), self.store, devices)
        return device

    async def rotate(self, device_id: str, actor: Actor) -> str:
        """Give a device a new password (the old one stops working); return it once."""
        await self.get(device_id)
        await self.ledger.submit(
            lambda tx: tx.append("device.rotated", {"device": device_id}, **_who(actor))
        )
        password = new_password()
        self.files.set_password(device_id, password)
        command = {"command": "setClientPassword", "username": device_id, "password": password}
        await self.files.apply([command], self.store, await self.devices())
        return password

    async def remove(self, device_id: str, actor: Actor) -> None:
        """Remove a device: its credentials stop working, its history stays."""
        device = await self.get(device_id)

        def command(tx: Tx) -> None:
            attached = tx.conn.execute(
                "SELECT id FROM devices WHERE gateway = ? AND removed_seq IS NULL", (device_id,)
            ).fetchall()
            if attached:
                names = ", ".join(row[0] for row in attached)
                raise Conflict(f"{device_id} still bridges {names}", code="gateway_in_use")
            tx.append("device.removed", {"device": device_id}, **_who(actor))

        await self.ledger.submit(command)
        self.files.set_password(device_id, None)
        await self.files.apply(remove_commands(self.store, device), self.store,
                               await self.devices())  # fmt: skip

    async def set_server_password(self, password: str) -> None:
        """Make sure the server's own broker user has this password (in the kept hashes)."""
        lines = self.files.password_lines()
        mine = [line for line in lines if line.split(":", 1)[0] == SERVER_USER]
        if not (mine and password_matches(mine[0], password)):
            self.files.set_password(SERVER_USER, password)

    async def prepare_broker(self) -> None:
        """Before the broker starts: drop hashes of removed devices, write its document."""
        devices = await self.devices()
        known = {d.id for d in devices} | {SERVER_USER}
        for user in self.files.users() - known:
            self.files.set_password(user, None)
        missing = sorted({d.id for d in devices} - self.files.users())
        if missing:
            log.warning("devices without broker credentials (rotate them): %s", ", ".join(missing))
        self.files.write_document(self.store, devices)

    async def reconcile(self) -> None:
        """On a running broker: make every device's role match the records."""
        devices = await self.devices()
        commands: list[dict[str, Any]] = []
        for device in devices:
            role = role_name(device.id)
            commands.append({"command": "createRole", "rolename": role})
            commands.extend(
                {"command": "addRoleACL", "rolename": role, **acl}
                for acl in role_acls(self.store, device, devices)
            )
        if commands:
            await self.files.apply(commands, self.store, devices)

    @staticmethod
    def _check_links(tx: Tx, device: Device) -> None:
        """Refuse a gateway that is not a gateway device."""
        if device.gateway is None:
            return
        row = tx.conn.execute(
            "SELECT type FROM devices WHERE id = ? AND removed_seq IS NULL", (device.gateway,)
        ).fetchone()
        if row is None or row[0] != "gateway":
            raise NotFound(f"no gateway device {device.gateway}", code="unknown_gateway")


def _device_data(device: Device) -> dict[str, Any]:
    """Return the event data of a device record."""
    return {
        "id": device.id,
        "type": device.type,
        "gateway": device.gateway,
        "till": device.till,
        "label": device.label,
    }


def _who(actor: Actor) -> dict[str, Any]:
    """Return the event's actor fields."""
    return {"staff": actor.staff, "till": actor.till}
