"""Catalog use cases: save products and categories, import a CSV, find what was scanned."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from edge.domain.barcode import VariableMeasureRule, parse_barcode
from edge.domain.catalog import (
    PRODUCT_FIELDS,
    Category,
    Product,
    product_from_fields,
)
from edge.domain.errors import Conflict, DomainError, NotFound, ValidationFailed
from edge.domain.values import value
from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.ledger.projections.catalog import PRODUCT_COLUMNS

IMPORT_CHUNK = 500
Outcome = Literal["created", "updated", "unchanged"]


class CatalogConflict(ValidationFailed):
    """Raise when a product clashes with the catalog: HTTP 409 naming every clashing field."""

    status = Conflict.status


@value
class Actor:
    """Who does something and where (recorded on the events)."""

    staff: str | None = None
    till: str | None = None


def _row_to_product(row: tuple[Any, ...], barcodes: Iterable[str]) -> Product:
    """Build a Product from a products row (PRODUCT_COLUMNS order) and its barcodes."""
    (pid, name_zh, name_en, category, brand, unit, tax_class, cost, list_price, member_price,
     by_weight, age, plu, active, reorder_point, pack_size, batches, unit_grams) = row  # fmt: skip
    return Product(
        pid, name_zh, name_en, category, brand, unit, tax_class, cost, list_price,
        member_price, bool(by_weight), bool(age), plu, tuple(barcodes), bool(active),
        reorder_point, pack_size, bool(batches), unit_grams,
    )  # fmt: skip


def stored_product(conn: sqlite3.Connection, product_id: str) -> Product | None:
    """Read one product inside a transaction (writer side)."""
    row = conn.execute(
        f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?", (product_id,)
    ).fetchone()
    if row is None:
        return None
    codes = [
        r[0]
        for r in conn.execute(
            "SELECT code FROM barcodes WHERE product_id = ? ORDER BY rowid", (product_id,)
        )
    ]
    return _row_to_product(row, codes)


def _conflicts(conn: sqlite3.Connection, product: Product) -> list[tuple[str, str]]:
    """Return why `product` cannot be saved next to the others (barcode, PLU, category)."""
    problems: list[tuple[str, str]] = []
    for index, code in enumerate(product.barcodes):
        owner = conn.execute("SELECT product_id FROM barcodes WHERE code = ?", (code,)).fetchone()
        if owner is not None and owner[0] != product.id:
            problems.append((f"barcodes[{index}]", f"{code} already belongs to {owner[0]}"))
    if product.plu is not None:
        owner = conn.execute("SELECT id FROM products WHERE plu = ?", (product.plu,)).fetchone()
        if owner is not None and owner[0] != product.id:
            problems.append(("plu", f"PLU {product.plu} already belongs to {owner[0]}"))
    if product.category is not None:
        known = conn.execute("SELECT 1 FROM categories WHERE id = ?", (product.category,))
        if known.fetchone() is None:
            problems.append(("category", f"unknown category {product.category}"))
    return problems


def save_product_in_tx(tx: Tx, product: Product, actor: Actor) -> Outcome:
    """Append a product_saved event unless nothing changed; raise Conflict on clashes."""
    before = stored_product(tx.conn, product.id)
    if before == product:
        return "unchanged"
    problems = _conflicts(tx.conn, product)
    if problems:
        raise ValidationFailed(problems, code="catalog_conflict")
    tx.append(
        "catalog.product_saved",
        {"product": product.to_data()},
        staff=actor.staff,
        till=actor.till,
    )
    return "created" if before is None else "updated"


async def save_product(ledger: Ledger, product: Product, actor: Actor) -> Outcome:
    """Create or update one product (one event, none if nothing changed)."""
    try:
        return await ledger.submit(lambda tx: save_product_in_tx(tx, product, actor))
    except ValidationFailed as err:
        raise CatalogConflict(err.problems, code="catalog_conflict") from err


def save_category_in_tx(tx: Tx, category: Category, actor: Actor) -> Outcome:
    """Append a category_saved event unless nothing changed; its parent must exist."""
    row = tx.conn.execute(
        "SELECT id, name_zh, name_en, parent FROM categories WHERE id = ?", (category.id,)
    ).fetchone()
    if row is not None and Category(*row) == category:
        return "unchanged"
    if category.parent is not None:
        parent = tx.conn.execute("SELECT 1 FROM categories WHERE id = ?", (category.parent,))
        if parent.fetchone() is None:
            raise NotFound(f"unknown parent category {category.parent}")
    tx.append(
        "catalog.category_saved",
        {"category": category.to_data()},
        staff=actor.staff,
        till=actor.till,
    )
    return "created" if row is None else "updated"


async def save_category(ledger: Ledger, category: Category, actor: Actor) -> Outcome:
    """Create or update a category."""
    return await ledger.submit(lambda tx: save_category_in_tx(tx, category, actor))


@dataclass
class ImportReport:
    """What an import did, row by row."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        """Return how many rows were refused."""
        return len({row for row, _, _ in self.errors})

    def count(self, outcome: Outcome) -> None:
        """Count one imported row."""
        setattr(self, outcome, getattr(self, outcome) + 1)


def read_product_csv(text: str) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    """Parse CSV text into (row number, fields) pairs; return header problems separately."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    problems = [f"unknown column {h!r}" for h in header if h not in PRODUCT_FIELDS]
    problems += [
        f"missing column {c!r}" for c in ("id", "name_zh", "list_price") if c not in header
    ]
    if problems:
        return [], problems
    rows = []
    for line_no, record in enumerate(reader, start=2):
        if None in record:
            rows.append((line_no, {"__extra__": "more cells than columns"}))
            continue
        rows.append((line_no, {k.strip(): (v or "") for k, v in record.items() if k}))
    return rows, []


async def import_products(
    ledger: Ledger,
    rows: Sequence[tuple[int, Mapping[str, str]]],
    actor: Actor,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import rows (row number, fields): each row is saved whole or refused whole."""
    report = ImportReport()
    valid: list[tuple[int, Product]] = []
    seen_ids: dict[str, int] = {}
    for line_no, record in rows:
        if "__extra__" in record:
            report.errors.append((line_no, "row", record["__extra__"]))
            continue
        try:
            product = product_from_fields(record)
        except ValidationFailed as err:
            report.errors.extend((line_no, path, problem) for path, problem in err.problems)
            continue
        if product.id in seen_ids:
            report.errors.append(
                (line_no, "id", f"{product.id} already appears on row {seen_ids[product.id]}")
            )
            continue
        seen_ids[product.id] = line_no
        valid.append((line_no, product))

    def chunk_command(chunk: list[tuple[int, Product]]) -> Callable[[Tx], list[Any]]:
        def command(tx: Tx) -> list[Any]:
            outcomes: list[Any] = []
            for line_no, product in chunk:
                tx.conn.execute("SAVEPOINT product_row")
                try:
                    outcomes.append((line_no, save_product_in_tx(tx, product, actor)))
                    tx.conn.execute("RELEASE product_row")
                except DomainError as err:
                    tx.conn.execute("ROLLBACK TO product_row")
                    tx.conn.execute("RELEASE product_row")
                    outcomes.append((line_no, err))
            return outcomes

        return command

    done = len(rows) - len(valid)
    for start in range(0, len(valid), IMPORT_CHUNK):
        chunk = valid[start : start + IMPORT_CHUNK]
        for line_no, outcome in await ledger.submit(chunk_command(chunk), offload=True):
            if isinstance(outcome, ValidationFailed):
                report.errors.extend((line_no, path, problem) for path, problem in outcome.problems)
            elif isinstance(outcome, DomainError):
                report.errors.append((line_no, "row", outcome.message))
            else:
                report.count(outcome)
        done += len(chunk)
        if progress is not None:
            progress(done, len(rows))
    report.errors.sort()
    return report


async def get_product(ledger: Ledger, product_id: str) -> Product:
    """Return one product or raise NotFound."""
    async with ledger.reader.connection() as conn:
        cursor = await conn.execute(
            f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?", (product_id,)
        )
        row = await cursor.fetchone()
        if row is None:
            raise NotFound(f"no product {product_id}")
        codes = await conn.execute_fetchall(
            "SELECT code FROM barcodes WHERE product_id = ? ORDER BY rowid", (product_id,)
        )
    return _row_to_product(tuple(row), [c[0] for c in codes])


async def search_products(
    ledger: Ledger, query: str, category: str | None, limit: int, offset: int
) -> list[Product]:
    """Find products by name, id, PLU or barcode (substring for names)."""
    where = ["1 = 1"]
    params: list[Any] = []
    if query:
        like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            "(name_zh LIKE ? ESCAPE '\\' OR name_en LIKE ? ESCAPE '\\' OR id = ? OR plu = ?"
            " OR id IN (SELECT product_id FROM barcodes WHERE code = ? OR code = ?))"
        )
        params += [like, like, query, query.lstrip("0") or "0", query, query.zfill(14)]
    if category:
        where.append("category = ?")
        params.append(category)
    rows = await ledger.reader.fetch_all(
        f"SELECT {PRODUCT_COLUMNS} FROM products WHERE {' AND '.join(where)}"
        " ORDER BY id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    ids = [r[0] for r in rows]
    codes: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        marks = ",".join("?" * len(ids))
        for pid, code in await ledger.reader.fetch_all(
            f"SELECT product_id, code FROM barcodes WHERE product_id IN ({marks}) ORDER BY rowid",
            ids,
        ):
            codes[pid].append(code)
    return [_row_to_product(r, codes[r[0]]) for r in rows]


async def list_categories(ledger: Ledger) -> list[Category]:
    """Return every category."""
    rows = await ledger.reader.fetch_all(
        "SELECT id, name_zh, name_en, parent FROM categories ORDER BY id"
    )
    return [Category(*r) for r in rows]


@dataclass(frozen=True)
class ScanResult:
    """What a scanned or keyed code means at this store."""

    kind: str
    code: str
    product: Product
    grams: int | None = None
    embedded_price: int | None = None


async def resolve_scan(
    ledger: Ledger, code: str, rules: Sequence[VariableMeasureRule]
) -> ScanResult:
    """Find the product a code names: GTIN, variable-measure label, PLU or internal code."""
    parsed = parse_barcode(code, rules)
    if parsed.kind == "gtin":
        row = await ledger.reader.fetch_one(
            "SELECT product_id FROM barcodes WHERE code = ?", (parsed.gtin14,)
        )
    elif parsed.kind == "variable_measure":
        assert parsed.item_ref is not None and parsed.prefix is not None  # noqa: S101
        plu = parsed.item_ref[len(parsed.prefix) :].lstrip("0") or "0"
        row = await ledger.reader.fetch_one("SELECT id FROM products WHERE plu = ?", (plu,))
    elif parsed.kind == "plu":
        row = await ledger.reader.fetch_one(
            "SELECT id FROM products WHERE plu = ?", (parsed.code.lstrip("0") or "0",)
        )
    else:
        row = await ledger.reader.fetch_one(
            "SELECT product_id FROM barcodes WHERE code = ?", (parsed.code,)
        )
    if row is None:
        raise NotFound(f"no product for {parsed.kind} code {parsed.code}", code="unknown_barcode")
    product = await get_product(ledger, str(row[0]))
    if not product.active:
        raise NotFound(f"{product.id} is no longer sold", code="inactive_product")
    if parsed.grams is not None and not product.sold_by_weight:
        raise Conflict(f"{product.id} is not sold by weight", code="not_weighed")
    return ScanResult(parsed.kind, parsed.code, product, parsed.grams, parsed.price_minor)
