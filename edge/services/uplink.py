"""What the rest of the server sees of the HQ link: its status and an operator's retry."""

from __future__ import annotations

from typing import Any, Protocol


class Uplink(Protocol):
    """The running HQ forwarder (edge.hq.forwarder.Forwarder) as handlers and metrics use it."""

    def status(self) -> dict[str, Any]:
        """Return cursor, backlog, oldest unsent age, last error and stop."""
        ...

    def retry(self) -> bool:
        """Resume forwarding stopped on a refused batch; False if it was not stopped."""
        ...


class NoUplink:
    """The HQ link when none is configured (or in a worker process)."""

    def __init__(self, reason: str) -> None:
        """Say why there is no link."""
        self.reason = reason

    def status(self) -> dict[str, Any]:
        """Return a status that says the link is off and why."""
        return {"state": "off", "reason": self.reason}

    def retry(self) -> bool:
        """Refuse: there is nothing to resume."""
        return False
