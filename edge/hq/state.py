"""The uplink's cursor and alarm, kept beside the ledger in `hq-state.json`.

The cursor is the last seq HQ acknowledged. It is not a ledger event (an acknowledgement is not
a store fact, and an event per ack would itself need forwarding). It is written atomically
(temporary file, fsync, rename) after each acknowledgement; a crash that loses the latest write
only makes the forwarder resend a range HQ already has, which HQ answers with its head.
`edge hq retry` leaves a `hq-retry` file that a stopped forwarder picks up.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

STATE_FILE = "hq-state.json"
RETRY_FILE = "hq-retry"


@dataclass
class Stop:
    """Why forwarding stopped: the refused range and HQ's answer."""

    seq: int  # the first seq of the refused batch
    status: int  # HTTP status (400, 401, 422) or 0 for a store-side alarm
    code: str
    message: str
    at: str  # ISO time


@dataclass
class LinkState:
    """What survives a restart: the acknowledged cursor, the last error, a stop."""

    acked_seq: int = 0
    acked_at: str | None = None
    last_error: dict[str, Any] | None = None
    stopped: Stop | None = None
    skew_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Return the JSON document of the state."""
        return asdict(self)


def state_path(ledger_path: Path) -> Path:
    """Return the state file of the ledger at `ledger_path`."""
    return ledger_path.parent / STATE_FILE


def retry_path(ledger_path: Path) -> Path:
    """Return the file `edge hq retry` leaves for a stopped forwarder."""
    return ledger_path.parent / RETRY_FILE


def load_state(path: Path) -> LinkState:
    """Read the state file; a missing file is a fresh link (cursor 0)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return LinkState()
    except (OSError, ValueError) as err:
        raise RuntimeError(f"{path} is unreadable ({err}); remove it to resend from seq 1") from err
    stopped = doc.get("stopped")
    return LinkState(
        acked_seq=int(doc.get("acked_seq", 0)),
        acked_at=doc.get("acked_at"),
        last_error=doc.get("last_error"),
        stopped=Stop(**stopped) if isinstance(stopped, dict) else None,
        skew_s=float(doc.get("skew_s", 0.0)),
    )


def save_state(path: Path, state: LinkState) -> None:
    """Write the state file atomically and durably."""
    tmp = path.with_name(path.name + ".tmp")
    data = json.dumps(state.to_json(), ensure_ascii=False, indent=1).encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def request_retry(ledger_path: Path) -> None:
    """Ask a stopped forwarder (running or not yet started) to try the refused range again."""
    retry_path(ledger_path).write_text("retry\n", encoding="utf-8")


def take_retry(ledger_path: Path) -> bool:
    """Return True (and remove the request) if `edge hq retry` asked for a retry."""
    path = retry_path(ledger_path)
    if not path.exists():
        return False
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return True
