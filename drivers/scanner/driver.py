"""The scanner driver: read the link on a worker thread, decode, check, emit `scan` events.

One task per scanner: open the link (serial port or USB reports) on a worker thread, then read
it in short polls (each `read` on a worker thread, never on the event loop), feed the bytes to
the mode's decoder and check every finished code. A good code becomes `scan` {"code",
"symbology"}; a rejected one is counted and reported as `error` {"code": "garbled"} at most
once a second (a scanner aimed at a damaged label would otherwise flood the bus). When the link
fails the driver reports `error` {"code": "disconnected"} once, retries opening it with a
doubling delay up to a bound, and reports `cleared`: true when the scanner is back. Scanned
codes can be payment codes: logs name a rejection's reason and size, never the code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

from drivers.base import DeviceError, Driver, DriverError, Transport
from drivers.scanner.codes import Outcome, Rejected, Scan, accept
from drivers.scanner.hid_pos import HidPosDecoder
from drivers.scanner.keyboard import KeyboardDecoder
from drivers.scanner.profile import ScannerSettings
from drivers.scanner.serial_decoder import SerialDecoder

log = logging.getLogger(__name__)

GARBLED_INTERVAL = 1.0  # seconds between two `error` {"code": "garbled"} events
SERIAL_READ_SIZE = 256
POLL = 0.1  # seconds a read waits, so timeouts and stop are noticed
STOP_GRACE = 2.0


class Decoder(Protocol):
    """What every mode's decoder offers (pure; the caller passes the time)."""

    def feed(self, data: bytes, now: float) -> list[Outcome]:
        """Take what one read returned; return the frames and rejects it completes."""

    def expire(self, now: float) -> list[Outcome]:
        """Reject a half code whose next byte is overdue."""

    def reset(self) -> list[Outcome]:
        """Drop everything held; return a half code as rejected."""


def make_decoder(settings: ScannerSettings) -> Decoder:
    """Return the decoder for a profile's mode."""
    rules = settings.rules
    if settings.framing is not None:
        return SerialDecoder(settings.framing, rules.max_length, rules.encoding)
    if settings.hid_pos is not None:
        return HidPosDecoder(settings.hid_pos, rules.max_length, rules.encoding)
    if settings.keyboard is not None:
        return KeyboardDecoder(settings.keyboard, rules.max_length)
    raise DriverError(f"no decoder for scanner mode {settings.mode!r}")


class ScannerDriver(Driver):
    """A barcode scanner on a serial port, as a USB HID POS device or as a USB keyboard."""

    family: ClassVar[str] = "scanner"

    def __init__(
        self,
        device_id: str,
        profile: Mapping[str, Any],
        settings: ScannerSettings,
        transport: Transport,
        *,
        backoff: tuple[float, float] = (0.5, 30.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Keep the settings, the link and the decoder; nothing is read until `start()`."""
        super().__init__(device_id, profile, transport)
        self.settings = settings
        self.decoder = make_decoder(settings)
        self.backoff = backoff
        self.clock = clock
        self.read_size = settings.usb.report_size if settings.usb else SERIAL_READ_SIZE
        self.scans = 0
        self.rejected: Counter[str] = Counter()
        self.connected = False
        self._down = False
        self._last_garbled: float | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the reading task; it opens the link itself and keeps retrying."""
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name=f"scanner {self.device_id}")

    async def stop(self) -> None:
        """Stop reading and close the link."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=POLL + STOP_GRACE)
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await asyncio.to_thread(self.transport.close)
        self.connected = False

    async def command(self, verb: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """Refuse every command: a scanner only reports."""
        raise DeviceError("unsupported", f"a scanner has no command {verb!r}")

    def describe(self) -> dict[str, Any]:
        """Return the model, firmware and mode."""
        return {**super().describe(), "mode": self.settings.mode}

    async def _run(self) -> None:
        """Open the link, read it until stopped; on failure report, wait and open again."""
        delay = self.backoff[0]
        while not self._stopping.is_set():
            try:
                await asyncio.to_thread(self.transport.open)
                self._connected()
                delay = self.backoff[0]
                await self._read_until_stopped()
            except Exception as err:
                if not isinstance(err, DriverError):
                    log.exception("%s: scanner loop failed", self.device_id)
                self._disconnected(err)
                with contextlib.suppress(DriverError, OSError):
                    await asyncio.to_thread(self.transport.close)
                await self._pause(delay)
                delay = min(delay * 2, self.backoff[1])

    async def _read_until_stopped(self) -> None:
        """Read, decode and report until `stop()` (a TransportError ends it early)."""
        while not self._stopping.is_set():
            data = await asyncio.to_thread(self.transport.read, self.read_size, POLL)
            self._handle(self.decoder.feed(data, self.clock()))

    async def _pause(self, seconds: float) -> None:
        """Wait before the next attempt, or less when stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _handle(self, outcomes: list[Outcome]) -> None:
        """Check the decoder's frames; emit good codes, count and report the rest."""
        for outcome in outcomes:
            result = (
                outcome if isinstance(outcome, Rejected) else accept(outcome, self.settings.rules)
            )
            if isinstance(result, Scan):
                self.scans += 1
                self.emit("scan", code=result.code, symbology=result.symbology)
            else:
                self._garbled(result)

    def _garbled(self, rejected: Rejected) -> None:
        """Count a rejected read; report it unless one was reported within the last second."""
        self.rejected[rejected.reason] += 1
        log.info(
            "%s: rejected a read (%s, %d long)", self.device_id, rejected.reason, rejected.size
        )
        now = self.clock()
        if self._last_garbled is not None and now - self._last_garbled < GARBLED_INTERVAL:
            return
        self._last_garbled = now
        total = sum(self.rejected.values())
        self.emit("error", code="garbled", reason=rejected.reason, rejected=total)

    def _connected(self) -> None:
        """Note the link is up; clear a reported outage."""
        self.connected = True
        if self._down:
            self._down = False
            log.info("%s: scanner is back", self.device_id)
            self.emit("error", code="disconnected", cleared=True)

    def _disconnected(self, err: Exception) -> None:
        """Note the link is down; report it once per outage."""
        self.connected = False
        self._handle(self.decoder.reset())
        if not self._down:
            self._down = True
            log.warning("%s: scanner link down: %s", self.device_id, err)
            self.emit("error", code="disconnected", message=str(err))
