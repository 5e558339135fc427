"""Customer displays: the family's `check_profile` and `create`.

Config: {"id": "display-01", "type": "display", "profile": "pole_2x20"} with either "via":
"<printer id>" (daisy-chained behind that printer, which must be listed first) or "port" (its
own serial port or any pyserial URL). Command `show` {"lines": ["…", "…"]}, and `clear`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drivers.base import Driver, ProfileError
from drivers.display.driver import DisplayDriver, DisplaySettings, read_profile
from drivers.printer import PrinterDriver
from drivers.transports import SerialTransport

__all__ = ["DisplayDriver", "DisplaySettings", "check_profile", "create"]


def check_profile(profile: Mapping[str, Any]) -> list[str]:
    """Return every problem of a display profile (empty when usable)."""
    return read_profile(profile)[1]


def create(
    device_id: str,
    config: Mapping[str, Any],
    profile: Mapping[str, Any],
    peers: Mapping[str, Driver],
) -> DisplayDriver:
    """Return a display driver behind a printer peer or on its own port (raises ProfileError)."""
    settings, problems = read_profile(profile)
    if problems:
        raise ProfileError(f"{device_id}: display profile: " + "; ".join(problems))
    via, port = config.get("via"), config.get("port")
    if isinstance(via, str):
        printer = peers.get(via)
        if not isinstance(printer, PrinterDriver):
            raise ProfileError(f"{device_id}: via must name a printer created before the display")
        return DisplayDriver(device_id, profile, settings, printer=printer)
    if isinstance(port, str):
        if not settings.serial:
            raise ProfileError(f"{device_id}: the display profile has no [serial] settings")
        serial = settings.serial
        return DisplayDriver(
            device_id, profile, settings, factory=lambda: SerialTransport(port, serial)
        )
    raise ProfileError(f"{device_id}: a display needs via (a printer) or port in its config")
