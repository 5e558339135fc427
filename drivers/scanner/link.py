"""Which link a scanner's device config names: a serial port, or a USB device by identity.

Config keys (the device's entry in the gateway config):
- serial mode: `port`, a stable name (`/dev/serial/by-id/…`, `/dev/serial/by-path/…`) or any
  pyserial URL;
- USB modes: `serial_number` (the USB iSerialNumber string) or, for scanners without one,
  `usb_path` (the physical port, e.g. `1-1.4`); `vendor_id` / `product_id` when the profile
  does not name them. The printers' form `usb = {vid, pid, serial, path}` works too.
- any mode: `reconnect_s = [first, longest]`, the retry delays in seconds (default 0.5 and 30).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from drivers.base import ProfileError, Transport
from drivers.scanner.profile import ScannerSettings
from drivers.scanner.usb_link import UsbReportLink
from drivers.transports import SerialTransport, stable_port

log = logging.getLogger(__name__)

DEFAULT_BACKOFF = (0.5, 30.0)


def _setting(config: Mapping[str, Any], key: str, usb_key: str) -> Any:
    """Return a USB setting from the config's top level or its `usb` table."""
    if key in config:
        return config[key]
    usb = config.get("usb")
    return usb.get(usb_key) if isinstance(usb, Mapping) else None


def _usb_id(device_id: str, value: Any, fallback: int | None, what: str) -> int:
    """Return a USB id from config (an integer or hex text) or the profile."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = int(value, 16)
    if value is None:
        value = fallback
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 0xFFFF:
        return value
    raise ProfileError(f"{device_id}: {what} must be a USB id like 0x0C2E (config or profile)")


def _text(device_id: str, value: Any, what: str) -> str | None:
    """Return an optional non-empty text setting."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ProfileError(f"{device_id}: {what} must be text")
    return value


def build_transport(
    device_id: str, config: Mapping[str, Any], settings: ScannerSettings, usb_backend: Any = None
) -> Transport:
    """Return the scanner's link from its config (raises ProfileError); no I/O."""
    if settings.mode == "serial":
        port = config.get("port")
        if not isinstance(port, str) or not port or settings.serial is None:
            raise ProfileError(f"{device_id}: a serial scanner needs `port` in its config")
        if not stable_port(port):
            log.warning("%s: %s may change name on re-plugging", device_id, port)
        return SerialTransport(port, settings.serial)
    usb = settings.usb
    if usb is None:
        raise ProfileError(f"{device_id}: the profile has no [usb] table")
    serial_number = _text(device_id, _setting(config, "serial_number", "serial"), "serial_number")
    path = _text(device_id, _setting(config, "usb_path", "path"), "usb_path")
    if serial_number is None and path is None:
        raise ProfileError(
            f"{device_id}: a USB scanner is found by `serial_number` (or `usb_path`),"
            " never by enumeration order"
        )
    return UsbReportLink(
        _usb_id(device_id, _setting(config, "vendor_id", "vid"), usb.vendor_id, "vendor_id"),
        _usb_id(device_id, _setting(config, "product_id", "pid"), usb.product_id, "product_id"),
        usb,
        serial_number=serial_number,
        path=path,
        backend=usb_backend,
    )


def backoff(device_id: str, config: Mapping[str, Any]) -> tuple[float, float]:
    """Return the reconnect delays (first, longest) in seconds from the config."""
    value = config.get("reconnect_s")
    if value is None:
        return DEFAULT_BACKOFF
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(item, int | float) and not isinstance(item, bool) for item in value)
        and 0 < value[0] <= value[1] <= 3600
    ):
        return float(value[0]), float(value[1])
    raise ProfileError(f"{device_id}: reconnect_s must be [first, longest] seconds")
