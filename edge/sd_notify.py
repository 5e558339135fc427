"""systemd's notify protocol: READY, STATUS, STOPPING and the watchdog ping, without libsystemd.

Under `Type=notify` systemd passes `NOTIFY_SOCKET` (a path, or `@name` for an abstract socket)
and, with `WatchdogSec=`, `WATCHDOG_USEC`. Messages are `KEY=value` lines in one datagram.
The watchdog is pinged from the event loop itself, so a loop that hangs stops the pings and
systemd restarts the service. Outside systemd every call is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


def notify(message: str, env: Mapping[str, str] | None = None) -> bool:
    """Send one notification; return False when there is no NOTIFY_SOCKET (or it failed)."""
    env = os.environ if env is None else env
    address = env.get("NOTIFY_SOCKET", "")
    if not address or address[0] not in "/@":
        return False
    target = "\0" + address[1:] if address[0] == "@" else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(target)
            sock.sendall(message.encode())
    except OSError as err:
        log.warning("cannot notify systemd at %s: %s", address, err)
        return False
    return True


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """Return how often to ping (half of WATCHDOG_USEC), None when no watchdog is set for us."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000


async def keep_watchdog(env: Mapping[str, str] | None = None) -> None:
    """Ping the watchdog from the event loop until cancelled (returns at once without one)."""
    interval = watchdog_interval(env)
    if interval is None:
        return
    while True:
        notify("WATCHDOG=1", env)
        await asyncio.sleep(interval)
