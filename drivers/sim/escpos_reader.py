"""Read ESC/POS bytes back into operations: what a printer (or pole display) would do with them.

`read(data)` returns a list of `Op`: `text` lines decoded with the code page in force
(double-byte GB18030 in Kanji mode), `bold` / `align` / `size` changes, `feed`, `cut`,
`drawer` (the pin), `qr` (the data stored with GS ( k function 0x50), `barcode` (GS k:
symbology and data), `image`, `status` (a DLE EOT n request), `kanji`, `codepage`, and the
display's `select` / `clear` / `cursor`. The tests and the demo use it to show what was printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

ESC, GS, FS, DLE, US = 0x1B, 0x1D, 0x1C, 0x10, 0x1F
ALIGNS = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}
BARCODES = {
    0: "UPC-A", 1: "UPC-E", 2: "EAN13", 3: "EAN8", 4: "CODE39", 5: "ITF", 6: "CODABAR",
    65: "UPC-A", 66: "UPC-E", 67: "EAN13", 68: "EAN8", 69: "CODE39", 70: "ITF", 71: "CODABAR",
    72: "CODE93", 73: "CODE128",
}  # fmt: skip
CODE_PAGES = {0: "cp437", 2: "cp850", 16: "cp1252", 17: "cp866", 19: "cp858", 40: "iso8859_15"}
ONE_PARAM_ESC = b"GM-RrV{ U3\x20"  # ESC x n commands that change nothing shown here
ONE_PARAM_GS = b"hwHfBbaIrE"
ONE_PARAM_FS = b"C!-W"
ONE_PARAM_US = b"CXErv"


@dataclass(frozen=True)
class Style:
    """The character style a line started with."""

    bold: bool = False
    align: str = "left"
    width: int = 1
    height: int = 1


@dataclass(frozen=True)
class Op:
    """One thing the device was told to do, with where its bytes are in the input."""

    kind: str
    value: Any = None
    start: int = 0
    end: int = 0
    style: Style | None = None


class _Reader:
    """A pass over one byte string."""

    def __init__(
        self, data: bytes, encoding: str, kanji: bool, code_pages: Mapping[int, str]
    ) -> None:
        """Start at the first byte with the power-on state."""
        self.data, self.encoding, self.code_pages = data, encoding, code_pages
        self.kanji_default = kanji
        self.kanji, self.code_page, self.style = kanji, 0, Style()
        self.pos = 0
        self.ops: list[Op] = []
        self.line: list[str] = []
        self.line_start = 0
        self.line_style = Style()

    def emit(self, kind: str, value: Any, length: int, *, flush: bool = False) -> None:
        """Record an op covering the next `length` bytes and move past them."""
        if flush:
            self.flush(self.pos)
        self.ops.append(Op(kind, value, self.pos, self.pos + length))
        self.pos += length

    def flush(self, end: int, *, force: bool = False) -> None:
        """Turn the pending characters into a `text` op."""
        if self.line or force:
            text = "".join(self.line)
            self.ops.append(Op("text", text, self.line_start, end, self.line_style))
        self.line = []

    def text_run(self) -> None:
        """Decode a run of printable bytes in the code page (or double-byte mode) in force."""
        end = self.pos
        while end < len(self.data) and self.data[end] >= 0x20:
            end += 1
        chunk = self.data[self.pos : end]
        codec = self.encoding if self.kanji else self.code_pages.get(self.code_page, "cp437")
        if not self.line:
            self.line_start, self.line_style = self.pos, self.style
        self.line.append(chunk.decode(codec, errors="replace"))
        self.pos = end

    def byte(self, offset: int) -> int:
        """Return the byte at pos + offset (raises IndexError past the end)."""
        return self.data[self.pos + offset]

    def set_style(self, **changes: Any) -> None:
        """Change the style of the characters that follow."""
        self.style = replace(self.style, **changes)

    def esc(self) -> None:
        """Read an ESC command."""
        cmd = self.byte(1)
        if cmd == 0x40:  # @
            self.kanji, self.code_page, self.style = self.kanji_default, 0, Style()
            self.emit("init", None, 2, flush=True)
        elif cmd == 0x45:  # E n
            self.set_style(bold=bool(self.byte(2) & 1))
            self.emit("bold", self.style.bold, 3)
        elif cmd == 0x61:  # a n
            self.set_style(align=ALIGNS.get(self.byte(2), "left"))
            self.emit("align", self.style.align, 3)
        elif cmd == 0x21:  # ! n
            mode = self.byte(2)
            width, height = 2 if mode & 0x20 else 1, 2 if mode & 0x10 else 1
            self.set_style(bold=bool(mode & 0x08), width=width, height=height)
            self.emit("size", (width, height), 3)
        elif cmd == 0x74:  # t n
            self.code_page = self.byte(2)
            self.emit("codepage", self.code_page, 3)
        elif cmd == 0x64:  # d n
            self.emit("feed", self.byte(2), 3, flush=True)
        elif cmd == 0x70:  # p m t1 t2
            self.emit("drawer", 2 if self.byte(2) in (0, 48) else 5, 5)
        elif cmd == 0x3D:  # = n
            self.emit("select", self.byte(2), 3, flush=True)
        elif cmd == 0x2A:  # * m nL nH data
            count = self.byte(3) + 256 * self.byte(4)
            size = count if self.byte(2) in (0, 1) else 3 * count
            self.emit("image", {"width": count}, 5 + size, flush=True)
        elif cmd in (0x69, 0x6D):  # i, m: old cut commands
            self.emit("cut", "partial", 2, flush=True)
        elif cmd == 0x32:  # 2: default line spacing
            self.emit("setting", b"\x1b2", 2)
        elif cmd == 0x63:  # c x n
            self.emit("setting", bytes(self.data[self.pos : self.pos + 4]), 4)
        elif cmd in ONE_PARAM_ESC:
            self.emit("setting", bytes(self.data[self.pos : self.pos + 3]), 3)
        else:
            self.emit("unknown", bytes(self.data[self.pos : self.pos + 2]), 2)

    def gs(self) -> None:
        """Read a GS command."""
        cmd = self.byte(1)
        if cmd == 0x21:  # ! n
            size = self.byte(2)
            self.set_style(width=(size >> 4) + 1, height=(size & 0x0F) + 1)
            self.emit("size", (self.style.width, self.style.height), 3)
        elif cmd == 0x56:  # V m [n]
            mode = self.byte(2)
            kind = "full" if mode in (0, 48, 65, 97, 103) else "partial"
            self.emit("cut", kind, 3 if mode in (0, 1, 48, 49) else 4, flush=True)
        elif cmd == 0x6B:  # k m ...
            self.barcode()
        elif cmd == 0x28:  # ( x pL pH ...
            self.gs_paren()
        elif cmd == 0x76:  # v 0 m xL xH yL yH data
            width = self.byte(4) + 256 * self.byte(5)
            height = self.byte(6) + 256 * self.byte(7)
            self.emit(
                "image", {"width": width * 8, "height": height}, 8 + width * height, flush=True
            )
        elif cmd in b"LWP$\\":
            self.emit("setting", bytes(self.data[self.pos : self.pos + 4]), 4)
        elif cmd in ONE_PARAM_GS:
            self.emit("setting", bytes(self.data[self.pos : self.pos + 3]), 3)
        else:
            self.emit("unknown", bytes(self.data[self.pos : self.pos + 2]), 2)

    def barcode(self) -> None:
        """Read GS k m …: format A ends with NUL, format B carries a length."""
        kind = self.byte(2)
        if kind <= 6:
            end = self.data.index(0, self.pos + 3)
            code, length = self.data[self.pos + 3 : end], end + 1 - self.pos
        else:
            count = self.byte(3)
            code, length = self.data[self.pos + 4 : self.pos + 4 + count], 4 + count
            if len(code) < count:
                raise IndexError("barcode data cut short")
        text = code.decode("ascii", errors="replace")
        symbology = BARCODES.get(kind, f"type {kind}")
        if symbology == "CODE128" and text[:2] in ("{A", "{B", "{C"):
            text = text[2:]
        self.emit("barcode", {"symbology": symbology, "data": text}, length, flush=True)

    def gs_paren(self) -> None:
        """Read GS ( x pL pH payload: 2D codes (k), graphics (L) and others."""
        letter = self.byte(2)
        size = self.byte(3) + 256 * self.byte(4)
        payload = self.data[self.pos + 5 : self.pos + 5 + size]
        if len(payload) < size:
            raise IndexError("GS ( payload cut short")
        if letter == 0x6B and payload[:2] == b"\x31\x50":  # QR: store the data
            self.emit("qr", payload[3:].decode("utf-8", errors="replace"), 5 + size, flush=True)
        elif letter == 0x6B and payload[:2] == b"\x31\x43":  # QR: module size
            self.emit("qr_size", payload[2], 5 + size)
        elif letter == 0x4C and payload[1:2] == b"p":  # graphics: store raster
            width = payload[6] + 256 * payload[7]
            height = payload[8] + 256 * payload[9]
            self.emit("image", {"width": width, "height": height}, 5 + size, flush=True)
        else:
            self.emit("setting", bytes(self.data[self.pos : self.pos + 5 + size]), 5 + size)

    def fs(self) -> None:
        """Read an FS command (Kanji mode, NV images)."""
        cmd = self.byte(1)
        if cmd in (0x26, 0x2E):  # & on, . off
            self.kanji = cmd == 0x26
            self.emit("kanji", self.kanji, 2)
        elif cmd == 0x70:  # p n m: print NV image
            self.emit("image", {"nv": self.byte(2)}, 4, flush=True)
        elif cmd in ONE_PARAM_FS:
            self.emit("setting", bytes(self.data[self.pos : self.pos + 3]), 3)
        else:
            self.emit("unknown", bytes(self.data[self.pos : self.pos + 2]), 2)

    def dle(self) -> None:
        """Read a real-time DLE command."""
        cmd = self.byte(1)
        if cmd == 0x04:  # EOT n: status request
            self.emit("status", self.byte(2), 3)
        elif cmd == 0x14 and self.byte(2) == 1:  # DC4 1 m t: real-time drawer pulse
            self.emit("drawer", 2 if self.byte(3) == 0 else 5, 5)
        elif cmd == 0x05:  # ENQ n
            self.emit("setting", bytes(self.data[self.pos : self.pos + 3]), 3)
        else:
            self.emit("unknown", bytes(self.data[self.pos : self.pos + 2]), 2)

    def us(self) -> None:
        """Read a customer display US command."""
        cmd = self.byte(1)
        if cmd == 0x24:  # $ x y
            self.emit("cursor", (self.byte(2), self.byte(3)), 4, flush=True)
        elif cmd in (1, 2, 3):
            self.emit("display_mode", cmd, 2)
        elif cmd in ONE_PARAM_US:
            self.emit("setting", bytes(self.data[self.pos : self.pos + 3]), 3)
        else:
            self.emit("unknown", bytes(self.data[self.pos : self.pos + 2]), 2, flush=True)

    def run(self) -> list[Op]:
        """Read everything; a command cut short at the end becomes a `truncated` op."""
        handlers = {ESC: self.esc, GS: self.gs, FS: self.fs, DLE: self.dle, US: self.us}
        while self.pos < len(self.data):
            value = self.data[self.pos]
            try:
                if value >= 0x20:
                    self.text_run()
                elif value == 0x0A:
                    self.flush(self.pos + 1, force=True)
                    self.pos += 1
                elif value in (0x0C, 0x0B):
                    self.emit("clear" if value == 0x0C else "home", None, 1, flush=True)
                elif value in handlers:
                    handlers[value]()
                elif value == 0x09:
                    self.line.append("\t")
                    self.pos += 1
                else:
                    self.pos += 1  # CR and other controls print nothing
            except (IndexError, ValueError):
                self.flush(self.pos)
                self.ops.append(
                    Op("truncated", bytes(self.data[self.pos :]), self.pos, len(self.data))
                )
                return self.ops
        self.flush(self.pos)
        return self.ops


def read(
    data: bytes,
    *,
    encoding: str = "gb18030",
    kanji: bool = False,
    code_pages: Mapping[int, str] = CODE_PAGES,
) -> list[Op]:
    """Return the operations in ESC/POS bytes.

    `encoding` decodes double-byte text in Kanji mode (FS &), which is on from the start when
    `kanji` is true (printers that boot in Chinese mode); other text is decoded with the
    single-byte code page selected by ESC t (`code_pages` maps n to a Python codec).
    """
    return _Reader(data, encoding, kanji, code_pages).run()


def lines(ops: list[Op]) -> list[str]:
    """Return the text lines, trailing spaces removed."""
    return [str(op.value).rstrip() for op in ops if op.kind == "text"]


def values(ops: list[Op], kind: str) -> list[Any]:
    """Return the values of every op of one kind."""
    return [op.value for op in ops if op.kind == kind]


def jobs(data: bytes) -> list[bytes]:
    """Split a byte stream into print jobs after each cut, leaving out status requests."""
    ops = read(data)
    result: list[bytes] = []
    job = bytearray()
    position = 0
    for op in ops:
        if op.kind == "status":
            job += data[position : op.start]
            position = op.end
        elif op.kind == "cut":
            job += data[position : op.end]
            position = op.end
            result.append(bytes(job))
            job = bytearray()
    job += data[position:]
    if job:
        result.append(bytes(job))
    return result
