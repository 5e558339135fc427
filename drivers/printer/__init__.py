"""Receipt printers (ESC/POS): the family's `check_profile` and `create`.

A printer's config names its link: `host` ("10.0.0.5" or "10.0.0.5:9100"; port 9100 by
default), `port` (a serial port or any pyserial URL) or `usb` ({"vid", "pid", "serial"}; vid
and pid default to the profile's). Profiles live in firmware-config/printers/*.toml.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drivers.base import Driver
from drivers.printer.driver import PrinterDriver, transport_factory
from drivers.printer.profile import PrinterSettings, check_profile, load_settings

__all__ = ["PrinterDriver", "PrinterSettings", "check_profile", "create"]


def create(
    device_id: str,
    config: Mapping[str, Any],
    profile: Mapping[str, Any],
    peers: Mapping[str, Driver],
    *,
    usb_backend: Any = None,
) -> PrinterDriver:
    """Return a printer driver for a device config (raises ProfileError); no I/O."""
    del peers  # a printer hangs off nothing
    settings = load_settings(profile)
    factory = transport_factory(device_id, config, settings, usb_backend)
    return PrinterDriver(device_id, profile, settings, factory)
