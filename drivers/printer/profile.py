"""A receipt printer profile (firmware-config/printers/*.toml) checked and turned into settings.

One reader serves both `check_profile` (every problem, for `edge config check`) and the
driver (settings, or a ProfileError listing the problems), so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.base import PROFILE_ROOT, ProfileError
from drivers.printer import escpos_lib
from drivers.printer.fields import Fields
from drivers.printer.text import MULTIBYTE, Charset, codec_name
from drivers.transports import check_serial_settings

MAX_DOTS = {58: 384, 80: 576}  # printable width of 58 and 80 mm paper at 180-203 dpi
CHAR_DOTS = 12  # Font A is 12 dots wide: columns = dots // 12
IMAGE_IMPLS = ("bitImageRaster", "graphics", "bitImageColumn")
MODES = ("native", "image")
IMAGE_ROOT = PROFILE_ROOT / "printers"


@dataclass(frozen=True)
class StatusSettings:
    """Real-time status requests and how to read their reply bytes."""

    enabled: bool
    poll_seconds: float
    reply_timeout: float
    paper_request: bytes  # DLE EOT 4: roll paper sensor
    offline_request: bytes  # DLE EOT 2: offline cause
    near_end_mask: int
    out_mask: int
    cover_open_mask: int
    error_mask: int
    fixed_mask: int  # bits that identify a status byte …
    fixed_value: int  # … and their values (Epson: bits 1 and 4 set, 0 and 7 clear)


@dataclass(frozen=True)
class PrinterSettings:
    """Everything the printer driver needs from a profile, typed."""

    model: str
    escpos_profile: str
    columns: int
    dots: int
    charset: Charset
    code_page: int | None  # ESC t n for a single-byte code page
    cut: bytes
    feed_before_cut: int
    barcode_mode: str
    barcode_height: int
    barcode_module: int
    qr_mode: str
    pins: tuple[int, ...]
    default_pin: int
    pulse_on_ms: int
    pulse_off_ms: int
    realtime_kick: bool  # DLE DC4 pulse while the printer is offline (paper out, cover open)
    image_impl: str
    images: Mapping[str, Path] = field(default_factory=dict)
    status: StatusSettings | None = None
    tcp_port: int = 9100
    connect_timeout: float = 3.0
    job_timeout: float = 15.0
    serial: Mapping[str, Any] = field(default_factory=dict)
    usb_vid: int | None = None
    usb_pid: int | None = None


def _charset(fields: Fields, escpos_profile: str) -> tuple[Charset, int | None]:
    """Read [text]: a double-byte codec handled here, or a code page python-escpos knows."""
    table = fields.table("text")
    encoding = fields.text(table, "text.", "encoding", None)
    kanji = fields.flag(table, "text.", "kanji_mode", False)
    codec = codec_name(encoding) if encoding else None
    if encoding and codec is None:
        fields.problems.append(f"text.encoding {encoding!r} is not a known encoding")
    if codec is None or codec in MULTIBYTE:
        return Charset(codec or "ascii", kanji), None
    pages = escpos_lib.code_pages(escpos_profile)
    if encoding.upper() not in pages:
        fields.problems.append(
            f"text.encoding {encoding!r} is not a code page of python-escpos profile "
            f"{escpos_profile!r} (and not a double-byte encoding)"
        )
        return Charset(codec), None
    return Charset(codec), pages[encoding.upper()]


def _status(fields: Fields) -> StatusSettings | None:
    """Read [status]."""
    table = fields.table("status", required=False)
    if not fields.flag(table, "status.", "enabled", bool(table)):
        return None
    mask = "status."
    settings = StatusSettings(
        enabled=True,
        poll_seconds=fields.number(table, mask, "poll_seconds", 3.0, (0.05, 60.0)),
        reply_timeout=fields.number(table, mask, "reply_timeout", 1.0, (0.05, 10.0)),
        paper_request=fields.hex_bytes(table, mask, "paper_request", "10 04 04"),
        offline_request=fields.hex_bytes(table, mask, "offline_request", "10 04 02"),
        near_end_mask=fields.integer(table, mask, "near_end_mask", 0x0C, (0, 255)),
        out_mask=fields.integer(table, mask, "out_mask", 0x60, (1, 255)),
        cover_open_mask=fields.integer(table, mask, "cover_open_mask", 0x04, (0, 255)),
        error_mask=fields.integer(table, mask, "error_mask", 0x40, (0, 255)),
        fixed_mask=fields.integer(table, mask, "fixed_mask", 0x93, (0, 255)),
        fixed_value=fields.integer(table, mask, "fixed_value", 0x12, (0, 255)),
    )
    if settings.fixed_value & ~settings.fixed_mask:
        fields.problems.append("status.fixed_value has bits outside status.fixed_mask")
    if len(settings.paper_request) < 1 or len(settings.offline_request) < 1:
        fields.problems.append("status requests must not be empty")
    return settings


def _images(fields: Fields) -> dict[str, Path]:
    """Read [images.files]: ref → file (relative paths are under firmware-config/printers/)."""
    files = fields.table("images", required=False).get("files", {})
    if not isinstance(files, Mapping):
        fields.problems.append("[images.files] must map image refs to file names")
        return {}
    images: dict[str, Path] = {}
    for ref, value in files.items():
        if not isinstance(value, str) or not value:
            fields.problems.append(f"images.files.{ref} must be a file name")
            continue
        path = Path(value)
        images[ref] = path if path.is_absolute() else IMAGE_ROOT / path
    return images


def _drawer(fields: Fields) -> tuple[tuple[int, ...], int, int, int, bool]:
    """Read [drawer]: wired pins, the default one, pulse times."""
    table = fields.table("drawer")
    pins = table.get("pins", [2])
    if not isinstance(pins, list) or not pins or any(pin not in (2, 5) for pin in pins):
        fields.problems.append("drawer.pins must list 2 and/or 5")
        pins = [2]
    default = fields.integer(table, "drawer.", "default_pin", pins[0], (2, 5))
    if default not in pins:
        fields.problems.append("drawer.default_pin must be one of drawer.pins")
    on_ms = fields.integer(table, "drawer.", "pulse_on_ms", 100, (2, 510))
    off_ms = fields.integer(table, "drawer.", "pulse_off_ms", 100, (2, 510))
    realtime = fields.flag(table, "drawer.", "realtime_when_offline", False)
    return tuple(pins), default, on_ms, off_ms, realtime


def _usb_id(fields: Fields, table: Mapping[str, Any], key: str) -> int | None:
    """Read a USB vendor or product id (an integer, e.g. 0x04B8)."""
    if key not in table:
        return None
    return fields.integer(table, "usb.", key, 0, (1, 0xFFFF))


def read_profile(profile: Mapping[str, Any]) -> tuple[PrinterSettings, list[str]]:
    """Return the settings of a profile and every problem found reading it."""
    fields = Fields(profile)
    model = fields.text(profile, "", "model", None)
    escpos_profile = fields.text(profile, "", "escpos_profile", None)
    if escpos_profile and escpos_profile not in escpos_lib.profile_names():
        fields.problems.append(f"escpos_profile {escpos_profile!r} is unknown to python-escpos")
        escpos_profile = "default"
    paper = fields.table("paper")
    width_mm = fields.integer(paper, "paper.", "width_mm", None, (58, 80))
    if width_mm not in MAX_DOTS:
        fields.problems.append("paper.width_mm must be 58 or 80")
    dots = fields.integer(paper, "paper.", "dots", None, (96, MAX_DOTS.get(width_mm, 576)))
    columns = fields.integer(paper, "paper.", "columns", None, (16, 64))
    if columns != dots // CHAR_DOTS:
        fields.problems.append(
            f"paper.columns {columns} does not match paper.dots {dots} "
            f"(Font A is {CHAR_DOTS} dots: {dots // CHAR_DOTS} columns)"
        )
    charset, code_page = _charset(fields, escpos_profile or "default")
    barcode, qr = fields.table("barcode", required=False), fields.table("qr", required=False)
    images_table = fields.table("images", required=False)
    link, serial = fields.table("link", required=False), profile.get("serial")
    if serial is not None:
        fields.problems.extend(check_serial_settings(serial))
    usb = fields.table("usb", required=False)
    pins, default_pin, on_ms, off_ms, realtime = _drawer(fields)
    settings = PrinterSettings(
        model=model,
        escpos_profile=escpos_profile or "default",
        columns=columns,
        dots=dots,
        charset=charset,
        code_page=code_page,
        cut=fields.hex_bytes(paper, "paper.", "cut", "1D 56 00"),
        feed_before_cut=fields.integer(paper, "paper.", "feed_before_cut", 6, (0, 20)),
        barcode_mode=fields.choice(barcode, "barcode.", "mode", "native", MODES),
        barcode_height=fields.integer(barcode, "barcode.", "height", 64, (1, 255)),
        barcode_module=fields.integer(barcode, "barcode.", "module_width", 3, (2, 6)),
        qr_mode=fields.choice(qr, "qr.", "mode", "native", MODES),
        pins=pins,
        default_pin=default_pin,
        pulse_on_ms=on_ms,
        pulse_off_ms=off_ms,
        realtime_kick=realtime,
        image_impl=fields.choice(images_table, "images.", "impl", IMAGE_IMPLS[0], IMAGE_IMPLS),
        images=_images(fields),
        status=_status(fields),
        tcp_port=fields.integer(link, "link.", "tcp_port", 9100, (1, 65535)),
        connect_timeout=fields.number(link, "link.", "connect_timeout", 3.0, (0.1, 30.0)),
        job_timeout=fields.number(link, "link.", "job_timeout", 15.0, (0.5, 120.0)),
        serial=serial if isinstance(serial, Mapping) else {},
        usb_vid=_usb_id(fields, usb, "vid"),
        usb_pid=_usb_id(fields, usb, "pid"),
    )
    return settings, fields.problems


def check_profile(profile: Mapping[str, Any]) -> list[str]:
    """Return every problem of a printer profile (empty when usable)."""
    return read_profile(profile)[1]


def load_settings(profile: Mapping[str, Any]) -> PrinterSettings:
    """Return a usable profile's settings (raises ProfileError listing its problems)."""
    settings, problems = read_profile(profile)
    if problems:
        raise ProfileError("printer profile: " + "; ".join(problems))
    return settings
