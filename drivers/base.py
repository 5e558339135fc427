"""What every driver shares: the Driver ABC, the byte Transport protocol and the error tree.

A driver speaks one device family's protocol over a Transport (a serial port, a USB endpoint,
a TCP socket, or a fake in tests). Transports are blocking, like the libraries under them
(pyserial, pyusb, sockets); a driver runs them on a worker thread with `asyncio.to_thread`
and never on the event loop. The gateway (`drivers/gateway.py`) turns a driver's events into
MQTT `evt/…` messages and MQTT `cmd/…` messages into `Driver.command` calls.
"""

from __future__ import annotations

import abc
import asyncio
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

PROFILE_ROOT = Path(__file__).resolve().parent.parent / "firmware-config"


class DriverError(Exception):
    """Base of every driver failure."""


class ProfileError(DriverError):
    """A device profile (firmware-config/*.toml) is missing, malformed or incomplete."""


class TransportError(DriverError):
    """The link to the device failed (port gone, socket closed, USB error)."""


class DeviceError(DriverError):
    """The device answered but refused or failed (paper out, overload, syntax error)."""

    def __init__(self, code: str, message: str = "") -> None:
        """Keep the machine-readable code (it becomes `res/…` `error`)."""
        super().__init__(message or code)
        self.code = code


class Transport(Protocol):
    """A blocking byte link; every call may raise TransportError."""

    def open(self) -> object:
        """Open the link (a driver's `start()` calls it on a worker thread)."""

    def write(self, data: bytes) -> None:
        """Send bytes to the device."""

    def read(self, size: int, timeout: float) -> bytes:
        """Return up to `size` bytes, fewer (maybe none) when `timeout` seconds pass."""

    def close(self) -> None:
        """Release the link (idempotent)."""


@dataclass(frozen=True)
class DeviceEvent:
    """Something a device reported: `kind` names the MQTT `evt/{kind}`, `data` its fields."""

    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)


class Driver(abc.ABC):
    """One attached device. Constructors only assign; I/O starts in `start()`."""

    family: ClassVar[str]  # the MQTT device type: scale, scanner, printer, drawer, display

    def __init__(self, device_id: str, profile: Mapping[str, Any], transport: Transport) -> None:
        """Keep the device id, its profile and its link."""
        self.device_id = device_id
        self.profile = profile
        self.transport = transport
        self.events: asyncio.Queue[DeviceEvent] = asyncio.Queue(maxsize=1000)

    async def start(self) -> None:  # noqa: B027 - most drivers have nothing to start
        """Begin talking to the device (probe, start polling); the default does nothing."""

    async def stop(self) -> None:
        """Stop polling and release the transport."""
        await asyncio.to_thread(self.transport.close)

    @abc.abstractmethod
    async def command(self, verb: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """Carry out `cmd/{verb}`; return extra result fields or raise DeviceError."""

    def describe(self) -> dict[str, Any]:
        """Return the `status` fields that describe the device (model, firmware)."""
        return {"model": str(self.profile.get("model", "")), "fw": str(self.profile.get("fw", ""))}

    def emit(self, kind: str, **data: Any) -> None:
        """Queue an event for the gateway; when nobody drains the queue the oldest is dropped."""
        if self.events.full():
            self.events.get_nowait()
        self.events.put_nowait(DeviceEvent(kind, data))


def load_profile(family: str, name: str, root: Path = PROFILE_ROOT) -> dict[str, Any]:
    """Read `firmware-config/{family}s/{name}.toml` (raises ProfileError)."""
    path = root / f"{family}s" / f"{name}.toml"
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as err:
        raise ProfileError(f"no {family} profile {name!r} ({path})") from err
    except tomllib.TOMLDecodeError as err:
        raise ProfileError(f"{path}: {err}") from err
