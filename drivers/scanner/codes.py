"""What a scanner read, and whether to trust it: frames, AIM symbology names, code checks.

Every scanner mode turns its bytes into a `Frame` (the code text and the AIM symbology id the
scanner sent, or "" when it sends none) or a `Rejected` (half a code, junk). `accept` then
decides whether a frame is a good code: printable, within the profile's length bounds, and for
EAN-13, EAN-8 and UPC-A a correct GS1 check digit. A code whose symbology is unknown but that
is all digits and 8, 12 or 13 long is checked the same way (the profile can turn that off for
stores with numeric in-house CODE128 labels).

AIM symbology identifiers (ISO/IEC 15424) are `]` + a symbology letter + a modifier. The letter
names the symbology; the modifier only tells options (check digit, FNC1, add-on), so `]C0` and
`]C1` are both CODE128. `]E0` is the full 13-digit EAN-13 packet, which also carries UPC-A and
UPC-E; a scanner set not to send the leading zero of UPC-A still tags it `]E0` but sends 12
digits, which no EAN-13 has, so `]E0` with 12 digits is reported as UPC-A.
"""

from __future__ import annotations

from dataclasses import dataclass

GTIN_NAMES = {8: "EAN8", 12: "UPCA", 13: "EAN13"}
CHECKED = frozenset(GTIN_NAMES.values())
AIM_LETTERS = {
    "A": "CODE39",
    "C": "CODE128",
    "d": "DATAMATRIX",
    "e": "GS1_DATABAR",
    "F": "CODABAR",
    "G": "CODE93",
    "H": "CODE11",
    "I": "ITF",
    "L": "PDF417",
    "M": "MSI",
    "Q": "QR",
    "z": "AZTEC",
}
EAN_MODIFIERS = {"1": "EAN2", "2": "EAN5", "3": "EAN13_ADDON", "4": "EAN8"}
ADDON_LENGTHS = (15, 18)  # EAN-13 followed by a 2- or 5-digit add-on in one ]E3 packet


@dataclass(frozen=True)
class Frame:
    """One code as the scanner framed it: its text and AIM id ("" when not sent)."""

    text: str
    aim: str = ""


@dataclass(frozen=True)
class Scan:
    """A good code, ready for `evt/scan`."""

    code: str
    symbology: str


@dataclass(frozen=True)
class Rejected:
    """Something read that is not a good code; `reason` is a short machine word."""

    reason: str  # incomplete, overlong, encoding, format, prefix, unprintable, length, check_digit
    size: int = 0  # how many bytes or characters were thrown away


@dataclass(frozen=True)
class Rules:
    """How finished codes are checked (the profile's `[codes]` table)."""

    min_length: int = 1
    max_length: int = 128
    check_digits_unnamed: bool = True
    encoding: str = "utf-8"


Outcome = Frame | Rejected


def gtin_check_digit(body: str) -> int:
    """Return the GS1 mod-10 check digit of `body` (weights 3,1,3,... from the right)."""
    total = 3 * sum(map(int, body[::-2])) + sum(map(int, body[-2::-2]))
    return (10 - total % 10) % 10


def _digits(text: str) -> bool:
    """Tell whether `text` is non-empty ASCII 0-9 only."""
    return text.isascii() and text.isdigit()


def gtin_valid(code: str) -> bool:
    """Tell whether `code` is digits whose last digit is the GS1 check digit of the rest."""
    return len(code) > 1 and _digits(code) and gtin_check_digit(code[:-1]) == int(code[-1])


def aim_symbology(aim: str, code: str) -> str:
    """Return the symbology name of an AIM id (the raw id when unknown, "" when none)."""
    if not aim:
        return ""
    letter, modifier = aim[1], aim[2]
    if letter == "E":
        if modifier == "0":
            return "UPCA" if len(code) == 12 else "EAN13"
        return EAN_MODIFIERS.get(modifier, aim)
    return AIM_LETTERS.get(letter, aim)


def valid_aim(aim: str) -> bool:
    """Tell whether `aim` is empty or a well-formed `]Xm` identifier."""
    return aim == "" or (
        len(aim) == 3 and aim[0] == "]" and aim[1:].isascii() and aim[1:].isalnum()
    )


def _gtin_problem(code: str, symbology: str) -> str | None:
    """Return why a code of an EAN/UPC symbology is bad (None when good)."""
    if symbology == "EAN13_ADDON":
        ok = len(code) in ADDON_LENGTHS and _digits(code) and gtin_valid(code[:13])
        return None if ok else "check_digit"
    expected = {name: length for length, name in GTIN_NAMES.items()}[symbology]
    if len(code) != expected or not _digits(code):
        return "format"
    return None if gtin_valid(code) else "check_digit"


def accept(frame: Frame, rules: Rules) -> Scan | Rejected:
    """Return the good code in a frame, or why it is rejected."""
    code = frame.text
    if not valid_aim(frame.aim):
        return Rejected("format", len(code))
    if not code.isprintable() or not code:
        return Rejected("unprintable", len(code))
    if not rules.min_length <= len(code) <= rules.max_length:
        return Rejected("length", len(code))
    symbology = aim_symbology(frame.aim, code)
    if not symbology and rules.check_digits_unnamed and _digits(code):
        symbology = GTIN_NAMES.get(len(code), "")
    if symbology in CHECKED or symbology == "EAN13_ADDON":
        problem = _gtin_problem(code, symbology)
        if problem:
            return Rejected(problem, len(code))
    return Scan(code, symbology)
