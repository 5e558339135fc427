"""The scale family: one protocol engine driven by the profiles in firmware-config/scales/.

`check_profile` lists a profile's problems (empty = usable) and `create` builds a ScaleDriver on
a serial port (any pyserial URL) without opening it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drivers.base import Driver, DriverError
from drivers.scale.driver import ScaleDriver
from drivers.scale.engine import Reading, Unreadable, parse_probe, parse_reply
from drivers.scale.profile import check_profile, compile_profile
from drivers.scale.protocol import ScaleProtocol
from drivers.transports import SerialTransport

__all__ = [
    "Reading",
    "ScaleDriver",
    "ScaleProtocol",
    "Unreadable",
    "check_profile",
    "compile_profile",
    "create",
    "parse_probe",
    "parse_reply",
]


def create(
    device_id: str,
    config: Mapping[str, Any],
    profile: Mapping[str, Any],
    peers: Mapping[str, Driver],
) -> Driver:
    """Build a scale driver on the configured port with the profile's serial settings (no I/O)."""
    port = config.get("port")
    if not isinstance(port, str) or not port:
        raise DriverError(f"scale {device_id}: the config names no port")
    return ScaleDriver(device_id, profile, SerialTransport(port, profile.get("serial", {})))
