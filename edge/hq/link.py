"""The HQ link as the server shows it: uplink and downlink together, in any process.

The primary process runs the forwarder and the downlink (`HqLink`); a worker process serving
the same store answers from the link's state file and the ledger (`WorkerLink`), so the back
office sees the same link whichever process takes its request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.hq.downlink import Downlink
from edge.hq.forwarder import Forwarder, offline_status
from edge.hq.state import load_state, request_retry, state_path


class HqLink:
    """The running link in the primary: the forwarder's status with the downlink's."""

    def __init__(self, forwarder: Forwarder, downlink: Downlink) -> None:
        """Keep both halves."""
        self.forwarder = forwarder
        self.downlink = downlink

    def status(self) -> dict[str, Any]:
        """Return the uplink's status with the downlink's under `downlink`."""
        return self.forwarder.status() | {"downlink": self.downlink.status()}

    def retry(self) -> bool:
        """Resume a stopped uplink."""
        return self.forwarder.retry()


class WorkerLink:
    """The link seen from a worker process: read from the state file and the ledger."""

    def __init__(self, ledger_path: Path, url: str) -> None:
        """Keep where the state is."""
        self.ledger_path = ledger_path
        self.url = url

    def status(self) -> dict[str, Any]:
        """Return the link's last saved state and the ledger's catalog version."""
        return offline_status(self.ledger_path, self.url)

    def retry(self) -> bool:
        """Leave a retry request for the primary's forwarder, if the link is stopped."""
        if load_state(state_path(self.ledger_path)).stopped is None:
            return False
        request_retry(self.ledger_path)
        return True
