"""python-escpos behind one typed door: its import side effects tamed, its printer as a buffer.

At import python-escpos calls `logging.basicConfig()` (a handler on the root logger) and
pickles its capability database into a fresh temporary directory per process. Both are
undone here: the root logger gets back the handlers it had, and the pickle goes to a private
cache directory (`$CACHE_DIRECTORY` under systemd, else `~/.cache/store-edge/escpos`) that
only this user can write, because python-escpos unpickles whatever file it finds there.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image


def _private_dir(path: Path) -> bool:
    """Create `path` (mode 0700) and tell whether only this user can write it."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _pickle_dir() -> str:
    """Return a directory for python-escpos's capability pickle that nobody else can write."""
    base = os.environ.get("CACHE_DIRECTORY") or os.environ.get("XDG_CACHE_HOME")
    candidate = Path(base) if base else Path.home() / ".cache"
    candidate = candidate / "store-edge" / "escpos"
    if _private_dir(candidate):
        return str(candidate)
    return tempfile.mkdtemp(prefix="escpos-")


def _import_escpos() -> tuple[Any, Any, Any]:
    """Import python-escpos without letting it configure logging; return its modules."""
    os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", _pickle_dir())
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        from escpos import capabilities, exceptions  # noqa: PLC0415 - import side effects tamed
        from escpos.printer import Dummy  # noqa: PLC0415
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
    return capabilities, exceptions, Dummy


_capabilities, _exceptions, _Dummy = _import_escpos()

# Everything python-escpos raises for bad data (barcode content, sizes, image width).
ESCPOS_ERRORS: tuple[type[Exception], ...] = (_exceptions.Error, ValueError)


def profile_names() -> frozenset[str]:
    """Return the names of python-escpos's capability profiles."""
    return frozenset(_capabilities.CAPABILITIES["profiles"])


def _profile_data(name: str) -> Mapping[str, Any]:
    """Return one capability profile's data (empty when unknown)."""
    data = _capabilities.CAPABILITIES["profiles"].get(name, {})
    return data if isinstance(data, Mapping) else {}


def code_pages(name: str) -> dict[str, int]:
    """Return a capability profile's single-byte code pages as {python-escpos name: ESC t n}."""
    pages = _profile_data(name).get("codePages", {})
    return {str(page).upper(): int(index) for index, page in pages.items()}


def media_pixels(name: str) -> int | None:
    """Return a capability profile's printable width in dots, when it knows it."""
    width = _profile_data(name).get("media", {}).get("width", {}).get("pixels")
    return width if isinstance(width, int) else None


class EscposBuffer:
    """A python-escpos `Dummy` printer for one profile: commands in, bytes out."""

    def __init__(self, profile: str) -> None:
        """Start an empty buffer for a python-escpos capability profile."""
        self._printer = _Dummy(profile=profile)

    @property
    def output(self) -> bytes:
        """Return every byte queued so far."""
        return bytes(self._printer.output)

    def raw(self, data: bytes) -> None:
        """Queue bytes as they are."""
        self._printer._raw(data)

    def initialize(self) -> None:
        """Queue ESC @ (clear the print buffer, reset modes)."""
        self._printer.hw("INIT")

    def style(self, *, align: str, bold: bool, size: int) -> None:
        """Queue justification, emphasis and character size (GS ! n)."""
        self._printer.set(align=align, bold=bold, custom_size=True, width=size, height=size)

    def feed(self, lines: int) -> None:
        """Queue print-and-feed of `lines` lines (ESC d n)."""
        self._printer.print_and_feed(lines)

    def qr(self, data: str, size: int, *, native: bool) -> None:
        """Queue a QR code: the printer's own (GS ( k) or an image."""
        if native:
            self._printer.qr(data, size=size, native=True)
        else:
            self._printer.qr(data, size=size, native=False, center=True)

    def barcode(self, data: str, symbology: str, *, height: int, width: int) -> None:
        """Queue a barcode the printer draws (GS k); CODE128 data carries its code set."""
        # `barcode()` announces its renderer on stdout; the hardware path is called directly.
        function_type = "B" if symbology == "CODE128" else "A"
        self._printer._hw_barcode(
            data, symbology, height=height, width=width, pos="BELOW", font="A",
            align_ct=True, function_type=function_type, check=True,
        )  # fmt: skip

    def barcode_image(self, data: str, symbology: str, *, impl: str) -> None:
        """Queue a barcode drawn here and sent as an image."""
        self._printer._sw_barcode(symbology.lower(), data, impl=impl, center=True)

    def image(self, picture: Image.Image, *, impl: str) -> None:
        """Queue a raster image, centred on the paper."""
        self._printer.image(picture, impl=impl, center=True)

    def drawer(self, pin: int, on_ms: int, off_ms: int) -> None:
        """Queue ESC p m t1 t2: a pulse on connector pin 2 (m=0) or 5 (m=1), times in 2 ms."""
        self._printer.cashdraw([27, 112, 0 if pin == 2 else 1, on_ms // 2, off_ms // 2])
