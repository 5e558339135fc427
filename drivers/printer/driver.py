"""The receipt printer driver: print documents, kick the drawer, watch paper and cover.

Every exchange with the printer has a time limit, and a failed or hung connection is
replaced on the next job, so a print, a drawer kick or a status call can fail but never
hang a sale. Before a job the printer is asked for its status (real-time `DLE EOT`, answered
at once even while busy); a job is refused with `paper_out`, `cover_open` or `offline`
rather than sent into a printer that cannot print it. A task polls the status every few
seconds and reports changes as `paper` {"state"} and `error` {"code"} events (`cleared`:
true when the condition is over).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from drivers.base import DeviceError, Driver, DriverError, ProfileError, Transport, TransportError
from drivers.printer.link import Link
from drivers.printer.profile import PrinterSettings
from drivers.printer.render import RenderError, kick, realtime_kick, render
from drivers.printer.status import NoReply, Status, drain, query
from drivers.printer.usb_link import UsbTransport
from drivers.transports import SerialTransport, TcpTransport, stable_port

log = logging.getLogger(__name__)

SLACK = 1.0  # seconds allowed on top of a reply timeout for thread hand-over


class PrinterDriver(Driver):
    """An ESC/POS receipt printer on TCP, serial or USB."""

    family: ClassVar[str] = "printer"

    def __init__(
        self,
        device_id: str,
        profile: Mapping[str, Any],
        settings: PrinterSettings,
        factory: Callable[[], Transport],
    ) -> None:
        """Keep the settings and how to connect; nothing connects until `start()`."""
        super().__init__(device_id, profile, factory())
        self.settings = settings
        self.link = Link(device_id, factory, first=self.transport)
        self.paper = "unknown"  # ok | near_end | out once the printer has answered
        self.condition: str | None = None  # None, "offline" or "cover_open"
        self.answered = False
        self._poller: asyncio.Task[None] | None = None

    @property
    def online(self) -> bool:
        """Tell whether the printer answered its last status request and can print."""
        return self.answered and self.condition is None

    async def start(self) -> None:
        """Connect (raises TransportError), read the status, start polling it."""
        await self.link.run(lambda _transport: None, self.settings.connect_timeout + SLACK)
        with contextlib.suppress(DeviceError):
            await self.refresh(retry=False)
        if self.settings.status is not None and self._poller is None:
            self._poller = asyncio.create_task(self._poll(self.settings.status.poll_seconds))

    async def stop(self) -> None:
        """Stop polling and close the connection."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        await self.link.close()

    async def command(self, verb: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """Carry out `print`, `open` (drawer kick) or `status`."""
        if verb == "print":
            return await self.print_document(payload.get("document"))
        if verb == "open":
            pin = payload.get("pin")
            if pin is not None and (isinstance(pin, bool) or not isinstance(pin, int)):
                raise DeviceError("invalid_pin", "pin must be 2 or 5")
            return {"pin": await self.kick(pin)}
        if verb == "status":
            return await self.status()
        raise DeviceError("unsupported", f"a printer cannot {verb!r}")

    async def status(self) -> dict[str, Any]:
        """Ask for a fresh status; return {"paper", "online"} (never raises for the device)."""
        if self.settings.status is None:  # a printer that cannot tell: is the link alive?
            with contextlib.suppress(DeviceError):
                await self.send(b"")
            return {"paper": self.paper, "online": self.link.connected}
        with contextlib.suppress(DeviceError):
            await self.refresh(retry=True)
        return {"paper": self.paper, "online": self.online}

    async def print_document(self, document: Any) -> dict[str, Any]:
        """Render a receipt document and print it in one write; return {"bytes": n, …}."""
        try:
            rendered = await asyncio.to_thread(render, document, self.settings)
        except RenderError as err:
            raise DeviceError("invalid_document", str(err)) from err
        await self.refresh(retry=True)
        self._refuse_when_not_ready()
        await self.send(rendered.data)
        result: dict[str, Any] = {"bytes": len(rendered.data), "paper": self.paper}
        if rendered.notes:
            log.info("%s printed without: %s", self.device_id, "; ".join(rendered.notes))
            result["notes"] = rendered.notes
        return result

    async def kick(self, pin: int | None = None) -> int:
        """Pulse a drawer pin (ESC p; DLE DC4 while offline when the profile allows)."""
        pin = self.settings.default_pin if pin is None else pin
        if pin not in self.settings.pins:
            raise DeviceError("invalid_pin", f"pin {pin} is not wired on this printer")
        offline = self.paper == "out" or self.condition is not None
        if self.settings.realtime_kick and offline:
            await self.send(realtime_kick(self.settings, pin))
        else:
            await self.send(kick(self.settings, pin))
        return pin

    async def send(self, data: bytes) -> int:
        """Write bytes to the printer in one go (a drawer or display behind it uses this)."""
        was_connected = self.link.connected
        timeout = self.settings.connect_timeout + SLACK
        try:
            await self.link.run(drain, timeout)
        except TransportError:
            if not was_connected:
                self._lost()
                raise DeviceError("offline", f"{self.device_id} is unreachable") from None
            try:  # a stale connection (printer restarted): nothing was sent, try once more
                await self.link.run(drain, timeout)
            except TransportError as err:
                self._lost()
                raise DeviceError("offline", str(err)) from err
        try:
            await self.link.run(lambda link: link.write(data), self.settings.job_timeout)
        except TransportError as err:
            self._lost()
            raise DeviceError("offline", str(err)) from err
        if self.settings.status is None:
            self._set_condition(None)  # no status to ask: a working link is all we know
        return len(data)

    async def refresh(self, *, retry: bool) -> None:
        """Ask the printer for its status and report changes (raises DeviceError)."""
        settings = self.settings.status
        if settings is None:
            return
        timeout = self.settings.connect_timeout + settings.reply_timeout + SLACK
        attempts = 2 if retry and self.link.connected else 1
        for attempt in range(attempts):
            try:
                status = await self.link.run(lambda link: query(link, settings), timeout)
            except TransportError as err:
                if attempt + 1 < attempts:
                    continue  # the connection was stale: reconnect once
                self._lost()
                raise DeviceError("offline", str(err)) from err
            except (NoReply, DeviceError) as err:
                self._lost()
                raise DeviceError("timeout", f"{self.device_id}: {err}") from err
            self._update(status)
            return

    def _refuse_when_not_ready(self) -> None:
        """Raise the DeviceError that keeps a job out of a printer that cannot print it."""
        if self.paper == "out":
            raise DeviceError("paper_out", f"{self.device_id} is out of paper")
        if self.condition is not None:
            raise DeviceError(self.condition, f"{self.device_id}: {self.condition}")

    def _update(self, status: Status) -> None:
        """Take a status reply; emit `paper` and `error` on change."""
        self.answered = True
        if status.paper != self.paper:
            self.paper = status.paper
            self.emit("paper", state=status.paper)
        self._set_condition(status.condition)

    def _lost(self) -> None:
        """Note that the printer did not answer."""
        self.answered = False
        self._set_condition("offline")

    def _set_condition(self, code: str | None) -> None:
        """Emit `error` when the printer's condition changes."""
        if code == self.condition:
            return
        if code is None:
            self.emit("error", code=self.condition, cleared=True)
        else:
            self.emit("error", code=code)
        self.condition = code

    async def _poll(self, interval: float) -> None:
        """Ask for the status every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh(retry=False)
            except DeviceError:
                pass  # already reported as an `error` event
            except DriverError as err:
                log.warning("%s status poll failed: %s", self.device_id, err)


def _usb_id(value: Any, fallback: int | None, what: str) -> int:
    """Return a USB id from config (an integer or hex text) or the profile."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value, 16)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if value is None and fallback is not None:
        return fallback
    raise ProfileError(f"usb.{what} must be a USB id like 0x04B8")


def transport_factory(
    device_id: str, config: Mapping[str, Any], settings: PrinterSettings, usb_backend: Any = None
) -> Callable[[], Transport]:
    """Return how to make the printer's transport from its config: host, port or usb."""
    if isinstance(config.get("host"), str):
        host, _, port_text = str(config["host"]).partition(":")
        port = (
            int(port_text)
            if port_text.isdigit()
            else int(config.get("tcp_port", settings.tcp_port))
        )
        return lambda: TcpTransport(host, port, settings.connect_timeout)
    if isinstance(config.get("port"), str):
        serial_port = str(config["port"])
        if not settings.serial:
            raise ProfileError(f"{device_id}: the printer profile has no [serial] settings")
        if not stable_port(serial_port):
            log.warning("%s: %s may change name on re-plugging", device_id, serial_port)
        return lambda: SerialTransport(serial_port, settings.serial)
    usb = config.get("usb")
    if isinstance(usb, Mapping):
        vid = _usb_id(usb.get("vid"), settings.usb_vid, "vid")
        pid = _usb_id(usb.get("pid"), settings.usb_pid, "pid")
        serial, path = usb.get("serial"), usb.get("path")
        serial_number = serial if isinstance(serial, str) else None
        port_path = path if isinstance(path, str) else None
        return lambda: UsbTransport(
            vid, pid, serial_number, path=port_path, backend=usb_backend,
            write_timeout=settings.job_timeout,
        )  # fmt: skip
    raise ProfileError(f"{device_id}: a printer needs host, port or usb in its config")
