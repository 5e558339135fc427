"""Scanner profiles (firmware-config/scanners/*.toml) read into typed settings, every problem named.

`mode` picks the link and the decoder: `serial` (a `[serial]` line and a `[framing]` suffix),
`hid_pos` (a `[usb]` device and the `[hid_pos]` report layout) or `keyboard` (a `[usb]` device
and the `[keyboard]` layout table). `[codes]` says how finished codes are checked.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from drivers.base import ProfileError
from drivers.scanner.codes import Rules
from drivers.scanner.hid_pos import HidPosFormat
from drivers.scanner.keyboard import KeyboardLayout
from drivers.scanner.serial_decoder import SerialFraming
from drivers.transports import check_serial_settings
from edge.protocol.mqtt import MAX_CODE

MODES = ("serial", "hid_pos", "keyboard")
HID_POS_USAGE_PAGE = 0x8C
BOOT_REPORT_SIZE = 8
TIMEOUT_MS = (20, 5000)


@dataclass(frozen=True)
class UsbSettings:
    """How to reach a USB scanner's reports (the profile's `[usb]` table)."""

    vendor_id: int | None = None
    product_id: int | None = None
    interface: int = 0
    endpoint: int | None = None  # the interrupt-IN address; None = the interface's first
    report_size: int = 64
    detach_kernel_driver: bool = True
    boot_protocol: bool = False  # send SET_PROTOCOL(boot) so reports are 8-byte boot reports
    set_idle: bool = False  # send SET_IDLE(0): report on change only, no idle repeats
    mode_switch: bytes = b""  # a feature report (report id first) that selects this mode


@dataclass(frozen=True)
class ScannerSettings:
    """Everything the driver needs from a scanner profile."""

    mode: str
    rules: Rules
    serial: Mapping[str, Any] | None = None
    framing: SerialFraming | None = None
    usb: UsbSettings | None = None
    hid_pos: HidPosFormat | None = None
    keyboard: KeyboardLayout | None = None


class _Fields:
    """Read typed fields from TOML tables, collecting every problem instead of stopping."""

    def __init__(self) -> None:
        """Start with no problems."""
        self.problems: list[str] = []

    def table(self, parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        """Return a required sub-table (empty, with a problem, when missing)."""
        value = parent.get(key)
        if isinstance(value, Mapping):
            return value
        self.problems.append(f"[{key}] table missing")
        return {}

    def integer(
        self, table: Mapping[str, Any], where: str, default: int | None, low: int, high: int
    ) -> int | None:
        """Return an integer field within bounds (the default when absent)."""
        key = where.rpartition(".")[2]
        value = table.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problems.append(f"{where} must be an integer in {low}..{high}")
            return default
        return value

    def flag(self, table: Mapping[str, Any], where: str, default: bool) -> bool:
        """Return a boolean field (the default when absent)."""
        value = table.get(where.rpartition(".")[2], default)
        if not isinstance(value, bool):
            self.problems.append(f"{where} must be true or false")
            return default
        return value

    def text(self, table: Mapping[str, Any], where: str, default: str) -> str:
        """Return a text field (the default when absent)."""
        value = table.get(where.rpartition(".")[2], default)
        if not isinstance(value, str):
            self.problems.append(f"{where} must be text")
            return default
        return value

    def byte_list(self, table: Mapping[str, Any], where: str) -> bytes:
        """Return a list of byte values as bytes (empty when absent)."""
        value = table.get(where.rpartition(".")[2], [])
        if not isinstance(value, list) or not all(
            isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 255
            for item in value
        ):
            self.problems.append(f"{where} must be a list of byte values")
            return b""
        return bytes(value)

    def timeout(self, table: Mapping[str, Any], where: str) -> float:
        """Return a `timeout_ms` field in seconds."""
        return (self.integer(table, f"{where}.timeout_ms", 300, *TIMEOUT_MS) or 300) / 1000


def _rules(fields: _Fields, profile: Mapping[str, Any]) -> Rules:
    """Read the `[codes]` table."""
    table = profile.get("codes", {})
    if not isinstance(table, Mapping):
        fields.problems.append("[codes] must be a table")
        table = {}
    encoding = fields.text(table, "codes.encoding", "utf-8")
    try:
        codecs.lookup(encoding)
    except LookupError:
        fields.problems.append(f"codes.encoding {encoding!r} is not a known encoding")
        encoding = "utf-8"
    low = fields.integer(table, "codes.min_length", 1, 1, MAX_CODE) or 1
    high = fields.integer(table, "codes.max_length", MAX_CODE, 1, MAX_CODE) or MAX_CODE
    if low > high:
        fields.problems.append("codes.min_length is above codes.max_length")
    check = fields.flag(table, "codes.check_digits_unnamed", True)
    return Rules(low, high, check, encoding)


def _framing(fields: _Fields, profile: Mapping[str, Any], encoding: str) -> SerialFraming:
    """Read the `[framing]` table of a serial scanner."""
    table = fields.table(profile, "framing")
    try:
        suffix = fields.text(table, "framing.suffix", "").encode(encoding)
        prefix = fields.text(table, "framing.prefix", "").encode(encoding)
    except UnicodeEncodeError:
        fields.problems.append("framing.prefix and framing.suffix must fit codes.encoding")
        suffix, prefix = b"\r", b""
    if not suffix:
        fields.problems.append("framing.suffix must not be empty (CR or CR LF)")
        suffix = b"\r"
    aim = fields.flag(table, "framing.aim_prefix", False)
    return SerialFraming(suffix, prefix, aim, fields.timeout(table, "framing"))


def _usb(fields: _Fields, profile: Mapping[str, Any], mode: str) -> UsbSettings:
    """Read the `[usb]` table."""
    table = fields.table(profile, "usb")
    size_default = BOOT_REPORT_SIZE if mode == "keyboard" else 64
    size = fields.integer(table, "usb.report_size", size_default, 8, 1024) or size_default
    if mode == "keyboard" and size != BOOT_REPORT_SIZE:
        fields.problems.append("usb.report_size of a keyboard wedge is 8 (boot reports)")
    return UsbSettings(
        vendor_id=fields.integer(table, "usb.vendor_id", None, 1, 0xFFFF),
        product_id=fields.integer(table, "usb.product_id", None, 1, 0xFFFF),
        interface=fields.integer(table, "usb.interface", 0, 0, 255) or 0,
        endpoint=fields.integer(table, "usb.endpoint", None, 0x81, 0x8F),
        report_size=size,
        detach_kernel_driver=fields.flag(table, "usb.detach_kernel_driver", True),
        boot_protocol=fields.flag(table, "usb.boot_protocol", False),
        set_idle=fields.flag(table, "usb.set_idle", False),
        mode_switch=fields.byte_list(table, "usb.mode_switch"),
    )


def _hid_pos(fields: _Fields, profile: Mapping[str, Any], report_size: int) -> HidPosFormat:
    """Read the `[hid_pos]` table."""
    table = fields.table(profile, "hid_pos")
    if table.get("usage_page", HID_POS_USAGE_PAGE) != HID_POS_USAGE_PAGE:
        fields.problems.append("hid_pos.usage_page must be 0x8C (bar code scanner)")
    fields.integer(table, "hid_pos.usage", 2, 1, 0xFFFF)
    last = report_size - 2
    layout = HidPosFormat(
        report_id=fields.integer(table, "hid_pos.report_id", 0x02, 1, 255) or 0x02,
        length_offset=fields.integer(table, "hid_pos.length_offset", 1, 1, last) or 1,
        aim_offset=fields.integer(table, "hid_pos.aim_offset", 2, 1, last) or 2,
        data_offset=fields.integer(table, "hid_pos.data_offset", 5, 2, last) or 5,
        length_includes_aim=fields.flag(table, "hid_pos.length_includes_aim", False),
        timeout=fields.timeout(table, "hid_pos"),
    )
    if layout.aim_offset + 3 > layout.data_offset:
        fields.problems.append("hid_pos.aim_offset + 3 must not pass hid_pos.data_offset")
    if layout.aim_offset <= layout.length_offset < max(layout.aim_offset + 3, layout.data_offset):
        fields.problems.append("hid_pos.length_offset must lie before the AIM id and the data")
    return layout


def _keyboard(fields: _Fields, profile: Mapping[str, Any]) -> KeyboardLayout:
    """Read the `[keyboard]` table and its layout."""
    table = fields.table(profile, "keyboard")
    keys: dict[int, tuple[str, str]] = {}
    raw_keys = table.get("keys")
    if not isinstance(raw_keys, Mapping) or not raw_keys:
        fields.problems.append("[keyboard.keys] layout table missing")
        raw_keys = {}
    for name, pair in raw_keys.items():
        try:
            usage = int(name, 16)
        except ValueError:
            usage = -1
        good_pair = isinstance(pair, list) and len(pair) == 2
        if (
            not 0x04 <= usage <= 0xFF
            or not good_pair
            or not all(
                isinstance(char, str) and len(char) == 1 and char.isprintable() for char in pair
            )
        ):
            fields.problems.append(
                f"keyboard.keys.{name} must be a usage 0x04..0xFF = [plain, shifted] characters"
            )
            continue
        keys[usage] = (pair[0], pair[1])
    shift = fields.byte_list(table, "keyboard.shift_bits") or bytes([0x02, 0x20])
    end = fields.byte_list(table, "keyboard.end_keys") or bytes([0x28, 0x58])
    if set(end) & set(keys):
        fields.problems.append("keyboard.end_keys must not be in the layout table")
    mask = 0
    for bit in shift:
        mask |= bit
    return KeyboardLayout(
        keys=keys,
        name=fields.text(table, "keyboard.layout", "us"),
        shift_mask=mask,
        end_keys=frozenset(end),
        timeout=fields.timeout(table, "keyboard"),
    )


def _read(profile: Mapping[str, Any]) -> tuple[ScannerSettings, list[str]]:
    """Read a profile into settings and the list of its problems."""
    fields = _Fields()
    mode = profile.get("mode")
    if mode not in MODES:
        fields.problems.append(f"mode must be one of {', '.join(MODES)}")
        mode = "serial"
    rules = _rules(fields, profile)
    if mode == "serial":
        try:
            fields.problems.extend(check_serial_settings(profile.get("serial")))
        except TypeError:  # a list or table where a number or letter belongs
            fields.problems.append("[serial] values must be numbers or letters")
        serial = profile.get("serial")
        framing = _framing(fields, profile, rules.encoding)
        settings = ScannerSettings(
            mode, rules, serial if isinstance(serial, Mapping) else None, framing
        )
        return settings, fields.problems
    usb = _usb(fields, profile, mode)
    if mode == "hid_pos":
        settings = ScannerSettings(
            mode, rules, usb=usb, hid_pos=_hid_pos(fields, profile, usb.report_size)
        )
    else:
        settings = ScannerSettings(mode, rules, usb=usb, keyboard=_keyboard(fields, profile))
    return settings, fields.problems


def check_profile(profile: Mapping[str, Any]) -> list[str]:
    """Return every problem of a scanner profile (empty when usable)."""
    return _read(profile)[1]


def load_settings(profile: Mapping[str, Any]) -> ScannerSettings:
    """Return a profile's settings (raises ProfileError naming every problem)."""
    settings, problems = _read(profile)
    if problems:
        raise ProfileError("; ".join(problems))
    return settings


def keyboard_layout(profile: Mapping[str, Any]) -> KeyboardLayout:
    """Return the layout table of a keyboard-wedge profile (raises ProfileError)."""
    layout = load_settings(profile).keyboard
    if layout is None:
        raise ProfileError("not a keyboard-wedge profile")
    return layout
