"""Device records and the broker files that follow them.

`edge devices add|rm|rotate|bind` and the devices API land here. A device record is a ledger
event (`device.saved`, `device.rotated`, `device.removed`; never a password). The broker's
password file gets the new password's hash, the ACL file is regenerated from the records,
and the broker is asked to reload. After a crash between the two, `sync()` (run at every
server start) rewrites the ACL and removes passwords of removed devices.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.domain.devices import (
    SERVER_USER,
    Device,
    check_device,
    new_password,
    password_line,
    render_acl,
    replace_password,
)
from edge.domain.errors import Conflict, NotFound
from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.services.catalog import Actor

log = logging.getLogger(__name__)

DEVICE_COLUMNS = "id, type, gateway, till, label, rotated"


def _write_atomically(path: Path, text: str, mode: int = 0o640) -> None:
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


@dataclass
class BrokerFiles:
    """The broker's password and ACL files, and how to make it re-read them."""

    password_file: Path
    acl_file: Path
    reload: Callable[[], None] = lambda: None

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
        _write_atomically(self.password_file, "\n".join(lines) + "\n" if lines else "")

    def users(self) -> set[str]:
        """Return the users the password file knows."""
        return {line.split(":", 1)[0] for line in self.password_lines() if ":" in line}

    def write_acl(self, store: str, devices: list[Device]) -> None:
        """Regenerate the ACL file from the device records."""
        _write_atomically(self.acl_file, render_acl(store, devices))


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
        await self._publish_acl()
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
        await self._publish_acl()
        return device

    async def rotate(self, device_id: str, actor: Actor) -> str:
        """Give a device a new password (the old one stops working); return it once."""
        await self.get(device_id)
        await self.ledger.submit(
            lambda tx: tx.append("device.rotated", {"device": device_id}, **_who(actor))
        )
        password = new_password()
        self.files.set_password(device_id, password)
        self.files.reload()
        return password

    async def remove(self, device_id: str, actor: Actor) -> None:
        """Remove a device: its credentials stop working, its history stays."""
        await self.get(device_id)

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
        await self._publish_acl()

    async def set_server_password(self, password: str) -> None:
        """Make sure the server's own broker user has this password."""
        self.files.set_password(SERVER_USER, password)

    async def sync(self) -> None:
        """Rewrite the ACL from the records and drop passwords of devices no longer there."""
        devices = await self.devices()
        known = {d.id for d in devices} | {SERVER_USER}
        for user in self.files.users() - known:
            self.files.set_password(user, None)
        missing = sorted({d.id for d in devices} - self.files.users())
        if missing:
            log.warning("devices without broker credentials (rotate them): %s", ", ".join(missing))
        await self._publish_acl()

    async def _publish_acl(self) -> None:
        """Regenerate the ACL and make the broker re-read its files."""
        self.files.write_acl(self.store, await self.devices())
        self.files.reload()

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
