"""Products and categories: what a valid catalog record is, from the API or a CSV row.

Money is integer minor units (分/cents); a product sold by weight has its prices per kg.
A product's barcodes are stored normalised (GTINs as 14 digits) so that UPC-A 036000291452
and EAN-13 0036000291452 find the same item; its PLU is also the item reference that scales
print into variable-measure (GS1 prefix 02/20-29) barcodes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from edge.domain.barcode import parse_barcode
from edge.domain.errors import DomainError, ValidationFailed
from edge.domain.fields import FieldReader

MAX_PRICE = 100_000_000  # 1,000,000.00 in minor units: more is a typo, not a product
MAX_BARCODES = 16
PRODUCT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
PLU = re.compile(r"^[0-9]{1,5}$")
UNITS = ("pcs", "kg", "g", "box", "pack", "bottle", "bag", "each")

PRODUCT_FIELDS = (
    "id",
    "name_zh",
    "name_en",
    "category",
    "brand",
    "unit",
    "tax_class",
    "cost",
    "list_price",
    "member_price",
    "sold_by_weight",
    "age_restricted",
    "plu",
    "barcodes",
    "active",
    "reorder_point",
    "pack_size",
    "batch_tracked",
    "unit_grams",
)
# fields added after the first events: their value when an older event does not carry them
PRODUCT_DEFAULTS: dict[str, Any] = {
    "reorder_point": None,
    "pack_size": 1,
    "batch_tracked": False,
    "unit_grams": None,
}
MAX_UNIT_GRAMS = 100_000
MAX_STOCK_FIGURE = 10_000_000


@dataclass(frozen=True)
class Category:
    """A product category (optionally under a parent)."""

    id: str
    name_zh: str
    name_en: str
    parent: str | None = None

    def to_data(self) -> dict[str, Any]:
        """Return the event data form."""
        return {
            "id": self.id,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "parent": self.parent,
        }


@dataclass(frozen=True)
class Product:
    """A sellable item as the store's catalog knows it."""

    id: str
    name_zh: str
    name_en: str
    category: str | None
    brand: str
    unit: str
    tax_class: str
    cost: int
    list_price: int
    member_price: int | None
    sold_by_weight: bool
    age_restricted: bool
    plu: str | None
    barcodes: tuple[str, ...]
    active: bool = True
    reorder_point: int | None = None  # stock at or below this raises a low-stock alert
    pack_size: int = 1  # the supplier's case: orders are suggested in whole packs
    batch_tracked: bool = False  # received in lots with an expiry date, sold oldest first
    unit_grams: int | None = None  # what one piece weighs (a kiosk's bagging-area check)

    def to_data(self) -> dict[str, Any]:
        """Return the event data form (JSON-safe, no floats; unit_grams only when known)."""
        data = {name: getattr(self, name) for name in PRODUCT_FIELDS} | {
            "barcodes": list(self.barcodes)
        }
        if self.unit_grams is None:
            del data["unit_grams"]
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Product:
        """Rebuild a product from its event data."""
        values = {name: data.get(name, PRODUCT_DEFAULTS.get(name)) for name in PRODUCT_FIELDS}
        values["barcodes"] = tuple(data["barcodes"])
        return cls(**values)


def normalise_barcode(code: str) -> str:
    """Return the catalog key of a product barcode: GTIN-14, else the code as scanned."""
    parsed = parse_barcode(code)
    if parsed.kind == "gtin" and parsed.gtin14 is not None:
        return parsed.gtin14
    if parsed.kind == "other":
        return code.strip()
    raise DomainError(
        f"{code!r} cannot be a product barcode (it is a {parsed.kind} code)",
        code="bad_barcode",
    )


def parse_amount(text: str, exponent: int = 2) -> int:
    """Turn '12.80' into 1280 minor units exactly; refuse more decimals than the currency has."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not an amount")
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{text!r} has more than {exponent} decimals")
    return int(scaled)


class _Fields(FieldReader):
    """Read catalog fields, also as CSV text: amounts like '12.80', flags like 'yes' or '是'."""

    def money(self, name: str, *, required: bool = True) -> int | None:
        """Read an amount in minor units, or a major-unit decimal text from CSV."""
        value = self.raw.get(name)
        if value is None or value == "":
            if required:
                self.problem(name, "is required")
            return None
        if isinstance(value, str):
            try:
                value = parse_amount(value)
            except ValueError as err:
                self.problem(name, str(err))
                return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(name, "must be an integer amount in minor units")
            return None
        if not 0 <= value <= MAX_PRICE:
            self.problem(name, f"must be between 0 and {MAX_PRICE}")
            return None
        return value

    def product_id(self, name: str) -> str:
        """Read a product id (1-40 letters, digits, '.', '_' or '-')."""
        product_id = self.text(name, max_len=40)
        if product_id and not PRODUCT_ID.match(product_id):
            self.problem(name, "must be 1-40 letters, digits, '.', '_' or '-'")
        return product_id

    def count(self, name: str, *, minimum: int = 0) -> int | None:
        """Read an optional whole number (pieces or grams), also as CSV text."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(name, "must be a whole number")
            return None
        if not minimum <= value <= MAX_STOCK_FIGURE:
            self.problem(name, f"must be between {minimum} and {MAX_STOCK_FIGURE}")
            return None
        return value

    def flag(self, name: str, default: bool) -> bool:
        """Read a flag given as a JSON boolean or as CSV text."""
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "y", "是"}:
            return True
        if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", "n", "否"}:
            return False
        self.problem(name, "must be true or false")
        return default


def product_from_fields(raw: Mapping[str, Any], *, prefix: str = "") -> Product:
    """Check a product record (API JSON or CSV row) and return it; report every problem."""
    f = _Fields(raw, prefix)
    f.unknown(PRODUCT_FIELDS, "product")
    product_id = f.product_id("id")
    name_zh = f.text("name_zh")
    name_en = f.text("name_en", required=False) or name_zh
    category = f.text("category", required=False, max_len=40) or None
    brand = f.text("brand", required=False)
    sold_by_weight = f.flag("sold_by_weight", default=False)
    unit = f.text("unit", required=False, max_len=10) or ("kg" if sold_by_weight else "pcs")
    if unit not in UNITS:
        f.problem("unit", f"must be one of {', '.join(UNITS)}")
    tax_class = f.text("tax_class", required=False, max_len=20) or "standard"
    cost = f.money("cost", required=False) or 0
    list_price = f.money("list_price")
    member_price = f.money("member_price", required=False)
    if member_price is not None and list_price is not None and member_price > list_price:
        f.problem("member_price", "must not exceed list_price")
    plu_value = raw.get("plu")
    plu = None
    if plu_value not in (None, ""):
        plu = str(plu_value).strip()
        if not PLU.match(plu):
            f.problem("plu", "must be 1-5 digits")
        plu = plu.lstrip("0") or "0"
    barcodes = _barcodes(raw.get("barcodes"), f)
    product = Product(
        id=product_id,
        name_zh=name_zh,
        name_en=name_en,
        category=category,
        brand=brand,
        unit=unit,
        tax_class=tax_class,
        cost=cost,
        list_price=list_price or 0,
        member_price=member_price,
        sold_by_weight=sold_by_weight,
        age_restricted=f.flag("age_restricted", default=False),
        plu=plu,
        barcodes=barcodes,
        active=f.flag("active", default=True),
        reorder_point=f.count("reorder_point"),
        pack_size=f.count("pack_size", minimum=1) or 1,
        batch_tracked=f.flag("batch_tracked", default=False),
        unit_grams=_unit_grams(f, sold_by_weight),
    )
    if f.problems:
        raise ValidationFailed(f.problems)
    return product


def _unit_grams(f: _Fields, sold_by_weight: bool) -> int | None:
    """Read the optional weight of one piece (1 g to 100 kg; none for goods sold by weight)."""
    grams = f.count("unit_grams", minimum=1)
    if grams is not None and grams > MAX_UNIT_GRAMS:
        f.problem("unit_grams", f"must be between 1 and {MAX_UNIT_GRAMS}")
        return None
    if grams is not None and sold_by_weight:
        f.problem("unit_grams", "is for pieces; goods sold by weight are weighed")
        return None
    return grams


def _barcodes(value: Any, f: _Fields) -> tuple[str, ...]:
    """Read the barcodes field: a list, or text separated by '|', ',' or spaces."""
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        items: Sequence[Any] = [v for v in re.split(r"[|,\s]+", value) if v]
    elif isinstance(value, list):
        items = value
    else:
        f.problem("barcodes", "must be a list of codes")
        return ()
    if len(items) > MAX_BARCODES:
        f.problem("barcodes", f"must have at most {MAX_BARCODES} codes")
        return ()
    codes: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            f.problem(f"barcodes[{index}]", "must be text")
            continue
        try:
            code = normalise_barcode(item)
        except DomainError as err:
            f.problem(f"barcodes[{index}]", err.message)
            continue
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def category_from_fields(raw: Mapping[str, Any], *, prefix: str = "") -> Category:
    """Check a category record and return it."""
    f = _Fields(raw, prefix)
    f.unknown(("id", "name_zh", "name_en", "parent"), "category")
    category_id = f.text("id", max_len=40)
    if category_id and not PRODUCT_ID.match(category_id):
        f.problem("id", "must be 1-40 letters, digits, '.', '_' or '-'")
    name_zh = f.text("name_zh")
    category = Category(
        id=category_id,
        name_zh=name_zh,
        name_en=f.text("name_en", required=False) or name_zh,
        parent=f.text("parent", required=False, max_len=40) or None,
    )
    if category.parent == category.id and category.id:
        f.problem("parent", "must not be the category itself")
    if f.problems:
        raise ValidationFailed(f.problems)
    return category


PRICE_FIELDS = ("product", "list_price", "member_price", "cost")


@dataclass(frozen=True)
class PriceChange:
    """New prices for a product (as HQ sends them): what is absent stays as it was."""

    product: str
    list_price: int
    member_price: int | None
    cost: int | None
    sets_member_price: bool  # member_price given (null clears it) or absent (kept)

    def apply(self, product: Product) -> Product:
        """Return `product` at these prices; refuse a member price above the list price."""
        member = self.member_price if self.sets_member_price else product.member_price
        if member is not None and member > self.list_price:
            raise ValidationFailed([("member_price", "must not exceed list_price")])
        cost = product.cost if self.cost is None else self.cost
        return replace(product, list_price=self.list_price, member_price=member, cost=cost)


def price_change_from_fields(raw: Mapping[str, Any], *, prefix: str = "") -> PriceChange:
    """Check a price change: a known product id, a list price, optional member price and cost."""
    f = _Fields(raw, prefix)
    f.unknown(PRICE_FIELDS, "price")
    product_id = f.product_id("product")
    list_price = f.money("list_price")
    member_price = f.money("member_price", required=False)
    if member_price is not None and list_price is not None and member_price > list_price:
        f.problem("member_price", "must not exceed list_price")
    cost = f.money("cost", required=False)
    f.check()
    return PriceChange(product_id, list_price or 0, member_price, cost, "member_price" in raw)
