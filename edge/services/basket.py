"""Turning what a till sends into a priced basket: find the products, apply the store's rules.

Lines name products by a scanned or keyed code (GTIN, GS1 weight or price label, PLU,
internal code) or by product id, with a weight from the scale for weighed goods. Products
not yet cached are found with one query; products and promotions are cached and dropped when
the ledger commits a change to them. Prices always come from the catalog, never the client.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, NamedTuple

from edge.domain.barcode import ParsedBarcode, VariableMeasureRule, parse_barcode
from edge.domain.errors import Conflict, InvalidInput, NotFound
from edge.domain.pricing import BasketInput, LineInput, ManualDiscount, PricedBasket, PriceOverride
from edge.domain.pricing import price_basket as price_with_rules
from edge.domain.promotions import Promotion
from edge.domain.tax import TaxPolicy
from edge.domain.values import value
from edge.ledger.ledger import Ledger
from edge.ledger.projections.catalog import CATALOG
from edge.ledger.stamps import StampedCache

_COLUMNS = (
    "p.id, p.name_zh, p.name_en, p.category, p.tax_class, p.list_price, p.member_price,"
    " p.sold_by_weight, p.active"
)


@value
class LineRequest:
    """One basket line as a till sends it."""

    code: str | None = None
    product: str | None = None
    quantity: int | None = None
    grams: int | None = None
    override: PriceOverride | None = None
    discount: ManualDiscount | None = None


@value
class BasketRequest:
    """A basket as a till sends it (no prices: the server prices it)."""

    lines: tuple[LineRequest, ...]
    member: str | None = None
    coupons: tuple[str, ...] = ()
    discount: ManualDiscount | None = None


@dataclass(frozen=True)
class Pricing:
    """The store's pricing rules."""

    policy: TaxPolicy
    rules: tuple[VariableMeasureRule, ...]
    tz: tzinfo


class _Key(NamedTuple):
    """How one line finds its product: by barcode, PLU or id (a tuple: hashed in C, per line)."""

    kind: str  # "b" barcode, "plu", "id"
    value: str


# products, barcodes and promotions are the catalog projection's: what was read of them is
# good while its change stamp stays the same, whichever process made the change
_CATALOG = (CATALOG.name,)


class PromotionCache:
    """The live promotions, read once per change of the catalog (its change stamp)."""

    def __init__(self, ledger: Ledger) -> None:
        """Remember the ledger; nothing is read until first use."""
        self._ledger = ledger
        self._kept: StampedCache[str, tuple[Promotion, ...]] = StampedCache(
            ledger.stamps, _CATALOG, limit=1
        )

    async def get(self) -> tuple[Promotion, ...]:
        """Return the active promotions (one query after each change of the catalog)."""
        stamp = self._kept.stamp()
        kept = self._kept.get("active")
        if kept is not None:
            return kept
        rows = await self._ledger.reader.fetch_all(
            "SELECT data FROM promotions WHERE active = 1 ORDER BY id"
        )
        promotions = tuple(Promotion.from_data(json.loads(row[0])) for row in rows)
        self._kept.keep(stamp, "active", promotions)
        return promotions


def _key_for(
    line: LineRequest, rules: Sequence[VariableMeasureRule]
) -> tuple[_Key, ParsedBarcode | None]:
    """Parse a line's code (or take its product id) into a lookup key."""
    if line.product is not None:
        return _Key("id", line.product), None
    assert line.code is not None  # noqa: S101 - the schema requires code or product
    parsed = parse_barcode(line.code, rules)
    if parsed.kind == "gtin":
        assert parsed.gtin14 is not None  # noqa: S101
        return _Key("b", parsed.gtin14), parsed
    if parsed.kind == "variable_measure":
        assert parsed.item_ref is not None and parsed.prefix is not None  # noqa: S101
        return _Key("plu", parsed.item_ref[len(parsed.prefix) :].lstrip("0") or "0"), parsed
    if parsed.kind == "plu":
        return _Key("plu", parsed.code.lstrip("0") or "0"), parsed
    return _Key("b", parsed.code), parsed


def _products(ledger: Ledger, keys: set[_Key]) -> dict[_Key, tuple[Any, ...]]:
    """Fetch every product the keys name in one indexed query."""
    parts: list[str] = []
    params: list[str] = []
    for kind, where in (
        ("b", "FROM barcodes b JOIN products p ON p.id = b.product_id WHERE b.code IN"),
        ("plu", "FROM products p WHERE p.plu IN"),
        ("id", "FROM products p WHERE p.id IN"),
    ):
        values = sorted(k.value for k in keys if k.kind == kind)
        if values:
            column = {"b": "b.code", "plu": "p.plu", "id": "p.id"}[kind]
            marks = ",".join("?" * len(values))
            parts.append(f"SELECT '{kind}', {column}, {_COLUMNS} {where} ({marks})")
            params += values
    rows = ledger.reader.quick(" UNION ALL ".join(parts), params)
    return {_Key(row[0], row[1]): row[2:] for row in rows}


def _line_input(
    index: int, line: LineRequest, parsed: ParsedBarcode | None, row: tuple[Any, ...] | None
) -> LineInput:
    """Combine a line request with its product row into a pricing input."""
    where = f"lines[{index}]"
    if row is None:
        if line.product is not None:
            raise NotFound(f"{where}: no product {line.product}", code="unknown_product")
        raise NotFound(f"{where}: no product for code {line.code}", code="unknown_barcode")
    pid, name_zh, name_en, category, tax_class, list_price, member_price, by_weight, active = row
    if not active:
        raise NotFound(f"{where}: {pid} is no longer sold", code="inactive_product")
    grams = line.grams
    fixed_price = None
    if parsed is not None and parsed.grams is not None:
        if grams is not None:
            raise InvalidInput(f"{where}: the label already carries the weight", code="bad_line")
        grams = parsed.grams
    if parsed is not None and parsed.price_minor is not None:
        fixed_price = parsed.price_minor
    if by_weight:
        if line.quantity not in (None, 1):
            raise InvalidInput(f"{where}: {pid} is sold by weight, not by piece", code="bad_line")
        if grams is None and fixed_price is None:
            raise Conflict(f"{where}: {pid} is sold by weight: weigh it", code="weight_required")
    elif grams is not None:
        raise Conflict(f"{where}: {pid} is not sold by weight", code="not_weighed")
    return LineInput(
        product_id=pid,
        name_zh=name_zh,
        name_en=name_en,
        category=category,
        tax_class=tax_class,
        unit_price=list_price,
        member_price=member_price,
        quantity=1 if by_weight else (line.quantity or 1),
        grams=grams,
        fixed_price=fixed_price,
        override=line.override,
        discount=line.discount,
    )


class BasketPricer:
    """Prices baskets with the store's rules, from caches checked against the journal.

    Products and promotions are read once and kept while the catalog's change stamp stays the
    same (edge.ledger.stamps: a word of shared memory every writer moves around the COMMIT of
    a catalog change), so a change committed by any process prices the very next basket.
    Parsed codes are kept by their text (parsing depends only on the store's layouts). Both
    caches are bounded: past their limit they start again empty.
    """

    LIMIT = 100_000

    def __init__(self, ledger: Ledger, pricing: Pricing) -> None:
        """Keep the ledger and rules; follow the ledger's commits."""
        self.ledger = ledger
        self.pricing = pricing
        self.promotions = PromotionCache(ledger)
        self._rows: StampedCache[_Key, tuple[Any, ...] | None] = StampedCache(
            ledger.stamps, _CATALOG, limit=self.LIMIT
        )
        self._codes: dict[str, tuple[_Key, ParsedBarcode | None]] = {}

    def _key(self, line: LineRequest) -> tuple[_Key, ParsedBarcode | None]:
        """Return a line's lookup key, parsing each distinct code once."""
        if line.product is not None or line.code is None:
            return _key_for(line, self.pricing.rules)
        known = self._codes.get(line.code)
        if known is None:
            known = _key_for(line, self.pricing.rules)
            if len(self._codes) >= self.LIMIT:
                self._codes = {}
            self._codes[line.code] = known
        return known

    def _found(self, keys: list[_Key]) -> dict[_Key, tuple[Any, ...] | None]:
        """Return the product row (or None) of each key, querying only keys not kept."""
        stamp = self._rows.stamp()
        result = self._rows.known(keys)
        missing = set(keys).difference(result)
        if missing:
            found = _products(self.ledger, missing)
            for key in missing:
                result[key] = found.get(key)
                self._rows.keep(stamp, key, result[key])
        return result

    def resolve_lines(self, lines: Sequence[LineRequest]) -> list[LineInput]:
        """Find every line's product and build the pricing inputs."""
        keyed = [self._key(line) for line in lines]
        found = self._found([key for key, _ in keyed])
        return [
            _line_input(index, line, parsed, found[key])
            for index, (line, (key, parsed)) in enumerate(zip(lines, keyed, strict=True))
        ]

    async def price(
        self,
        basket: BasketRequest,
        at: datetime,
        *,
        member: bool,
        tier: str | None = None,
        birthday: bool = False,
    ) -> tuple[list[LineInput], PricedBasket]:
        """Price a basket request on the server with the store's promotions and tax."""
        inputs = self.resolve_lines(basket.lines)
        priced = price_with_rules(
            BasketInput(
                lines=tuple(inputs),
                at=at,
                member=member,
                coupons=basket.coupons,
                discount=basket.discount,
                tier=tier,
                birthday=birthday,
            ),
            await self.promotions.get(),
            self.pricing.policy,
            self.pricing.tz,
        )
        return inputs, priced
