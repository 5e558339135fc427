"""Real-time printer status: ask with `DLE EOT n`, read the one-byte answers, decode them.

`DLE EOT 4` (roll paper sensor) answers 0x12 with paper, 0x1E near its end, 0x72 or 0x7E
when out; `DLE EOT 2` (offline cause) sets a bit for an open cover and one for an error.
Which bits mean what comes from the profile. A printer answers these even in the middle of
other data; a reply that lacks the fixed bits is noise and is skipped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from drivers.base import Transport
from drivers.printer.profile import StatusSettings

PAPER_STATES = ("ok", "near_end", "out")
DRAIN_ROUNDS = 16


class NoReply(Exception):
    """The printer did not answer a status request in time."""


@dataclass(frozen=True)
class Status:
    """What the printer said about itself."""

    paper: str  # ok | near_end | out
    cover_open: bool
    error: bool

    @property
    def condition(self) -> str | None:
        """Return the error code to report (`cover_open`, `offline`) or None when fine."""
        if self.cover_open:
            return "cover_open"
        return "offline" if self.error else None


def is_status_byte(value: int, settings: StatusSettings) -> bool:
    """Tell whether a byte looks like a status reply (its fixed bits are right)."""
    return value & settings.fixed_mask == settings.fixed_value


def decode(paper: int, offline: int, settings: StatusSettings) -> Status:
    """Decode the replies to the paper and offline-cause requests."""
    if paper & settings.out_mask:
        state = "out"
    elif paper & settings.near_end_mask:
        state = "near_end"
    else:
        state = "ok"
    return Status(
        paper=state,
        cover_open=bool(offline & settings.cover_open_mask),
        error=bool(offline & settings.error_mask),
    )


def drain(transport: Transport) -> None:
    """Read and drop whatever the printer sent that nobody asked for (late replies)."""
    for _ in range(DRAIN_ROUNDS):
        if not transport.read(64, 0.002):
            return


def query(transport: Transport, settings: StatusSettings) -> Status:
    """Ask for paper and offline cause in one write; return the decoded answer (raises NoReply)."""
    drain(transport)
    transport.write(settings.paper_request + settings.offline_request)
    replies: list[int] = []
    deadline = time.monotonic() + settings.reply_timeout
    while len(replies) < 2:
        left = deadline - time.monotonic()
        if left <= 0:
            raise NoReply(f"{len(replies)} of 2 status replies in {settings.reply_timeout} s")
        chunk = transport.read(2 - len(replies), left)
        replies.extend(byte for byte in chunk if is_status_byte(byte, settings))
    return decode(replies[0], replies[1], settings)
