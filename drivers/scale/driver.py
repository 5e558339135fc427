"""ScaleDriver: polls a serial scale through the profile's protocol and reports what changed.

`start()` opens the port and runs the profile's probe on a worker thread, then starts a polling
task; every exchange with the scale runs on a worker thread under one lock, so a command and a
poll never interleave on the wire. A timeout, garbage or a broken link is reported (once per
change) and polling goes on; after a link failure the port is reopened with a bounded backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

from drivers.base import DeviceError, Driver, Transport, TransportError
from drivers.scale import link
from drivers.scale.engine import Reading, Unreadable, command, parse_probe, parse_reply
from drivers.scale.profile import compile_profile
from drivers.scale.protocol import ScaleProtocol
from drivers.scale.reporter import Outcome, Problem, Reporter

log = logging.getLogger(__name__)

RETRY_FIRST = 0.5  # seconds before the first reopen after a link failure, doubling each time
RETRY_MAX = 5.0


class ScaleDriver(Driver):
    """A weighing scale on a serial line (or any byte Transport), driven by its profile."""

    family: ClassVar[str] = "scale"

    def __init__(self, device_id: str, profile: Mapping[str, Any], transport: Transport) -> None:
        """Keep the profile's protocol and the link; nothing is opened here."""
        super().__init__(device_id, profile, transport)
        self.protocol: ScaleProtocol = compile_profile(profile)
        self.reporter = Reporter(self.protocol.equal_readings)
        self.fw = ""
        self.retry_first, self.retry_max = RETRY_FIRST, RETRY_MAX
        self._wire = threading.Lock()
        self._open = False
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def describe(self) -> dict[str, Any]:
        """Return the model from the profile and the firmware the probe reported."""
        return {"model": self.protocol.model, "fw": self.fw}

    async def start(self) -> None:
        """Open the port and probe the scale on a thread, then start polling."""
        self._stopping.clear()
        try:
            await asyncio.to_thread(self._connect)
        except TransportError as err:
            self._report(Problem("disconnected", str(err)))
        self._task = asyncio.create_task(self._poll_loop(), name=f"scale-poll-{self.device_id}")

    async def stop(self) -> None:
        """Stop polling, wait for the exchange on the wire, and close the port."""
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 4 * self.protocol.reply_timeout + 1.0)
            except TimeoutError:
                log.warning("scale %s: polling did not stop in time", self.device_id)
            self._task = None
        await asyncio.to_thread(self._close)

    async def command(self, verb: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """Carry out weigh, zero, tare or clear_tare (DeviceError with a machine code)."""
        if verb == "weigh":
            return await self._weigh()
        if verb not in ("zero", "tare", "clear_tare"):
            raise DeviceError("unsupported", f"scales do not {verb}")
        command(self.protocol, verb)  # DeviceError("unsupported") when the profile lacks it
        before = self.reporter.last
        reply = await self._exchange(verb)
        if reply is None:
            raise DeviceError("timeout", f"no answer to {verb}")
        if reply:
            reading = self._parse(reply)
            if reading.error is not None:
                raise DeviceError(reading.error, f"{verb} refused: {reading.error}")
            self._retare(verb, before, reading)
        else:
            self._retare(verb, before, None)
        return {}

    def _retare(self, verb: str, before: Reading | None, reading: Reading | None) -> None:
        """Remember the tare a command set: from the reply, else from the last stable weight."""
        reporter = self.reporter
        if verb == "clear_tare":
            reporter.tare_grams = 0
        elif verb == "tare":
            if reading is not None and reading.tare_grams is not None:
                reporter.tare_grams = max(reading.tare_grams, 0)
            elif before is not None and before.grams is not None and reporter.stable:
                reporter.tare_grams = max(reporter.tare_grams + before.grams, 0)
        reporter.reported = None  # the next stable weight is news, whatever it is

    async def _weigh(self) -> dict[str, Any]:
        """Take one fresh reading now and return it (DeviceError when it cannot price goods)."""
        try:
            outcome = self._outcome(await self._exchange("weigh"))
        except Unreadable as err:
            self._report(Problem("unreadable", str(err)))
            raise
        self._report(outcome)
        if isinstance(outcome, Problem):
            raise DeviceError(outcome.code, outcome.detail)
        reading = self.reporter.last
        if reading is None:
            raise DeviceError("timeout", "the scale has not sent a weight yet")
        if reading.error is not None:
            raise DeviceError(reading.error)
        if self.reporter.moving:
            raise DeviceError("motion", "the weight is still changing")
        if reading.grams is None:
            raise DeviceError("unreadable", "the scale sent no weight")
        return {"grams": reading.grams, "stable": self.reporter.stable}

    def _outcome(self, reply: bytes | None) -> Outcome:
        """Turn a weigh reply into a poll outcome (raises Unreadable)."""
        if reply is None:
            if self.protocol.silence_unchanged:
                return None
            return Problem("timeout", f"no reply within {self.protocol.reply_timeout} s")
        return self._parse(reply)

    def _parse(self, reply: bytes) -> Reading:
        """Parse a reply frame (raises Unreadable)."""
        return parse_reply(self.protocol, reply)

    async def _exchange(self, verb: str) -> bytes | None:
        """Run one exchange on a thread (DeviceError("disconnected") when the link fails)."""
        try:
            return await asyncio.to_thread(self._exchange_blocking, verb)
        except TransportError as err:
            self._report(Problem("disconnected", str(err)))
            raise DeviceError("disconnected", str(err)) from err

    def _exchange_blocking(self, verb: str) -> bytes | None:
        """Send a command and read its reply while holding the wire."""
        with self._wire:
            if not self._open:
                raise TransportError("the scale's port is not open")
            try:
                return link.exchange(self.transport, self.protocol, verb)
            except TransportError:
                self._close_locked()
                raise

    async def _poll_loop(self) -> None:
        """Poll until stopped; reopen the port with a bounded backoff after a link failure."""
        backoff = self.retry_first
        while not self._stopping.is_set():
            delay = self.protocol.poll_interval
            try:
                if not self._open:
                    await asyncio.to_thread(self._connect)
                outcome = self._outcome(await asyncio.to_thread(self._exchange_blocking, "weigh"))
                backoff = self.retry_first
            except Unreadable as err:
                outcome = Problem("unreadable", str(err))
            except TransportError as err:
                outcome = Problem("disconnected", str(err))
                delay, backoff = backoff, min(backoff * 2, self.retry_max)
            except Exception:  # a bug must not end polling for good
                log.exception("scale %s: poll failed", self.device_id)
                outcome = Problem("unreadable", "internal error while polling")
            self._report(outcome)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    def _report(self, outcome: Outcome) -> None:
        """Emit the events an outcome causes."""
        for kind, data in self.reporter.observe(outcome):
            self.emit(kind, **data)

    def _connect(self) -> None:
        """Open the port and run the probe (blocking; raises TransportError)."""
        with self._wire:
            self._close_locked()
            self.transport.open()
            self._open = True
            try:
                reply = link.probe(self.transport, self.protocol)
                if reply is not None:
                    self.fw = parse_probe(self.protocol, reply)
                elif self.protocol.probe is not None:
                    log.warning("scale %s: no answer to the probe", self.device_id)
            except Unreadable as err:
                log.warning("scale %s: %s", self.device_id, err)
            except TransportError:
                self._close_locked()
                raise

    def _close(self) -> None:
        """Close the port (blocking)."""
        with self._wire:
            self._close_locked()

    def _close_locked(self) -> None:
        """Close the port; the caller holds the wire."""
        self._open = False
        self.transport.close()
