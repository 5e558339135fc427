"""Text on a character grid: cell widths, wrapping, two-column lines and the bytes of a line.

On a printer or display with a double-byte font (GB18030 and the like) every character that
is not ASCII takes two cells (a 24-dot CJK glyph next to 12-dot Latin ones); with a
single-byte code page every character takes one. Widths are counted that way, so a line of
`columns` cells fills the paper exactly, Chinese item names included.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

MULTIBYTE = frozenset({"gb18030", "gbk", "gb2312", "big5", "big5hkscs", "cp936", "cp950"})
FS_KANJI_ON = b"\x1c\x26"  # FS &: double-byte characters on
FS_KANJI_OFF = b"\x1c\x2e"  # FS .: double-byte characters off


def codec_name(encoding: str) -> str | None:
    """Return Python's name for an encoding (e.g. `CP437` → `cp437`), None when unknown."""
    for candidate in (encoding, encoding.replace("_", "-")):
        try:
            return codecs.lookup(candidate).name
        except LookupError:
            continue
    return None


@dataclass(frozen=True)
class Charset:
    """How text becomes bytes on one device: a Python codec, maybe double-byte."""

    codec: str
    kanji_mode: bool = False  # wrap double-byte text in FS & … FS .

    @property
    def multibyte(self) -> bool:
        """Tell whether non-ASCII characters are double-byte (and double-width)."""
        return self.codec in MULTIBYTE

    def cell(self, char: str) -> int:
        """Return how many cells a character takes."""
        return 2 if self.multibyte and ord(char) >= 0x80 else 1

    def cells(self, text: str) -> int:
        """Return how many cells a string takes."""
        return sum(self.cell(char) for char in text)

    def encode(self, text: str) -> bytes:
        """Return the bytes of a line (unencodable characters become `?`)."""
        data = clean(text).encode(self.codec, errors="replace")
        if self.kanji_mode and self.multibyte and any(byte >= 0x80 for byte in data):
            return FS_KANJI_ON + data + FS_KANJI_OFF
        return data


def clean(text: str) -> str:
    """Replace control characters (a stray ESC would be a command) with spaces."""
    return "".join(" " if ord(char) < 0x20 or ord(char) == 0x7F else char for char in text)


def clip(text: str, width: int, charset: Charset) -> str:
    """Return the longest head of `text` that fits in `width` cells."""
    used = 0
    for index, char in enumerate(text):
        used += charset.cell(char)
        if used > width:
            return text[:index]
    return text


def pad(text: str, width: int, charset: Charset, align: str = "left") -> str:
    """Clip or pad `text` to exactly `width` cells."""
    text = clip(text, width, charset)
    room = width - charset.cells(text)
    if align == "right":
        return " " * room + text
    if align == "center":
        return " " * (room // 2) + text + " " * (room - room // 2)
    return text + " " * room


def wrap(text: str, width: int, charset: Charset) -> list[str]:
    """Break text into lines of at most `width` cells, at a space when one is near."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        rest = clean(paragraph).rstrip()
        if not rest:
            lines.append("")
            continue
        while rest:
            head = clip(rest, width, charset) or rest[0]
            if len(head) < len(rest):
                space = head.rfind(" ")
                if space > 0 and rest[len(head)] != " ":
                    head = head[:space]
            lines.append(head.rstrip())
            rest = rest[len(head) :].lstrip(" ")
    return lines


def two_columns(left: str, right: str, width: int, charset: Charset) -> list[str]:
    """Lay out an item and its amount: left text, right text flush right, one line if it fits."""
    left, right = clean(left).strip(), clean(right).strip()
    right_cells = charset.cells(right)
    if right_cells + 1 > width:
        return [*wrap(left, width, charset), *wrap(right, width, charset)]
    lines = wrap(left, width, charset) if left else [""]
    last = lines[-1]
    gap = width - charset.cells(last) - right_cells
    if gap >= 1:
        lines[-1] = last + " " * gap + right
    else:
        lines.append(" " * (width - right_cells) + right)
    return lines
