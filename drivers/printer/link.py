"""A device connection opened on demand, used by one job at a time, replaced after any failure.

A broken or hung link never blocks the next job. Every job runs on a worker thread
(`asyncio.to_thread`) under a time limit. When a job fails or overruns, its transport is
closed and forgotten: the next job connects afresh with a new transport object, so a thread
still stuck in the old one cannot touch the new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

from drivers.base import DeviceError, DriverError, Transport, TransportError

T = TypeVar("T")


def _close_quietly(transport: Transport) -> None:
    """Close a transport that already failed; its own errors no longer matter."""
    with contextlib.suppress(DriverError, OSError):
        transport.close()


class Link:
    """One device connection, serialised and self-healing."""

    def __init__(
        self, name: str, factory: Callable[[], Transport], first: Transport | None = None
    ) -> None:
        """Remember how to make a transport (and the first one); nothing connects yet."""
        self.name = name
        self._factory = factory
        self._first = first
        self._transport: Transport | None = None
        self._lock = asyncio.Lock()
        self._closing: set[asyncio.Future[None]] = set()

    @property
    def connected(self) -> bool:
        """Tell whether a connection is open (it may still turn out broken)."""
        return self._transport is not None

    async def run(self, work: Callable[[Transport], T], limit: float) -> T:
        """Run blocking `work` on the connection in a thread, connecting first when needed.

        Raises TransportError when the link fails and DeviceError("timeout") when the work
        overruns `limit` seconds; either way the connection is dropped for the next job.
        """
        async with self._lock:
            transport = self._transport
            fresh = transport is None
            if transport is None:
                transport, self._first = self._first or self._factory(), None

            def job() -> T:
                """Connect when new, then do the work."""
                if fresh:
                    transport.open()
                return work(transport)

            self._transport = transport
            try:
                return await asyncio.wait_for(asyncio.to_thread(job), limit)
            except TimeoutError as err:
                self._drop(transport)
                raise DeviceError("timeout", f"{self.name}: no answer in {limit} s") from err
            except BaseException:
                self._drop(transport)
                raise

    def _drop(self, transport: Transport) -> None:
        """Forget a failed connection and close it on a worker thread."""
        if self._transport is transport:
            self._transport = None
        future = asyncio.get_running_loop().run_in_executor(None, _close_quietly, transport)
        self._closing.add(future)
        future.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Close the connection (a job still running fails and is not retried)."""
        transport, self._transport = self._transport, None
        if transport is not None:
            await asyncio.to_thread(_close_quietly, transport)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


class PeerTransport:
    """The transport of a device that talks through another driver (a drawer on a printer)."""

    def __init__(self, peer: str) -> None:
        """Name the driver whose link carries this device's bytes."""
        self.peer = peer

    def open(self) -> PeerTransport:
        """Nothing to open: the peer owns the link."""
        return self

    def write(self, data: bytes) -> None:
        """Refuse: bytes go through the peer driver."""
        raise TransportError(f"write through {self.peer}, not directly")

    def read(self, size: int, timeout: float) -> bytes:
        """Refuse: bytes come through the peer driver."""
        raise TransportError(f"read through {self.peer}, not directly")

    def close(self) -> None:
        """Nothing to close: the peer owns the link."""
