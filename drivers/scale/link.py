"""Blocking exchanges with a scale over a Transport: send a command, collect its reply frame.

These run on a worker thread (`asyncio.to_thread`), never on the event loop. They know frames
only by their end bytes; what a frame means is the engine's business.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from drivers.base import Transport
from drivers.scale.engine import Unreadable, command
from drivers.scale.protocol import ScaleProtocol


def drain(transport: Transport) -> None:
    """Drop bytes nobody asked for (a late reply, line noise), where the link can."""
    reset: Callable[[], None] | None = getattr(transport, "reset_input", None)
    if reset is not None:
        reset()


def read_until(transport: Transport, end: bytes, timeout: float, max_length: int) -> bytes:
    """Collect bytes until `end` arrives, `max_length` bytes came or `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    buffer = bytearray()
    while True:
        index = buffer.find(end)
        if index >= 0:
            return bytes(buffer[: index + len(end)])
        left = deadline - time.monotonic()
        if left <= 0 or len(buffer) >= max_length:
            return bytes(buffer)
        buffer += transport.read(max_length - len(buffer), left)


def exchange(transport: Transport, protocol: ScaleProtocol, verb: str) -> bytes | None:
    """Send a command; return its reply bytes, b"" if none is expected, None on silence."""
    spec = command(protocol, verb)
    timeout = protocol.reply_timeout
    drain(transport)
    if spec.handshake:
        transport.write(spec.handshake)
        size = len(spec.handshake_reply)
        answer = read_until(transport, spec.handshake_reply, timeout, size + 16)
        if not answer:
            return None
        if answer[-size:] != spec.handshake_reply:
            raise Unreadable(f"handshake answered {answer!r}")
    transport.write(spec.send)
    if spec.reply == "none":
        return b""
    reply = read_until(transport, protocol.end, timeout, protocol.max_length)
    if not reply:
        return b"" if spec.reply == "optional" else None
    return reply


def probe(transport: Transport, protocol: ScaleProtocol) -> bytes | None:
    """Run the profile's identification exchange; return its reply (None: no probe, no answer)."""
    spec = protocol.probe
    if spec is None:
        return None
    drain(transport)
    transport.write(spec.send)
    reply = read_until(transport, spec.end, protocol.reply_timeout, protocol.max_length)
    if spec.after:
        transport.write(spec.after)
        time.sleep(min(protocol.reply_timeout, 0.05))
        drain(transport)
    return reply or None
