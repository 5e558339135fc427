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
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from edge.domain.errors import Conflict, InvalidInput, NotFound
from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.ledger.projections.stock import lot_candidates
from edge.protocol.chain import json_strings
from edge.services.catalog import Actor

ADJUSTMENT_REASONS = ("damage", "theft", "expiry", "found", "correction", "own_use")
MAX_QUANTITY = 10_000_000  # pieces, or grams (10 t)


# how much of product `:product` open pickup orders hold back
RESERVED = (
    "(SELECT coalesce(sum(l.quantity), 0) FROM order_lines l JOIN orders o ON o.id = l.order_id"
    " WHERE l.product = {product} AND o.status IN ('new', 'picking', 'ready'))"
)


class OutOfStock(Conflict):
    """Raise when a sale would take stock below zero and the store does not allow it."""

    code = "out_of_stock"


def _items(raw: Sequence[Mapping[str, Any]], *, signed: bool) -> list[dict[str, Any]]:
    """Check movement items: known shape, non-zero quantities, each product once."""
    items: list[dict[str, Any]] = []
    seen: set[tuple[str, Any]] = set()
    for index, item in enumerate(raw):
        quantity = item["quantity"]
        low = -MAX_QUANTITY if signed else 1
        if type(quantity) is not int or quantity == 0 or not low <= quantity <= MAX_QUANTITY:
            raise InvalidInput(
                f"items[{index}].quantity must be a non-zero whole number of pieces or grams"
                + ("" if signed else " above 0"),
                code="bad_quantity",
            )
        key = (item["product"], item.get("lot"))
        if key in seen:
            raise InvalidInput(f"items[{index}]: {item['product']} is named twice", code="bad_item")
        seen.add(key)
        checked: dict[str, Any] = {"product": item["product"], "quantity": quantity}
        if item.get("lot") is not None:
            checked["lot"] = str(item["lot"])
            expires = item.get("expires")
            if expires is not None:
                try:
                    date.fromisoformat(expires)
                except (TypeError, ValueError) as err:
                    raise InvalidInput(
                        f"items[{index}].expires must be a date (YYYY-MM-DD)", code="bad_expiry"
                    ) from err
            checked["expires"] = expires
        elif item.get("expires") is not None:
            raise InvalidInput(f"items[{index}]: an expiry belongs to a lot", code="bad_item")
        items.append(checked)
    if not items:
        raise InvalidInput("name at least one item", code="bad_item")
    return items


def checked_items(raw: Sequence[Any]) -> list[dict[str, Any]]:
    """Check lines that did not pass the API's schema (from HQ): shape first, then the rules."""
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("product"), str):
            raise InvalidInput(
                f"lines[{index}] must be an object naming a product", code="bad_item"
            )
        if "quantity" not in item:
            raise InvalidInput(f"lines[{index}] has no quantity", code="bad_quantity")
    return _items(raw, signed=False)


def _known_products(
    conn: sqlite3.Connection, items: Sequence[Mapping[str, Any]], *, receiving: bool = False
) -> None:
    """Refuse unknown products, and lots that do not fit the product (writer side).

    Goods received of a batch-tracked product name their lot and expiry; other products have
    no lots.
    """
    ids = sorted({item["product"] for item in items})
    marks = ",".join("?" * len(ids))
    sql = f"SELECT id, batch_tracked FROM products WHERE id IN ({marks})"
    tracked = {str(r[0]): bool(r[1]) for r in conn.execute(sql, ids)}
    missing = [pid for pid in ids if pid not in tracked]
    if missing:
        raise NotFound(f"no product {', '.join(missing)}", code="unknown_product")
    for item in items:
        if tracked[item["product"]]:
            if receiving and (item.get("lot") is None or item.get("expires") is None):
                raise InvalidInput(
                    f"{item['product']} is batch-tracked: give its lot and expiry",
                    code="lot_required",
                )
        elif item.get("lot") is not None:
            raise InvalidInput(f"{item['product']} is not batch-tracked", code="not_batch_tracked")


class ExpiredStock(Conflict):
    """Raise when only expired lots are left of what a sale takes."""

    code = "expired_stock"


def check_not_expired(
    conn: sqlite3.Connection, items: Sequence[Mapping[str, Any]], today: str
) -> None:
    """Refuse selling batch-tracked goods beyond their lots that have not expired (writer side).

    Goods without lots, and sales beyond every lot (the books are short), are not refused here.
    """
    taken = lot_candidates(  # most goods have no lots: look up only those that may
        conn, (str(item["product"]) for item in items if item["quantity"] < 0)
    )
    if not taken:
        return
    lots = {
        str(row[0]): (int(row[1]), int(row[2]))
        for row in conn.execute(  # one statement for the whole sale: most goods have no lots
            "SELECT product_id,"
            " coalesce(sum(CASE WHEN expires IS NULL OR expires >= ? THEN on_hand END), 0),"
            " coalesce(sum(CASE WHEN expires < ? THEN on_hand END), 0)"
            " FROM stock_lots WHERE product_id IN (SELECT value FROM json_each(?))"
            " AND on_hand > 0 GROUP BY product_id",
            (today, today, json_strings(taken)),
        )
    }
    for item in items:
        if item["quantity"] >= 0 or item["product"] not in lots:
            continue
        good, expired = lots[item["product"]]
        if expired and good < -item["quantity"]:
            raise ExpiredStock(
                f"{item['product']}: only {good} not expired; {expired} are past their date"
            )


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
    if kind == "receiving" and fields.get("purchase_order"):
        data["purchase_order"] = fields["purchase_order"]

    def command(tx: Tx) -> dict[str, Any]:
        if data.get("purchase_order"):
            _open_po(tx.conn, data["purchase_order"])
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
        _known_products(tx.conn, items, receiving=kind == "receiving")
        tx.append("stock.moved", data, staff=actor.staff, till=actor.till)
        if data.get("purchase_order"):  # how the delivery compares with the order so far
            return data | {"replayed": False, "order": _po_lines(tx.conn, data["purchase_order"])}
        return data | {"replayed": False}

    return await ledger.submit(command)


async def stock_levels(
    ledger: Ledger, product: str | None = None, *, below: int | None = None
) -> list[dict[str, Any]]:
    """Return stock on hand per product (one product, or those below a level)."""
    rows = await ledger.reader.fetch_all(
        "SELECT p.id, p.name_zh, p.name_en, p.sold_by_weight, coalesce(s.on_hand, 0),"
        f" s.updated_seq, {RESERVED.format(product='p.id')}"
        " FROM products p LEFT JOIN stock s ON s.product_id = p.id"
        " WHERE (? IS NULL OR p.id = ?) AND (? IS NULL OR coalesce(s.on_hand, 0) < ?)"
        " ORDER BY p.id",
        (product, product, below, below),
    )
    if product is not None and not rows:
        raise NotFound(f"no product {product}", code="unknown_product")
    lots: dict[str, list[dict[str, Any]]] = {}
    if product is not None:
        for pid, lot, expires, on_hand in await ledger.reader.fetch_all(
            "SELECT product_id, lot, expires, on_hand FROM stock_lots WHERE product_id = ?"
            " AND on_hand != 0 ORDER BY expires IS NULL, expires, lot",
            (product,),
        ):
            lots.setdefault(pid, []).append({"lot": lot, "expires": expires, "on_hand": on_hand})
    return [
        {
            "product": r[0],
            "name_zh": r[1],
            "name_en": r[2],
            "unit": "g" if r[3] else "piece",
            "on_hand": r[4],
            "negative": r[4] < 0,  # sold beyond what the books hold: count it
            "reserved": r[6],  # held for open pickup orders
            "available": r[4] - r[6],
            "updated_seq": r[5],
        }
        | ({"lots": lots[r[0]]} if r[0] in lots else {})
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


# --- stock counts (盘点) -----------------------------------------------------------------------


async def open_count(
    ledger: Ledger, count_id: str, category: str | None, note: str, actor: Actor
) -> dict[str, Any]:
    """Open a count of one category (or of the whole store when `category` is None)."""

    def command(tx: Tx) -> dict[str, Any]:
        scope = {"category": category} if category is not None else {"all": True}
        known = tx.conn.execute(
            "SELECT scope, status FROM counts WHERE id = ?", (count_id,)
        ).fetchone()
        if known is not None:  # a retry of the same opening answers the count as it is
            if json.loads(known[0]) != scope:
                raise Conflict(f"count {count_id} exists with another scope", code="id_reused")
            return {"count": count_id, "scope": scope, "status": known[1]}
        if (
            category is not None
            and not tx.conn.execute("SELECT 1 FROM categories WHERE id = ?", (category,)).fetchone()
        ):
            raise NotFound(f"no category {category}", code="unknown_category")
        products = [
            r[0]
            for r in tx.conn.execute(
                "SELECT id FROM products WHERE active = 1 AND (? IS NULL OR category = ?)"
                " ORDER BY id",
                (category, category),
            )
        ]
        data = {"count": count_id, "scope": scope, "products": products, "note": note}
        tx.append("stock.count_opened", data, staff=actor.staff, till=actor.till)
        return data | {"status": "open"}

    return await ledger.submit(command)


def _open_count(conn: sqlite3.Connection, count_id: str) -> list[str]:
    """Return the products of an open count, or refuse (writer side)."""
    row = conn.execute("SELECT status, products FROM counts WHERE id = ?", (count_id,)).fetchone()
    if row is None:
        raise NotFound(f"no count {count_id}", code="unknown_count")
    if row[0] != "open":
        raise Conflict(f"count {count_id} is {row[0]}", code="count_closed")
    return list(json.loads(row[1]))


async def count_items(
    ledger: Ledger,
    count_id: str,
    items: Sequence[Mapping[str, Any]],
    mode: str,
    actor: Actor,
) -> dict[str, Any]:
    """Record counted quantities (`mode` add: another shelf; set: a recount).

    The first entry of a product records its book quantity at that moment, so sales before it
    are in the book and sales after it leave what was counted right: the variance is what was
    counted against the book when counting began for that product.
    """
    if mode not in ("add", "set"):
        raise InvalidInput("mode is add or set", code="bad_mode")
    checked = []
    for index, item in enumerate(items):
        quantity = item["quantity"]
        if type(quantity) is not int or not 0 <= quantity <= MAX_QUANTITY:
            raise InvalidInput(f"items[{index}].quantity must be 0 or more", code="bad_quantity")
        checked.append({"product": item["product"], "quantity": quantity})
    if not checked:
        raise InvalidInput("name at least one item", code="bad_item")

    def command(tx: Tx) -> dict[str, Any]:
        scope = set(_open_count(tx.conn, count_id))
        outside = sorted({i["product"] for i in checked} - scope)
        if outside:
            raise Conflict(f"not in this count: {', '.join(outside)}", code="not_in_count")
        entries: list[dict[str, Any]] = []
        for item in checked:
            seen = tx.conn.execute(
                "SELECT 1 FROM count_lines WHERE count_id = ? AND product = ?",
                (count_id, item["product"]),
            ).fetchone()
            entry = dict(item)
            if seen is None and not any(e["product"] == item["product"] for e in entries):
                row = tx.conn.execute(
                    "SELECT on_hand FROM stock WHERE product_id = ?", (item["product"],)
                ).fetchone()
                entry["book"] = int(row[0]) if row else 0
            entries.append(entry)
        data = {"count": count_id, "mode": mode, "items": entries}
        tx.append("stock.counted", data, staff=actor.staff, till=actor.till)
        return data

    return await ledger.submit(command)


def _variances(
    conn: sqlite3.Connection, count_id: str, products: Sequence[str], uncounted_zero: bool
) -> list[dict[str, Any]]:
    """Return counted, book and variance of each product (uncounted: zero or left out)."""
    lines = {
        r[0]: (int(r[1]), int(r[2]))
        for r in conn.execute(
            "SELECT product, counted, book FROM count_lines WHERE count_id = ?", (count_id,)
        )
    }
    result = []
    for product in products:
        if product in lines:
            counted, book = lines[product]
        elif uncounted_zero:
            row = conn.execute(
                "SELECT on_hand FROM stock WHERE product_id = ?", (product,)
            ).fetchone()
            counted, book = 0, int(row[0]) if row else 0
        else:
            continue
        result.append(
            {"product": product, "book": book, "counted": counted, "variance": counted - book}
        )
    return result


async def post_count(
    ledger: Ledger, count_id: str, actor: Actor, *, uncounted_zero: bool = False
) -> dict[str, Any]:
    """Post a count: one `stock.moved` (reason "count") with every non-zero variance."""

    def command(tx: Tx) -> dict[str, Any]:
        products = _open_count(tx.conn, count_id)
        variances = _variances(tx.conn, count_id, products, uncounted_zero)
        items = [
            {"product": v["product"], "quantity": v["variance"]} for v in variances if v["variance"]
        ]
        if items:
            tx.append(
                "stock.moved",
                {"reason": "count", "count": count_id, "items": items},
                staff=actor.staff,
                till=actor.till,
            )
        data = {"count": count_id, "variances": variances, "uncounted_zero": uncounted_zero}
        tx.append("stock.count_posted", data, staff=actor.staff, till=actor.till)
        return data

    return await ledger.submit(command)


async def cancel_count(ledger: Ledger, count_id: str, actor: Actor) -> None:
    """Cancel an open count: nothing is posted."""

    def command(tx: Tx) -> None:
        _open_count(tx.conn, count_id)
        tx.append("stock.count_cancelled", {"count": count_id}, staff=actor.staff, till=actor.till)

    await ledger.submit(command)


COUNT_STATUSES = ("open", "posted", "cancelled")


async def list_counts(
    ledger: Ledger, status: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Return the latest counts (of one status, or all), newest first, with who opened them."""
    if status is not None and status not in COUNT_STATUSES:
        raise InvalidInput(f"status is one of {', '.join(COUNT_STATUSES)}", code="bad_status")
    rows = await ledger.reader.fetch_all(
        "SELECT c.id, c.scope, c.status, json_array_length(c.products), j.ts, j.staff,"
        " json_extract(j.data, '$.note'),"
        " (SELECT count(*) FROM count_lines l WHERE l.count_id = c.id)"
        " FROM counts c JOIN journal j ON j.seq = c.opened_seq"
        " WHERE (? IS NULL OR c.status = ?) ORDER BY c.opened_seq DESC LIMIT ?",
        (status, status, limit),
    )
    return [
        {"count": cid, "scope": json.loads(scope), "status": state, "products": products,
         "counted": counted, "opened_at": ts, "opened_by": staff, "note": note or ""}
        for cid, scope, state, products, ts, staff, note, counted in rows
    ]  # fmt: skip


async def count_state(ledger: Ledger, count_id: str) -> dict[str, Any]:
    """Return a count: its status and, per counted product, counted, book and variance."""
    row = await ledger.reader.fetch_one(
        "SELECT scope, products, status FROM counts WHERE id = ?", (count_id,)
    )
    if row is None:
        raise NotFound(f"no count {count_id}", code="unknown_count")
    lines = await ledger.reader.fetch_all(
        "SELECT l.product, l.counted, l.book, coalesce(s.on_hand, 0) FROM count_lines l"
        " LEFT JOIN stock s ON s.product_id = l.product WHERE l.count_id = ? ORDER BY l.product",
        (count_id,),
    )
    products = json.loads(row[1])
    return {
        "count": count_id,
        "scope": json.loads(row[0]),
        "status": row[2],
        "products": len(products),
        "counted": len(lines),
        "lines": [
            {"product": p, "counted": c, "book": b, "variance": c - b, "on_hand_now": now}
            for p, c, b, now in lines
        ],
        "not_counted": sorted(set(products) - {line[0] for line in lines}),
    }


# --- replenishment and alerts ------------------------------------------------------------


def suggest_order(
    on_hand: int, sold: int, window_days: int, cover_days: int, pack_size: int
) -> tuple[int, int]:
    """Return (target stock, suggested order) from sales over a window, in whole packs.

    target = sold / window_days × cover_days, rounded up; the order brings stock on hand up to
    the target and is rounded up to whole packs (nothing when stock already covers it).
    """
    target = -(-sold * cover_days // window_days) if sold > 0 else 0
    need = target - on_hand
    if need <= 0:
        return target, 0
    packs = -(-need // pack_size)
    return target, packs * pack_size


async def replenishment(
    ledger: Ledger,
    *,
    now: datetime,
    window_days: int,
    lead_days: int,
    review_days: int,
    safety_days: int,
) -> list[dict[str, Any]]:
    """Suggest what to order per product from its sales velocity, lead time and safety stock."""
    if not 1 <= window_days <= 365:
        raise InvalidInput("window_days is 1..365", code="bad_window")
    cover = lead_days + review_days + safety_days
    if not 1 <= cover <= 365 or min(lead_days, review_days, safety_days) < 0:
        raise InvalidInput("lead, review and safety days must add up to 1..365", code="bad_cover")
    since = now - timedelta(days=window_days)
    sold: dict[str, int] = {}
    async with ledger.reader.connection() as conn:
        rows = await conn.execute_fetchall(
            "SELECT ts, data FROM journal WHERE type = 'stock.moved'"
            " AND json_extract(data, '$.reason') IN ('sale', 'return') ORDER BY seq DESC"
        )
        for ts, data in rows:
            if datetime.fromisoformat(ts) < since:
                break  # seq order is time order
            for item in json.loads(data)["items"]:
                sold[item["product"]] = sold.get(item["product"], 0) - item["quantity"]
        products = await conn.execute_fetchall(
            "SELECT p.id, p.name_zh, p.name_en, p.pack_size, coalesce(s.on_hand, 0)"
            " FROM products p LEFT JOIN stock s ON s.product_id = p.id WHERE p.active = 1"
            " ORDER BY p.id"
        )
    suggestions = []
    for pid, name_zh, name_en, pack, on_hand in products:
        units = max(0, sold.get(pid, 0))
        target, order = suggest_order(on_hand, units, window_days, cover, pack)
        if order:
            suggestions.append(
                {"product": pid, "name_zh": name_zh, "name_en": name_en, "on_hand": on_hand,
                 "sold": units, "window_days": window_days, "cover_days": cover,
                 "target": target, "pack_size": pack, "packs": order // pack, "order": order}
            )  # fmt: skip
    return suggestions


async def stock_alerts(
    ledger: Ledger, *, today: date | None = None, warn_days: int = 3, markdown_bp: int = 3000
) -> list[dict[str, Any]]:
    """Return low and negative stock, and lots near their expiry or past it."""
    rows = await ledger.reader.fetch_all(
        "SELECT p.id, p.name_zh, p.name_en, p.reorder_point, coalesce(s.on_hand, 0)"
        " FROM products p LEFT JOIN stock s ON s.product_id = p.id WHERE p.active = 1"
        " AND (coalesce(s.on_hand, 0) < 0 OR (p.reorder_point IS NOT NULL"
        " AND coalesce(s.on_hand, 0) <= p.reorder_point)) ORDER BY p.id"
    )
    alerts = [
        {"product": r[0], "name_zh": r[1], "name_en": r[2], "reorder_point": r[3],
         "on_hand": r[4], "alert": "negative" if r[4] < 0 else "low"}
        for r in rows
    ]  # fmt: skip
    if today is None:
        return alerts
    horizon = (today + timedelta(days=warn_days)).isoformat()
    lots = await ledger.reader.fetch_all(
        "SELECT l.product_id, p.name_zh, p.name_en, l.lot, l.expires, l.on_hand, p.list_price"
        " FROM stock_lots l JOIN products p ON p.id = l.product_id"
        " WHERE l.on_hand > 0 AND l.expires IS NOT NULL AND l.expires <= ?"
        " ORDER BY l.expires, l.product_id",
        (horizon,),
    )
    for pid, name_zh, name_en, lot, expires, on_hand, price in lots:
        expired = expires < today.isoformat()
        alert = {"product": pid, "name_zh": name_zh, "name_en": name_en, "lot": lot,
                 "expires": expires, "on_hand": on_hand,
                 "alert": "expired" if expired else "near_expiry"}  # fmt: skip
        if not expired:
            alert["markdown_bp"] = markdown_bp
            alert["suggested_price"] = price * (10_000 - markdown_bp) // 10_000
        alerts.append(alert)
    return alerts


# --- purchase orders ---------------------------------------------------------------------

PO_OPEN = ("open", "partially_received")


def _open_po(conn: sqlite3.Connection, po_id: str) -> None:
    """Refuse a delivery against an unknown or closed purchase order (writer side)."""
    row = conn.execute("SELECT status FROM purchase_orders WHERE id = ?", (po_id,)).fetchone()
    if row is None:
        raise NotFound(f"no purchase order {po_id}", code="unknown_purchase_order")
    if row[0] not in PO_OPEN:
        raise Conflict(f"purchase order {po_id} is {row[0]}", code="purchase_order_closed")


_PO_SQL = "SELECT supplier, status, expected FROM purchase_orders WHERE id = ?"
_PO_LINES_SQL = "SELECT product, ordered, received FROM po_lines WHERE po_id = ? ORDER BY product"


def _lines_of(rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Describe each line: ordered, received, still to come, delivered beyond the order."""
    return [
        {"product": p, "ordered": o, "received": r, "outstanding": max(0, o - r),
         "over": max(0, r - o)}
        for p, o, r in rows
    ]  # fmt: skip


def _describe(
    po_id: str, head: Sequence[Any] | None, lines: Sequence[Sequence[Any]]
) -> dict[str, Any]:
    """Describe a purchase order from its row and its lines' rows."""
    if head is None:
        raise NotFound(f"no purchase order {po_id}", code="unknown_purchase_order")
    return {"purchase_order": po_id, "supplier": head[0], "status": head[1],
            "expected": head[2], "lines": _lines_of(lines)}  # fmt: skip


def _po_lines(conn: sqlite3.Connection, po_id: str) -> list[dict[str, Any]]:
    """Return a purchase order's lines (writer side)."""
    return _lines_of(conn.execute(_PO_LINES_SQL, (po_id,)).fetchall())


async def create_purchase_order(
    ledger: Ledger, po_id: str, fields: Mapping[str, Any], actor: Actor
) -> dict[str, Any]:
    """Record what was ordered from a supplier (once per id)."""
    lines = _items(fields["lines"], signed=False)
    data = {
        "purchase_order": po_id,
        "supplier": fields["supplier"],
        "expected": fields.get("expected"),
        "lines": [{"product": i["product"], "quantity": i["quantity"]} for i in lines],
    }

    def command(tx: Tx) -> dict[str, Any]:
        if tx.conn.execute("SELECT 1 FROM purchase_orders WHERE id = ?", (po_id,)).fetchone():
            return _po_state(tx.conn, po_id)
        _known_products(tx.conn, lines)
        tx.append("purchase_order.created", data, staff=actor.staff, till=actor.till)
        return _po_state(tx.conn, po_id)

    return await ledger.submit(command)


def _po_state(conn: sqlite3.Connection, po_id: str) -> dict[str, Any]:
    """Describe a purchase order (writer side)."""
    return _describe(
        po_id,
        conn.execute(_PO_SQL, (po_id,)).fetchone(),
        conn.execute(_PO_LINES_SQL, (po_id,)).fetchall(),
    )


async def purchase_order(ledger: Ledger, po_id: str) -> dict[str, Any]:
    """Return a purchase order with its delivery state."""
    head = ledger.reader.quick(_PO_SQL, (po_id,))
    return _describe(po_id, head[0] if head else None, ledger.reader.quick(_PO_LINES_SQL, (po_id,)))


async def close_purchase_order(ledger: Ledger, po_id: str, actor: Actor) -> dict[str, Any]:
    """Close an order: what did not come is recorded as short and no longer expected."""

    def command(tx: Tx) -> dict[str, Any]:
        _open_po(tx.conn, po_id)
        short = [
            {"product": line["product"], "quantity": line["outstanding"]}
            for line in _po_lines(tx.conn, po_id)
            if line["outstanding"]
        ]
        tx.append(
            "purchase_order.closed",
            {"purchase_order": po_id, "short": short},
            staff=actor.staff,
            till=actor.till,
        )
        return _po_state(tx.conn, po_id) | {"short": short}

    return await ledger.submit(command)


# --- transfers between stores (调拨) ---------------------------------------------------------


RowReader = Callable[[str, Sequence[Any]], list[Any]]  # (sql, params) -> rows, either side


def _transfer(read: RowReader, transfer_id: str) -> dict[str, Any]:
    """Describe a transfer (inside the writer's transaction or from the reader)."""
    rows = read(
        "SELECT direction, other_store, status, lines, received FROM transfers WHERE id = ?",
        (transfer_id,),
    )
    if not rows:
        raise NotFound(f"no transfer {transfer_id}", code="unknown_transfer")
    direction, other, status, lines, received = rows[0]
    sent = json.loads(lines)
    result: dict[str, Any] = {
        "transfer": transfer_id,
        "direction": direction,
        "other_store": other,
        "status": status,
        "lines": sent,
    }
    if received is not None:
        got = {line["product"]: line["quantity"] for line in json.loads(received)}
        expected = {line["product"]: line["quantity"] for line in sent}
        result["received"] = json.loads(received)
        result["discrepancies"] = [
            {"product": p, "sent": expected.get(p, 0), "received": got.get(p, 0),
             "difference": got.get(p, 0) - expected.get(p, 0)}
            for p in sorted(set(got) | set(expected))
            if got.get(p, 0) != expected.get(p, 0)
        ]  # fmt: skip
    return result


def _tx_rows(conn: sqlite3.Connection) -> RowReader:
    """Read rows inside the writer's transaction."""
    return lambda sql, params: conn.execute(sql, params).fetchall()


async def send_transfer(
    ledger: Ledger, transfer_id: str, to_store: str, fields: Mapping[str, Any], actor: Actor
) -> dict[str, Any]:
    """Send goods to another store: they leave stock now and travel until it confirms them."""
    lines = _items(fields["lines"], signed=False)

    def command(tx: Tx) -> dict[str, Any]:
        if tx.conn.execute("SELECT 1 FROM transfers WHERE id = ?", (transfer_id,)).fetchone():
            return _transfer(_tx_rows(tx.conn), transfer_id)
        _known_products(tx.conn, lines)
        store = tx.conn.execute("SELECT id FROM store").fetchone()
        data = {"transfer": transfer_id, "from_store": store[0] if store else None,
                "to_store": to_store, "lines": lines, "note": fields.get("note", "")}  # fmt: skip
        tx.append("transfer.sent", data, staff=actor.staff, till=actor.till)
        items = [{"product": i["product"], "quantity": -i["quantity"]} for i in lines]
        tx.append(
            "stock.moved",
            {"reason": "transfer_out", "transfer": transfer_id, "items": items},
            staff=actor.staff,
            till=actor.till,
        )
        return _transfer(_tx_rows(tx.conn), transfer_id)

    return await ledger.submit(command)


async def announce_transfer(
    ledger: Ledger, transfer_id: str, from_store: str, fields: Mapping[str, Any], actor: Actor
) -> dict[str, Any]:
    """Record a transfer another store sent here (as HQ relays it): goods in transit."""
    lines = _items(fields["lines"], signed=False)
    return await ledger.submit(
        lambda tx: announce_transfer_in_tx(tx, transfer_id, from_store, lines, actor)
    )


def announce_transfer_in_tx(
    tx: Tx, transfer_id: str, from_store: str, lines: list[dict[str, Any]], actor: Actor
) -> dict[str, Any]:
    """Append transfer.announced once per transfer (checked `lines`, products known here)."""
    if tx.conn.execute("SELECT 1 FROM transfers WHERE id = ?", (transfer_id,)).fetchone():
        return _transfer(_tx_rows(tx.conn), transfer_id)
    _known_products(tx.conn, lines)
    data = {"transfer": transfer_id, "from_store": from_store, "lines": lines}
    tx.append("transfer.announced", data, staff=actor.staff, till=actor.till)
    return _transfer(_tx_rows(tx.conn), transfer_id)


def confirm_transfer_in_tx(
    tx: Tx, transfer_id: str, to_store: str, lines: list[dict[str, Any]], actor: Actor
) -> dict[str, Any]:
    """Record what the destination confirmed of a transfer sent from here (as HQ relays it).

    Once per transfer: a repeat is answered with the transfer as it stands.
    """
    row = tx.conn.execute(
        "SELECT direction, other_store, status FROM transfers WHERE id = ?", (transfer_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no transfer {transfer_id} was sent from here", code="unknown_transfer")
    if row[0] != "out" or row[1] != to_store:
        raise Conflict(
            f"transfer {transfer_id} was not sent from here to {to_store}", code="not_outgoing"
        )
    if row[2] == "in_transit":
        tx.append(
            "transfer.confirmed",
            {"transfer": transfer_id, "to_store": to_store, "lines": lines},
            staff=actor.staff,
            till=actor.till,
        )
    return _transfer(_tx_rows(tx.conn), transfer_id)


async def receive_transfer(
    ledger: Ledger, transfer_id: str, received: Sequence[Mapping[str, Any]], actor: Actor
) -> dict[str, Any]:
    """Confirm an incoming transfer with what arrived; differences are recorded, not hidden."""
    counted = [] if not received else _items(received, signed=False)

    def command(tx: Tx) -> dict[str, Any]:
        row = tx.conn.execute(
            "SELECT direction, status FROM transfers WHERE id = ?", (transfer_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no transfer {transfer_id}", code="unknown_transfer")
        if row[0] != "in":
            raise Conflict("only an incoming transfer is received here", code="not_incoming")
        if row[1] != "in_transit":
            raise Conflict(f"transfer {transfer_id} is {row[1]}", code="transfer_closed")
        if counted:
            _known_products(tx.conn, counted)
            tx.append(
                "stock.moved",
                {"reason": "transfer_in", "transfer": transfer_id, "items": counted},
                staff=actor.staff,
                till=actor.till,
            )
        tx.append(
            "transfer.received",
            {"transfer": transfer_id, "lines": counted},
            staff=actor.staff,
            till=actor.till,
        )
        return _transfer(_tx_rows(tx.conn), transfer_id)

    return await ledger.submit(command)


async def transfer_state(ledger: Ledger, transfer_id: str) -> dict[str, Any]:
    """Return a transfer."""
    return _transfer(ledger.reader.quick, transfer_id)
