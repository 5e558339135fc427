"""Barcode scanners (serial, USB HID POS, USB keyboard wedge): `check_profile` and `create`.

Profiles live in firmware-config/scanners/*.toml; their `mode` picks the link and the decoder.
A device config names the link (see `drivers.scanner.link`): `port` for a serial scanner,
`serial_number` (or `usb_path`) for a USB one. The driver emits `scan` {"code", "symbology"}
and `error` {"code": "garbled" | "disconnected"}; it takes no commands. `create` also takes a
pyusb `usb_backend` to find USB scanners through, or a `transport` that replaces the link
altogether (a report reader in tests and the demo).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drivers.base import Driver, Transport
from drivers.scanner.codes import Frame, Rejected, Rules, Scan, accept, gtin_check_digit
from drivers.scanner.driver import ScannerDriver, make_decoder
from drivers.scanner.hid_pos import HidPosDecoder, HidPosFormat
from drivers.scanner.keyboard import KeyboardDecoder, KeyboardLayout
from drivers.scanner.link import backoff, build_transport
from drivers.scanner.profile import (
    ScannerSettings,
    UsbSettings,
    check_profile,
    keyboard_layout,
    load_settings,
)
from drivers.scanner.serial_decoder import SerialDecoder, SerialFraming
from drivers.scanner.usb_link import UsbReportLink

__all__ = [
    "Frame",
    "HidPosDecoder",
    "HidPosFormat",
    "KeyboardDecoder",
    "KeyboardLayout",
    "Rejected",
    "Rules",
    "Scan",
    "ScannerDriver",
    "ScannerSettings",
    "SerialDecoder",
    "SerialFraming",
    "UsbReportLink",
    "UsbSettings",
    "accept",
    "check_profile",
    "create",
    "gtin_check_digit",
    "keyboard_layout",
    "load_settings",
    "make_decoder",
]


def create(
    device_id: str,
    config: Mapping[str, Any],
    profile: Mapping[str, Any],
    peers: Mapping[str, Driver],
    *,
    usb_backend: Any = None,
    transport: Transport | None = None,
) -> ScannerDriver:
    """Return a scanner driver for a device config (raises ProfileError); no I/O."""
    del peers  # a scanner hangs off nothing
    settings = load_settings(profile)
    link = transport or build_transport(device_id, config, settings, usb_backend)
    return ScannerDriver(device_id, profile, settings, link, backoff=backoff(device_id, config))
