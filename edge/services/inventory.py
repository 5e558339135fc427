"""Stock use cases: adjustments with a reason, goods received, stock on hand and its history.

Stock is never edited: every change is a `stock.moved` event (sale, return, receiving,
adjustment) whose items carry signed quantities in the product's base unit (pieces, or grams
for goods sold by weight); the `stock` projection is their sum. Whether a sale may take stock
below zero is the store's choice (`[inventory] allow_negative`, default yes: real stores sell
what is on the shelf even when the books disagree; such products are flagged).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from edge.domain.errors import Conflict, InvalidInput, NotFound
from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.services.catalog import Actor

ADJUSTMENT_REASONS = ("damage", "theft", "expiry", "found", "correction", "own_use")
MAX_QUANTITY = 10_000_000  # pieces, or grams (10 t)


class OutOfStock(Conflict):
    """Raise when a sale would take stock below zero and the store does not allow it."""

    code = "out_of_stock"


def _items(raw: Sequence[Mapping[str, Any]], *, signed: bool) -> list[dict[str, Any]]:
    """Check movement items: known shape, non-zero quantities, each product once."""
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        quantity = item["quantity"]
        low = -MAX_QUANTITY if signed else 1
        if type(quantity) is not int or quantity == 0 or not low <= quantity <= MAX_QUANTITY:
            raise InvalidInput(
                f"items[{index}].quantity must be a non-zero whole number of pieces or grams"
                + ("" if signed else " above 0"),
                code="bad_quantity",
            )
        if item["product"] in seen:
            raise InvalidInput(f"items[{index}]: {item['product']} is named twice", code="bad_item")
        seen.add(item["product"])
        items.append({"product": item["product"], "quantity": quantity})
    if not items:
        raise InvalidInput("name at least one item", code="bad_item")
    return items


def _known_products(conn: sqlite3.Connection, items: Sequence[Mapping[str, Any]]) -> None:
    """Refuse items naming products the catalog does not have (writer side)."""
    ids = sorted({item["product"] for item in items})
    marks = ",".join("?" * len(ids))
    found = {r[0] for r in conn.execute(f"SELECT id FROM products WHERE id IN ({marks})", ids)}
    missing = [pid for pid in ids if pid not in found]
    if missing:
        raise NotFound(f"no product {', '.join(missing)}", code="unknown_product")


def check_available(conn: sqlite3.Connection, items: Sequence[Mapping[str, Any]]) -> None:
    """Refuse a movement that takes any product below zero (writer side)."""
    for item in items:
        if item["quantity"] >= 0:
            continue
        row = conn.execute(
            "SELECT on_hand FROM stock WHERE product_id = ?", (item["product"],)
        ).fetchone()
        on_hand = int(row[0]) if row else 0
        if on_hand + item["quantity"] < 0:
            raise OutOfStock(f"{item['product']}: {on_hand} on hand, {-item['quantity']} asked for")


async def move_stock(
    ledger: Ledger,
    movement_id: str,
    kind: str,
    fields: Mapping[str, Any],
    actor: Actor,
) -> dict[str, Any]:
    """Record an adjustment (`kind` "adjustment") or goods received ("receiving"), once per id."""
    if kind == "adjustment":
        reason = fields["reason"]
        if reason not in ADJUSTMENT_REASONS:
            raise InvalidInput(
                f"reason is one of {', '.join(ADJUSTMENT_REASONS)}", code="bad_reason"
            )
        items = _items(fields["items"], signed=True)
    elif kind == "receiving":
        reason = "receiving"
        items = _items(fields["items"], signed=False)
    else:
        raise InvalidInput(f"unknown stock movement {kind}", code="bad_movement")
    data = {
        "reason": reason,
        "movement": movement_id,
        "items": items,
        "note": fields.get("note", ""),
        "supplier": fields.get("supplier"),
        "document": fields.get("document"),
    }

    def command(tx: Tx) -> dict[str, Any]:
        done = tx.conn.execute(
            "SELECT data FROM journal WHERE type = 'stock.moved' AND seq = ("
            " SELECT seq FROM stock_movements WHERE id = ?)",
            (movement_id,),
        ).fetchone()
        if done is not None:
            recorded: dict[str, Any] = json.loads(done[0])
            if recorded != data:
                raise Conflict("this movement id was used for another movement", code="id_reused")
            return recorded | {"replayed": True}
        _known_products(tx.conn, items)
        tx.append("stock.moved", data, staff=actor.staff, till=actor.till)
        return data | {"replayed": False}

    return await ledger.submit(command)


async def stock_levels(
    ledger: Ledger, product: str | None = None, *, below: int | None = None
) -> list[dict[str, Any]]:
    """Return stock on hand per product (one product, or those below a level)."""
    rows = await ledger.reader.fetch_all(
        "SELECT p.id, p.name_zh, p.name_en, p.sold_by_weight, coalesce(s.on_hand, 0),"
        " s.updated_seq FROM products p LEFT JOIN stock s ON s.product_id = p.id"
        " WHERE (? IS NULL OR p.id = ?) AND (? IS NULL OR coalesce(s.on_hand, 0) < ?)"
        " ORDER BY p.id",
        (product, product, below, below),
    )
    if product is not None and not rows:
        raise NotFound(f"no product {product}", code="unknown_product")
    return [
        {
            "product": r[0],
            "name_zh": r[1],
            "name_en": r[2],
            "unit": "g" if r[3] else "piece",
            "on_hand": r[4],
            "negative": r[4] < 0,  # sold beyond what the books hold: count it
            "updated_seq": r[5],
        }
        for r in rows
    ]


async def movements(ledger: Ledger, product: str, limit: int = 100) -> list[dict[str, Any]]:
    """Return a product's latest stock movements, newest first."""
    rows = await ledger.reader.fetch_all(
        "SELECT j.seq, j.ts, j.till, j.staff, json_extract(j.data, '$.reason'),"
        " json_extract(i.value, '$.quantity'), j.data"
        " FROM journal j, json_each(j.data, '$.items') i"
        " WHERE j.type = 'stock.moved' AND json_extract(i.value, '$.product') = ?"
        " ORDER BY j.seq DESC LIMIT ?",
        (product, limit),
    )
    result = []
    for seq, ts, till, staff, reason, quantity, data in rows:
        d = json.loads(data)
        ref = next((d[k] for k in ("sale", "return", "movement") if d.get(k)), None)
        result.append(
            {"seq": seq, "ts": ts, "till": till, "staff": staff, "reason": reason,
             "quantity": quantity, "reference": ref}
        )  # fmt: skip
    return result
