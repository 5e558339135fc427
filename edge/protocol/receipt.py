"""The printer-independent receipt document (SPEC §2.3) sent as `cmd/print`.

A document is `{"version": 1, "width_hint": 42, "blocks": [...]}`; each block is an object
with a `kind`:

- `text`     `{"text", "align": left|center|right, "bold": bool, "size": 1|2}`
- `columns`  `{"left", "right", "bold": bool}` — a two-column line (item and amount)
- `rule`     `{"char": "-"}` — a full-width rule
- `barcode`  `{"symbology": CODE128|EAN13, "data"}`
- `qr`       `{"data", "size": 1..8}`
- `image`    `{"ref"}` — an image the printer profile knows (e.g. the store logo)
- `feed`     `{"lines": 1..10}`
- `cut`      `{}`; `drawer` `{"pin": 2|5}`

The server never builds printer bytes; a driver renders the blocks with its printer's profile
(width, code page, capabilities).
"""

from __future__ import annotations

from typing import Any

VERSION = 1
ALIGNS = ("left", "center", "right")
SYMBOLOGIES = ("CODE128", "EAN13")
MAX_BLOCKS = 2000
MAX_TEXT = 512

Block = dict[str, Any]


def text(value: str, *, align: str = "left", bold: bool = False, size: int = 1) -> Block:
    """Return a text block."""
    return {"kind": "text", "text": value, "align": align, "bold": bold, "size": size}


def columns(left: str, right: str, *, bold: bool = False) -> Block:
    """Return a two-column line."""
    return {"kind": "columns", "left": left, "right": right, "bold": bold}


def rule(char: str = "-") -> Block:
    """Return a full-width rule."""
    return {"kind": "rule", "char": char}


def barcode(data: str, symbology: str = "CODE128") -> Block:
    """Return a barcode block."""
    return {"kind": "barcode", "symbology": symbology, "data": data}


def qr(data: str, size: int = 5) -> Block:
    """Return a QR code block."""
    return {"kind": "qr", "data": data, "size": size}


def image(ref: str) -> Block:
    """Return a reference to an image the printer profile holds."""
    return {"kind": "image", "ref": ref}


def feed(lines: int = 1) -> Block:
    """Return a paper feed."""
    return {"kind": "feed", "lines": lines}


def cut() -> Block:
    """Return a paper cut."""
    return {"kind": "cut"}


def drawer(pin: int = 2) -> Block:
    """Return a cash drawer kick."""
    return {"kind": "drawer", "pin": pin}


def document(blocks: list[Block], *, width_hint: int = 42) -> dict[str, Any]:
    """Wrap blocks into a receipt document."""
    return {"version": VERSION, "width_hint": width_hint, "blocks": blocks}


def _str(block: Block, key: str, problems: list[str], where: str) -> None:
    """Check a required short string field."""
    value = block.get(key)
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        problems.append(f"{where}.{key} must be text of at most {MAX_TEXT} characters")


def check_document(doc: Any) -> list[str]:
    """Return every problem of a receipt document (empty when a driver can render it)."""
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        return [f"a receipt document is an object with version {VERSION}"]
    blocks = doc.get("blocks")
    if not isinstance(blocks, list) or not 0 < len(blocks) <= MAX_BLOCKS:
        return [f"blocks must be a list of 1..{MAX_BLOCKS} blocks"]
    problems: list[str] = []
    for index, block in enumerate(blocks):
        where = f"blocks[{index}]"
        if not isinstance(block, dict):
            problems.append(f"{where} must be an object")
            continue
        kind = block.get("kind")
        if kind == "text":
            _str(block, "text", problems, where)
            if block.get("align", "left") not in ALIGNS:
                problems.append(f"{where}.align must be one of {', '.join(ALIGNS)}")
            if block.get("size", 1) not in (1, 2):
                problems.append(f"{where}.size must be 1 or 2")
        elif kind == "columns":
            _str(block, "left", problems, where)
            _str(block, "right", problems, where)
        elif kind == "barcode":
            _str(block, "data", problems, where)
            if block.get("symbology") not in SYMBOLOGIES:
                problems.append(f"{where}.symbology must be one of {', '.join(SYMBOLOGIES)}")
        elif kind == "qr":
            _str(block, "data", problems, where)
            if block.get("size", 5) not in range(1, 9):
                problems.append(f"{where}.size must be 1..8")
        elif kind == "image":
            _str(block, "ref", problems, where)
        elif kind == "feed":
            if block.get("lines") not in range(1, 11):
                problems.append(f"{where}.lines must be 1..10")
        elif kind == "drawer":
            if block.get("pin", 2) not in (2, 5):
                problems.append(f"{where}.pin must be 2 or 5")
        elif kind not in ("rule", "cut"):
            problems.append(f"{where}.kind {kind!r} is unknown")
    return problems
