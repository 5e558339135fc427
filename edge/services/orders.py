"""Pickup orders (线上下单到店自提): ordered online or by phone, picked, collected at the store.

An order is priced on the server when it is created (its prices hold at collection) and
reserves its lines' stock until it is collected or cancelled: stock available to sell is on hand
less what open orders reserve. States: new → picking → ready → collected, or cancelled from any
open state. At collection an order paid online hands the goods over (a stock movement, no till
money); an unpaid one is sold at the till at the order's prices, then marked collected — the
sale's id derives from the order's, so a retried collection never charges twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from edge.domain.errors import Conflict, InvalidInput, NotFound
from edge.domain.pricing import PriceOverride
from edge.domain.tenders import TenderInput
from edge.ledger.journal import Tx
from edge.services.basket import BasketRequest, LineRequest
from edge.services.catalog import Actor
from edge.services.checkout import Checkout, SaleRequest, fingerprint
from edge.services.inventory import RESERVED, OutOfStock

MOVES: dict[str, tuple[str, ...]] = {  # state -> where it may go by a status change
    "new": ("picking", "ready", "cancelled"),
    "picking": ("ready", "cancelled"),
    "ready": ("cancelled",),
}


def reserved_in(tx_conn: Any, product: str) -> int:
    """Return how much of a product open orders reserve (writer or reader side)."""
    row = tx_conn.execute("SELECT " + RESERVED.format(product="?"), (product,)).fetchone()
    return int(row[0])


_ORDERS_SQL = (
    "SELECT o.status, o.total, o.paid_online, o.member, o.sale_id, o.pickup_by, j.data, o.id"
    " FROM orders o JOIN journal j ON j.seq = o.created_seq"
)
_STATE_SQL = _ORDERS_SQL + " WHERE o.id = ?"


def _from_row(order_id: str, row: Any) -> dict[str, Any]:
    """Describe an order from its `_STATE_SQL` row."""
    if row is None:
        raise NotFound(f"no order {order_id}", code="unknown_order")
    created = json.loads(row[6])
    return {
        "order": order_id,
        "status": row[0],
        "total": row[1],
        "paid_online": bool(row[2]),
        "member": row[3],
        "sale": row[4],
        "pickup_by": row[5],
        "customer": created["customer"],
        "lines": created["lines"],
    }


def _priced_parts(line: Mapping[str, Any]) -> list[tuple[int, int]]:
    """Split an order line into (quantity, unit price) parts that add up to its amount exactly.

    A discount spread over a line may not divide by its quantity: all but one unit then go at
    the rounded-down unit price and the last unit takes the rest.
    """
    quantity, amount = int(line["quantity"]), int(line["amount"])
    unit = amount // quantity
    if unit * quantity == amount or quantity == 1:
        return [(quantity, unit if quantity > 1 else amount)]
    return [(quantity - 1, unit), (1, amount - unit * (quantity - 1))]


class Orders:
    """The store's pickup orders."""

    def __init__(self, checkout: Checkout) -> None:
        """Share the checkout's ledger, pricing and payments."""
        self.checkout = checkout
        self.ledger = checkout.ledger

    async def create(
        self, order_id: str, fields: Mapping[str, Any], actor: Actor
    ) -> dict[str, Any]:
        """Price and record an order, reserving its stock (once per id)."""
        lines = fields["lines"]
        if not lines:
            raise InvalidInput("an order needs lines", code="bad_order")
        member = fields.get("member")
        basket = BasketRequest(
            lines=tuple(
                LineRequest(product=ln["product"], quantity=ln["quantity"]) for ln in lines
            ),
            member=member,
        )
        _, inputs, priced = await self.checkout.priced(basket)
        order_lines: list[dict[str, Any]] = [
            {
                "product": line.product_id,
                "name_zh": line.name_zh,
                "name_en": line.name_en,
                "quantity": given.quantity,
                "unit_price": line.amount // given.quantity,
                "amount": line.amount,
            }
            for line, given in zip(priced.lines, inputs, strict=True)
        ]
        paid_online = bool(fields.get("paid_online"))
        payment = fields.get("payment")
        if paid_online and not payment:
            raise InvalidInput("an order paid online names its payment", code="bad_order")
        data = {
            "order": order_id,
            "source": fields.get("source", "api"),
            "customer": dict(fields["customer"]),
            "member": member,
            "lines": order_lines,
            "total": priced.total,
            "paid_online": paid_online,
            "payment": payment,
            "pickup_by": fields.get("pickup_by"),
        }

        def command(tx: Tx) -> dict[str, Any]:
            known = tx.conn.execute(
                "SELECT status FROM orders WHERE id = ?", (order_id,)
            ).fetchone()
            if known is not None:
                return self._state(tx.conn, order_id)
            if not self.checkout.allow_negative:
                for line in order_lines:
                    row = tx.conn.execute(
                        "SELECT on_hand FROM stock WHERE product_id = ?", (line["product"],)
                    ).fetchone()
                    available = (int(row[0]) if row else 0) - reserved_in(tx.conn, line["product"])
                    if available < line["quantity"]:
                        raise OutOfStock(f"{line['product']}: {available} available")
            tx.append("order.created", data, staff=actor.staff, till=actor.till)
            return self._state(tx.conn, order_id)

        return await self.ledger.submit(command)

    def _state(self, conn: Any, order_id: str) -> dict[str, Any]:
        """Read an order inside the writer's transaction."""
        return _from_row(order_id, conn.execute(_STATE_SQL, (order_id,)).fetchone())

    async def get(self, order_id: str) -> dict[str, Any]:
        """Return an order."""
        return _from_row(order_id, await self.ledger.reader.fetch_one(_STATE_SQL, (order_id,)))

    async def list_open(self) -> list[dict[str, Any]]:
        """Return open orders, oldest first (the picking list)."""
        rows = await self.ledger.reader.fetch_all(
            _ORDERS_SQL + " WHERE o.status IN ('new', 'picking', 'ready') ORDER BY o.created_seq"
        )
        return [_from_row(str(row[7]), row) for row in rows]

    async def move(self, order_id: str, to: str, actor: Actor) -> dict[str, Any]:
        """Move an order along (picking, ready) or cancel it (its stock is released)."""

        def command(tx: Tx) -> dict[str, Any]:
            row = tx.conn.execute("SELECT status FROM orders WHERE id = ?", (order_id,)).fetchone()
            if row is None:
                raise NotFound(f"no order {order_id}", code="unknown_order")
            if to == row[0]:
                return self._state(tx.conn, order_id)  # a retried change
            if to not in MOVES.get(row[0], ()):
                raise Conflict(
                    f"an order that is {row[0]} cannot become {to}", code="bad_transition"
                )
            data = {"order": order_id, "from": row[0], "to": to}
            tx.append("order.status_changed", data, staff=actor.staff, till=actor.till)
            return self._state(tx.conn, order_id)

        return await self.ledger.submit(command)

    async def collect(
        self, order_id: str, tenders: Sequence[TenderInput], actor: Actor
    ) -> dict[str, Any]:
        """Hand a ready order over: paid online, or sold at the till at the order's prices."""
        order = await self.get(order_id)
        if order["status"] == "collected":
            return order
        if order["status"] != "ready":
            raise Conflict(f"the order is {order['status']}, not ready", code="not_ready")
        sale_id = None
        if not order["paid_online"]:
            if not tenders:
                raise InvalidInput("an unpaid order is paid at collection", code="tender_short")
            sale_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"order:{order_id}"))
            lines = tuple(
                LineRequest(
                    product=line["product"],
                    quantity=quantity,
                    override=PriceOverride(
                        unit_price=unit_price,
                        reason="pickup order price",
                        approved_by=f"order:{order_id}",
                    ),
                )
                for line in order["lines"]
                for quantity, unit_price in _priced_parts(line)
            )
            body = {"order": order_id, "tenders": [t.__dict__ for t in tenders]}
            request = SaleRequest(
                sale_id,
                BasketRequest(lines=lines, member=order["member"]),
                tuple(tenders),
                fingerprint(body),
                actor,
            )
            await self.checkout.complete_sale(request)
        items = [{"product": ln["product"], "quantity": -ln["quantity"]} for ln in order["lines"]]

        def command(tx: Tx) -> dict[str, Any]:
            row = tx.conn.execute("SELECT status FROM orders WHERE id = ?", (order_id,)).fetchone()
            if row[0] == "collected":
                return self._state(tx.conn, order_id)
            if row[0] != "ready":
                raise Conflict(f"the order is {row[0]}, not ready", code="not_ready")
            if sale_id is None:  # paid online: the goods leave here, no till money
                tx.append(
                    "stock.moved",
                    {"reason": "order", "order": order_id, "items": items},
                    staff=actor.staff,
                    till=actor.till,
                )
            tx.append(
                "order.collected",
                {"order": order_id, "sale": sale_id, "paid_online": sale_id is None},
                staff=actor.staff,
                till=actor.till,
            )
            return self._state(tx.conn, order_id)

        return await self.ledger.submit(command)
