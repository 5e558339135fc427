"""Receipt document (edge.protocol.receipt) → ESC/POS bytes for one printer profile.

The whole job is built in memory with python-escpos's `Dummy` printer and sent in one write,
so a job never reaches the printer half-made. Text goes out in the profile's encoding (GB18030
for Chinese, in Kanji mode FS & … FS . when the printer needs it); lines are laid out on the
profile's column grid with CJK characters counted double. A missing logo is skipped with a
note: a receipt is never refused for decoration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError

from drivers.printer import escpos_lib
from drivers.printer.profile import PrinterSettings
from drivers.printer.text import pad, two_columns, wrap
from edge.protocol.receipt import check_document

ESC_T = b"\x1b\x74"  # ESC t n: select a single-byte character code table
CODE128_SET_B = "{B"
EAN13_WEIGHTS = (1, 3) * 6


class RenderError(Exception):
    """The document cannot be printed as asked (bad barcode data, unknown block)."""


@dataclass
class Rendered:
    """A print job: its bytes and what was left out."""

    data: bytes
    notes: list[str] = field(default_factory=list)


def ean13_ok(data: str) -> bool:
    """Tell whether EAN-13 data is 12 digits, or 13 with the right check digit."""
    if not data.isascii() or not data.isdigit() or len(data) not in (12, 13):
        return False
    if len(data) == 12:
        return True
    total = sum(int(digit) * weight for digit, weight in zip(data[:12], EAN13_WEIGHTS, strict=True))
    return (10 - total % 10) % 10 == int(data[12])


class _Job:
    """One document being rendered onto a buffer."""

    def __init__(self, settings: PrinterSettings) -> None:
        """Start an empty job for a printer."""
        self.settings = settings
        self.out = escpos_lib.EscposBuffer(settings.escpos_profile)
        self.notes: list[str] = []

    def line(self, text: str) -> None:
        """Queue one line of text and a line feed."""
        self.out.raw(self.settings.charset.encode(text) + b"\n")

    def style(self, *, align: str = "left", bold: bool = False, size: int = 1) -> None:
        """Queue a style change."""
        self.out.style(align=align, bold=bold, size=size)

    def text(self, block: Mapping[str, Any]) -> None:
        """Queue a text block, wrapped to the width left by its character size."""
        size = int(block.get("size", 1))
        align = str(block.get("align", "left"))
        self.style(align=align, bold=bool(block.get("bold", False)), size=size)
        for line in wrap(str(block["text"]), self.settings.columns // size, self.settings.charset):
            self.line(line)
        self.style()

    def columns(self, block: Mapping[str, Any]) -> None:
        """Queue a two-column line (item left, amount right)."""
        bold = bool(block.get("bold", False))
        if bold:
            self.style(bold=True)
        lines = two_columns(
            str(block["left"]), str(block["right"]), self.settings.columns, self.settings.charset
        )
        for line in lines:
            self.line(line)
        if bold:
            self.style()

    def rule(self, block: Mapping[str, Any]) -> None:
        """Queue a full-width rule."""
        char = block.get("char")
        char = char[0] if isinstance(char, str) and char.strip() else "-"
        count = self.settings.columns // self.settings.charset.cell(char)
        self.line(pad(char * count, self.settings.columns, self.settings.charset))

    def barcode(self, block: Mapping[str, Any]) -> None:
        """Queue a barcode (CODE128 in code set B, or EAN-13)."""
        symbology, data = str(block["symbology"]), str(block["data"])
        if symbology == "EAN13" and not ean13_ok(data):
            raise RenderError(f"EAN13 data {data!r} is not 12 digits or 13 with its check digit")
        if symbology == "CODE128" and not (data.isascii() and data.isprintable() and data):
            raise RenderError("CODE128 data must be printable ASCII")
        if self.settings.barcode_mode == "native":
            payload = CODE128_SET_B + data if symbology == "CODE128" else data
            self.out.barcode(
                payload,
                symbology,
                height=self.settings.barcode_height,
                width=self.settings.barcode_module,
            )
        else:
            self.out.barcode_image(data, symbology, impl=self.settings.image_impl)
        self.out.raw(b"\n")
        self.style()

    def qr(self, block: Mapping[str, Any]) -> None:
        """Queue a QR code (the printer's own, GS ( k, unless the profile says image)."""
        self.style(align="center")
        self.out.qr(
            str(block["data"]), int(block.get("size", 5)), native=self.settings.qr_mode == "native"
        )
        self.out.raw(b"\n")
        self.style()

    def image(self, block: Mapping[str, Any]) -> None:
        """Queue an image the profile names; skip it with a note when it cannot be had."""
        ref = str(block["ref"])
        path = self.settings.images.get(ref)
        if path is None:
            self.notes.append(f"image {ref!r} is not in the printer profile; skipped")
            return
        try:
            with Image.open(path) as source:
                picture = source.convert("RGB")
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as err:
            reason = getattr(err, "strerror", None) or type(err).__name__
            self.notes.append(f"image {ref!r} ({path.name}) could not be read ({reason}); skipped")
            return
        limit = min(
            self.settings.dots, escpos_lib.media_pixels(self.settings.escpos_profile) or 10**6
        )
        if picture.width > limit:
            height = max(1, picture.height * limit // picture.width)
            picture = picture.resize((limit, height))
        self.out.image(picture, impl=self.settings.image_impl)

    def feed(self, block: Mapping[str, Any]) -> None:
        """Queue a paper feed."""
        self.out.feed(int(block.get("lines", 1)))

    def cut(self, _block: Mapping[str, Any]) -> None:
        """Feed the last line past the cutter, then cut with the profile's command."""
        if self.settings.feed_before_cut:
            self.out.feed(self.settings.feed_before_cut)
        self.out.raw(self.settings.cut)

    def drawer(self, block: Mapping[str, Any]) -> None:
        """Queue a drawer kick on a pin the printer has wired."""
        pin = int(block.get("pin", self.settings.default_pin))
        if pin not in self.settings.pins:
            self.notes.append(f"drawer pin {pin} is not wired on this printer; skipped")
            return
        self.out.drawer(pin, self.settings.pulse_on_ms, self.settings.pulse_off_ms)


def render(document: Any, settings: PrinterSettings) -> Rendered:
    """Return the bytes of a receipt document for a printer (raises RenderError)."""
    problems = check_document(document)
    if problems:
        raise RenderError("; ".join(problems[:5]))
    job = _Job(settings)
    job.out.initialize()
    if settings.code_page is not None:
        job.out.raw(ESC_T + bytes([settings.code_page]))
    handlers = {
        "text": job.text, "columns": job.columns, "rule": job.rule, "barcode": job.barcode,
        "qr": job.qr, "image": job.image, "feed": job.feed, "cut": job.cut, "drawer": job.drawer,
    }  # fmt: skip
    try:
        for block in document["blocks"]:
            handlers[block["kind"]](block)
    except escpos_lib.ESCPOS_ERRORS as err:
        raise RenderError(f"cannot render: {err}") from err
    return Rendered(job.out.output, job.notes)


def kick(settings: PrinterSettings, pin: int) -> bytes:
    """Return ESC p bytes that pulse a drawer pin."""
    out = escpos_lib.EscposBuffer(settings.escpos_profile)
    out.drawer(pin, settings.pulse_on_ms, settings.pulse_off_ms)
    return out.output


def realtime_kick(settings: PrinterSettings, pin: int) -> bytes:
    """Return DLE DC4 1 m t: a pulse the printer gives even while offline (t in 100 ms)."""
    units = min(8, max(1, round(settings.pulse_on_ms / 100)))
    return bytes([0x10, 0x14, 0x01, 0 if pin == 2 else 1, units])
