"""Barcodes scanned or keyed at the till: GTIN check digits, UPC-E, GS1 variable measure, PLU.

Every product GTIN (EAN-13, EAN-8, UPC-A, GTIN-14, and UPC-E when asked) is normalised to
14 digits, so UPC-A 036000291452 and EAN-13 0036000291452 are one key in the barcode table.

GS1 restricted-circulation numbers with prefix 02 or 20-29 carry a price or a weight whose
layout each country's GS1 office sets, so the store configures it as `VariableMeasureRule`
data. A code is matched against the rules by its 13-digit form: an EAN-13, a UPC-A read as
EAN-13 (UPC number system 2 becomes prefix 02) or a GTIN-14 whose indicator digit is 0 (the
same number padded). A code in that range without a configured rule is a plain GTIN.

Money is integer minor units and weight integer grams; no floats anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NoReturn

from edge.domain.errors import InvalidInput
from edge.domain.values import value

GTIN_LENGTHS = (8, 12, 13, 14)
PLU_LENGTHS = (4, 5)
MAX_OTHER_LENGTH = 48
RCN_PREFIXES = frozenset({"02", *(f"2{digit}" for digit in range(10))})

# GS1 General Specifications 7.9.2: the digit-wise products of the weighting factors.
_TWO_MINUS = (0, 2, 4, 6, 8, 9, 1, 3, 5, 7)  # 2 x d, units minus tens
_THREE = (0, 3, 6, 9, 2, 5, 8, 1, 4, 7)  # 3 x d, units
_FIVE_PLUS = (0, 5, 1, 6, 2, 7, 3, 8, 4, 9)  # 5 x d, units plus tens
_FIVE_MINUS = (0, 5, 9, 4, 8, 3, 7, 2, 6, 1)  # 5 x d, units minus tens
_FOUR_DIGIT_FACTORS = (_TWO_MINUS, _TWO_MINUS, _THREE, _FIVE_MINUS)  # 7.9.3
_FIVE_DIGIT_FACTORS = (_FIVE_PLUS, _TWO_MINUS, _FIVE_MINUS, _FIVE_PLUS, _TWO_MINUS)  # 7.9.4

Kind = Literal["gtin", "variable_measure", "plu", "other"]
Measure = Literal["price", "weight"]
Symbology = Literal["auto", "UPCE"]


def _is_digits(text: str) -> bool:
    """Tell whether `text` is non-empty and only ASCII 0-9 (isdigit alone takes other scripts)."""
    return text.isascii() and text.isdigit()


def gtin_check_digit(body: str) -> int:
    """Return the GS1 mod-10 check digit of `body` (weights 3,1,3,... from the right)."""
    if not _is_digits(body):
        raise InvalidInput(f"a check digit needs digits, got {body!r}", code="bad_barcode")
    total = 3 * sum(map(int, body[::-2])) + sum(map(int, body[-2::-2]))
    return (10 - total % 10) % 10


def gtin14(code: str) -> str:
    """Validate an EAN-8, UPC-A, EAN-13 or GTIN-14 and return it as 14 digits."""
    if not _is_digits(code):
        raise InvalidInput(f"a GTIN is digits only, got {code!r}", code="bad_barcode")
    if len(code) not in GTIN_LENGTHS:
        raise InvalidInput(
            f"a GTIN has 8, 12, 13 or 14 digits, {code!r} has {len(code)}",
            code="bad_barcode_length",
        )
    expected = gtin_check_digit(code[:-1])
    if int(code[-1]) != expected:
        raise InvalidInput(
            f"{code!r} has check digit {code[-1]}, expected {expected}"
            " (mistyped or only partly scanned)",
            code="bad_check_digit",
        )
    return code.zfill(14)


def is_valid_gtin(code: str) -> bool:
    """Tell whether `code` is an EAN-8, UPC-A, EAN-13 or GTIN-14 with a correct check digit."""
    try:
        gtin14(code)
    except InvalidInput:
        return False
    return True


def upce_to_upca(code: str) -> str:
    """Expand a UPC-E code to its 12-digit UPC-A, check digit included.

    Accepts 8 digits (number system 0/1, six digits, check digit, which must fit), 7 digits
    (number system and six digits) or the six digits alone (number system 0).
    """
    if not _is_digits(code) or len(code) not in (6, 7, 8):
        raise InvalidInput(f"a UPC-E code has 6, 7 or 8 digits, got {code!r}", code="bad_upce")
    system, digits = ("0", code) if len(code) == 6 else (code[0], code[1:7])
    if system not in "01":
        raise InvalidInput(f"UPC-E number system must be 0 or 1, got {code!r}", code="bad_upce")
    d1, d2, d3, d4, d5, d6 = tuple(digits)
    if d6 in "012":
        body = f"{system}{d1}{d2}{d6}0000{d3}{d4}{d5}"
    elif d6 == "3":
        body = f"{system}{d1}{d2}{d3}00000{d4}{d5}"
    elif d6 == "4":
        body = f"{system}{d1}{d2}{d3}{d4}00000{d5}"
    else:
        body = f"{system}{d1}{d2}{d3}{d4}{d5}0000{d6}"
    check = gtin_check_digit(body)
    if len(code) == 8 and int(code[7]) != check:
        raise InvalidInput(
            f"UPC-E {code!r} has check digit {code[7]}, expected {check}", code="bad_check_digit"
        )
    return f"{body}{check}"


def measure_check_digit(value: str) -> int:
    """Return the GS1 price/weight verifier of a 4- or 5-digit value (GenSpecs 7.9.2-7.9.4)."""
    if not _is_digits(value) or len(value) not in (4, 5):
        raise InvalidInput(
            f"a price/weight verifier covers 4 or 5 digits, got {value!r}", code="bad_barcode"
        )
    digits = [int(digit) for digit in value]
    if len(digits) == 4:
        total = sum(table[d] for table, d in zip(_FOUR_DIGIT_FACTORS, digits, strict=True))
        return (total * 3) % 10
    total = sum(table[d] for table, d in zip(_FIVE_DIGIT_FACTORS, digits, strict=True))
    return _FIVE_MINUS.index((10 - total % 10) % 10)


@dataclass(frozen=True)
class VariableMeasureRule:
    """Describe one GS1 variable-measure layout: prefix, item, [verifier], value, check digit.

    `decimals` places the decimal point in the value digits: a price in currency units
    (2 with `minor_unit_digits` 2 means the digits are cents/pence/分), a weight in kg
    (3 means the digits are grams). `minor_unit_digits` is the currency's exponent (JPY 0).
    """

    prefix: str
    measure: Measure
    item_digits: int
    value_digits: int
    decimals: int
    has_verifier: bool
    minor_unit_digits: int = 2

    def __post_init__(self) -> None:
        """Refuse a layout that is not a 13-digit GS1 variable-measure number."""
        if not isinstance(self.prefix, str) or self.prefix not in RCN_PREFIXES:
            self._refuse("prefix", f"must be '02' or '20'-'29', got {self.prefix!r}")
        if self.measure not in ("price", "weight"):
            self._refuse("measure", f"must be 'price' or 'weight', got {self.measure!r}")
        if not isinstance(self.has_verifier, bool):
            self._refuse("has_verifier", f"must be a bool, got {self.has_verifier!r}")
        for name in ("item_digits", "value_digits", "decimals", "minor_unit_digits"):
            number = getattr(self, name)
            least = 0 if name in ("decimals", "minor_unit_digits") else 1
            if type(number) is not int or number < least:
                self._refuse(name, f"must be an int >= {least}, got {number!r}")
        if self.has_verifier and self.value_digits not in (4, 5):
            self._refuse("value_digits", "must be 4 or 5 when has_verifier is set")
        if self.decimals > self.value_digits:
            self._refuse("decimals", "cannot exceed value_digits")
        total = 2 + self.item_digits + self.has_verifier + self.value_digits + 1
        if total != 13:
            self._refuse(
                "item_digits",
                f"prefix (2) + item_digits ({self.item_digits}) + verifier"
                f" ({int(self.has_verifier)}) + value_digits ({self.value_digits}) + check"
                f" digit (1) must be 13, not {total}",
            )

    def _refuse(self, field: str, problem: str) -> NoReturn:
        """Raise InvalidInput naming the offending field."""
        raise InvalidInput(f"VariableMeasureRule.{field} {problem}", code="bad_measure_rule")


@value
class ParsedBarcode:
    """Hold what a scanned code means.

    - kind "gtin": `gtin14` is the product key (14 digits).
    - kind "variable_measure": `prefix` is the rule's prefix and `item_ref` the product key,
      prefix + item digits (e.g. "20" + "12345" = "2012345"; the scale's item number alone is
      `item_ref[len(prefix):]`); `price_minor` (integer minor units) or `grams` is set.
    - kind "plu": a 4-5 digit price look-up code, in `code`.
    - kind "other": a Code128 / internal code, in `code`.
    `code` is always the input without surrounding whitespace.
    """

    kind: Kind
    code: str
    gtin14: str | None = None
    prefix: str | None = None
    item_ref: str | None = None
    price_minor: int | None = None
    grams: int | None = None


def _scale(value: int, decimals: int, exponent: int, what: str, code: str) -> int:
    """Return value / 10**decimals in units of 10**-exponent, refusing a fraction."""
    shift = exponent - decimals
    factor: int = 10 ** abs(shift)
    if shift >= 0:
        return value * factor
    quotient, remainder = divmod(value, factor)
    if remainder:
        raise InvalidInput(f"{code!r} encodes a fraction of {what}", code="bad_measure_value")
    return quotient


def _parse_variable_measure(code: str, ean13: str, rule: VariableMeasureRule) -> ParsedBarcode:
    """Split a valid EAN-13 by `rule`, check its verifier and convert its value."""
    item_end = 2 + rule.item_digits
    value_start = item_end + rule.has_verifier
    value = ean13[value_start:12]
    if rule.has_verifier:
        expected = measure_check_digit(value)
        if int(ean13[item_end]) != expected:
            raise InvalidInput(
                f"{code!r}: the {rule.measure} {value} has verifier {ean13[item_end]},"
                f" expected {expected}",
                code="bad_measure_check_digit",
            )
    if rule.measure == "price":
        amount = _scale(int(value), rule.decimals, rule.minor_unit_digits, "a minor unit", code)
        price_minor, grams = amount, None
    else:
        price_minor, grams = None, _scale(int(value), rule.decimals, 3, "a gram", code)
    return ParsedBarcode(
        kind="variable_measure",
        code=code,
        prefix=rule.prefix,
        item_ref=ean13[:item_end],
        price_minor=price_minor,
        grams=grams,
    )


def _rule_index(rules: Sequence[VariableMeasureRule]) -> dict[str, VariableMeasureRule]:
    """Index the rules by prefix, refusing two rules for one prefix."""
    index: dict[str, VariableMeasureRule] = {}
    for rule in rules:
        if rule.prefix in index:
            raise InvalidInput(
                f"two variable-measure rules for prefix {rule.prefix!r}", code="bad_measure_rule"
            )
        index[rule.prefix] = rule
    return index


def parse_barcode(
    code: str,
    rules: Sequence[VariableMeasureRule] = (),
    *,
    symbology: Symbology = "auto",
) -> ParsedBarcode:
    """Classify and validate a scanned or keyed code; raise InvalidInput if it is not one.

    Digits: 8/12/13/14 are GTINs (check digit enforced, so a truncated EAN-13 passes as a
    UPC-A only in the 1-in-10 case that its last digit happens to fit), 4-5 are PLUs, other
    lengths are refused; with `symbology="UPCE"` 6-8 digits are UPC-E. A GTIN in the 02/20-29
    range whose prefix has a rule is variable measure, without one a plain GTIN. Other
    printable ASCII up to 48 characters is "other", except a GTIN-length code with at most
    two non-digits, which is refused as a mistyped GTIN (O for 0, l for 1, a stray space).
    """
    index = _rule_index(rules)
    text = code.strip()
    if not text:
        raise InvalidInput("empty barcode", code="bad_barcode")
    if not text.isascii() or not text.isprintable():
        raise InvalidInput(f"{text!r} has control or non-ASCII characters", code="bad_barcode")
    if len(text) > MAX_OTHER_LENGTH:
        raise InvalidInput(f"barcode longer than {MAX_OTHER_LENGTH} characters", code="bad_barcode")
    if symbology == "UPCE":
        return ParsedBarcode(kind="gtin", code=text, gtin14=upce_to_upca(text).zfill(14))
    if symbology != "auto":
        raise InvalidInput(f"unknown symbology {symbology!r}", code="bad_barcode")
    if not text.isdigit():
        if len(text) in GTIN_LENGTHS and sum(not c.isdigit() for c in text) <= 2:
            raise InvalidInput(f"{text!r} looks like a GTIN with non-digits", code="bad_barcode")
        return ParsedBarcode(kind="other", code=text)
    if len(text) in PLU_LENGTHS:
        return ParsedBarcode(kind="plu", code=text)
    if len(text) not in GTIN_LENGTHS:
        raise InvalidInput(
            f"{text!r} has {len(text)} digits: not a GTIN (8, 12, 13, 14) nor a PLU (4, 5)",
            code="bad_barcode_length",
        )
    full = gtin14(text)
    rule = index.get(full[1:3]) if full[0] == "0" else None
    if rule is None:
        return ParsedBarcode(kind="gtin", code=text, gtin14=full)
    return _parse_variable_measure(text, full[1:], rule)
