"""Returns, exchanges' refund half, and voids against an original receipt.

A return refunds part or all of a sale's lines (never more than is left of them) back to the
tenders it was paid with — card and wallet first through the payment provider, then stored
value, cash, and vouchers last — and puts the goods back in stock when asked. It is a new
ledger entry (`sale.returned`) with its own document number; the sale itself never changes.
Returns of one sale are serialised, so two tills cannot both return the last item — nor pay out
its card refund twice: when several server processes share the ledger, all returns also take
a file lock beside it (returns are rare; the card refund happens before the ledger write).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.domain.errors import Conflict, InvalidInput, NotFound
from edge.domain.points import points_reversed
from edge.domain.returns import SoldLine, refund_for_line
from edge.domain.rounding import round_to_increment
from edge.domain.tenders import ELECTRONIC, EXCHANGE, REFUND_ORDER
from edge.ledger.journal import COLUMNS, Tx, row_to_event
from edge.ledger.lock import lock_path
from edge.ledger.projections.sales import OF_SALE
from edge.protocol.chain import Event
from edge.services.catalog import Actor
from edge.services.checkout import Checkout, PreparedSale, SaleRequest, read_event
from edge.services.days import session_in_tx
from edge.services.members import account_in_tx

log = logging.getLogger(__name__)

MAX_EXCHANGE_CHAIN = 8  # exchange of an exchange of …: how far a credit is traced back


@dataclass(frozen=True)
class ReturnLine:
    """Which line of the sale comes back and how much of it (None: all that is left)."""

    index: int
    quantity: int | None = None
    grams: int | None = None
    restock: bool = True


@dataclass(frozen=True)
class ReturnRequest:
    """A return or void as a till submits it."""

    id: str
    sale_id: str | None
    receipt_no: int | None
    lines: tuple[ReturnLine, ...]  # empty with void=True: everything
    reason: str
    void: bool
    fingerprint: str
    actor: Actor
    exchange: SaleRequest | None = None  # what the shopper takes instead (an exchange)


@dataclass(frozen=True)
class ReturnRecord:
    """A recorded return: its event (and an exchange's new sale); `replayed` if seen before."""

    event: Event
    replayed: bool
    sale: Event | None = None


@contextlib.asynccontextmanager
async def _file_lock(base: Path, suffix: str) -> AsyncIterator[None]:
    """Hold an exclusive flock on `base` + `suffix` (waiting on a thread, not the loop)."""
    fd = os.open(base.with_suffix(suffix), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


class Returns:
    """Give money back against receipts, exactly once per client id."""

    def __init__(self, checkout: Checkout) -> None:
        """Share the checkout's ledger, payments and cash rules."""
        self.checkout = checkout
        self.ledger = checkout.ledger
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._across = asyncio.Lock()  # this process's turn at the cross-process lock

    async def _recorded(self, return_id: str) -> tuple[int, str] | None:
        """Return (seq, fingerprint) of a return already recorded under this id."""
        row = await self.ledger.reader.fetch_one(
            "SELECT seq, request_hash FROM returns WHERE id = ?", (return_id,)
        )
        return None if row is None else (int(row[0]), str(row[1]))

    async def return_event(self, return_id: str) -> Event:
        """Return a recorded return's (or void's) event by its id."""
        found = await self._recorded(return_id)
        if found is None:
            raise NotFound("no such return", code="unknown_return")
        rows = await self.ledger.reader.fetch_all(
            f"SELECT {COLUMNS} FROM journal WHERE seq = ?", (found[0],)
        )
        return row_to_event(rows[0])

    async def returned_lines(self, sale_id: str) -> list[dict[str, Any]]:
        """Return, per line of a recorded sale, what was sold, what came back and what is left.

        `left` is in pieces, or in grams for a weighed line: what a return may still take.
        """
        await self.checkout.sale_event(sale_id=sale_id)  # an unknown sale is a 404
        rows = await self.ledger.reader.fetch_all(
            "SELECT idx, product_id, quantity, grams, amount, returned_quantity, returned_grams,"
            " returned_amount FROM sale_lines"
            f" WHERE {OF_SALE} ORDER BY idx",
            (sale_id,),
        )
        return [
            {"index": idx, "product": product, "quantity": quantity, "grams": grams,
             "amount": amount, "returned_quantity": back_quantity, "returned_grams": back_grams,
             "returned_amount": back_amount,
             "left": quantity - back_quantity if grams is None else grams - back_grams}
            for idx, product, quantity, grams, amount, back_quantity, back_grams, back_amount
            in rows
        ]  # fmt: skip

    async def _replay(self, request: ReturnRequest, seq: int, recorded_hash: str) -> ReturnRecord:
        """Answer a retry with the recorded return, or refuse another body under the id."""
        if recorded_hash != request.fingerprint:
            raise Conflict(
                f"return {request.id} was recorded with a different body", code="id_reused"
            )
        rows = await self.ledger.reader.fetch_all(
            f"SELECT {COLUMNS} FROM journal WHERE seq = ?", (seq,)
        )
        sale = None
        if request.exchange is not None:
            sale = await self.checkout.sale_event(sale_id=request.exchange.id)
        return ReturnRecord(row_to_event(rows[0]), replayed=True, sale=sale)

    async def return_items(self, request: ReturnRequest) -> ReturnRecord:
        """Refund and record a return (or a void) of a recorded sale."""
        done = await self._recorded(request.id)
        if done is not None:
            return await self._replay(request, *done)
        sale = await self.checkout.sale_event(
            sale_id=request.sale_id, receipt_no=request.receipt_no
        )
        sale_id = str(sale.data["sale"])
        entry = self._locks.setdefault(sale_id, (asyncio.Lock(), [0]))
        entry[1][0] += 1
        try:
            async with entry[0]:
                if not self.ledger.writer.shared:
                    return await self._return_locked(request, sale)
                async with self._across, _file_lock(lock_path(self.ledger.path), ".returns"):
                    return await self._return_locked(request, sale)
        finally:
            entry[1][0] -= 1
            if not entry[1][0]:  # nobody waits: drop the lock so the map stays small
                del self._locks[sale_id]

    async def _return_locked(self, request: ReturnRequest, sale: Event) -> ReturnRecord:
        """Plan the refund from the sale's current state, pay it out, record it."""
        done = await self._recorded(request.id)
        if done is not None:
            return await self._replay(request, *done)
        sale_id = str(sale.data["sale"])
        lines = await self.ledger.reader.fetch_all(
            "SELECT idx, quantity, grams, amount, tax, returned_quantity, returned_grams,"
            " returned_amount, returned_tax FROM sale_lines"
            f" WHERE {OF_SALE} ORDER BY idx",
            (sale_id,),
        )
        tenders = await self.ledger.reader.fetch_all(
            f"SELECT idx, kind, amount, refunded FROM sale_tenders WHERE {OF_SALE} ORDER BY idx",
            (sale_id,),
        )
        sold = {row[0]: SoldLine(*row) for row in lines}
        wanted = self._wanted(request, sold)
        by_index = {line["index"]: line for line in sale.data["lines"]}
        returned: list[dict[str, Any]] = []
        for item in wanted:
            line = sold[item.index]
            amount, tax = refund_for_line(line, item.quantity, item.grams)
            grams = None if line.grams is None else item.grams or line.grams - line.returned_grams
            weighed = grams is not None
            original = by_index[item.index]
            returned.append(
                {
                    "index": item.index,
                    "product": original["product"],
                    "name_zh": original["name_zh"],
                    "name_en": original["name_en"],
                    "quantity": 0
                    if weighed
                    else (item.quantity or line.quantity - line.returned_quantity),
                    "grams": grams,
                    "amount": amount,
                    "tax": tax,
                    "tax_rate_bp": original["tax_rate_bp"],
                    "restock": item.restock and original["stock"] is not None,
                }
            )
        total = sum(line["amount"] for line in returned)
        prepared = None
        credit = 0
        if request.exchange is not None:  # the new basket is paid first by what comes back
            prepared = await self.checkout.prepare(
                request.exchange, credit=total, credit_from=request.id
            )
            credit = prepared.credit_used
        refunds: list[dict[str, Any]] = []
        try:
            refunds, rounding = await self._allocate(total - credit, tenders, sale)
            key = f"{request.id}:{request.fingerprint[:16]}"
            for refund in refunds:
                if refund["kind"] in ELECTRONIC:
                    auth = await self.checkout.payments.refund(
                        refund["reference"], refund["amount"], f"{key}:{refund['tender']}"
                    )
                    refund |= {"refund_reference": auth.reference, "auth_code": auth.auth_code}
            if credit:
                assert request.exchange is not None  # noqa: S101 - credit comes from one
                refunds.append(
                    {
                        "tender": None,
                        "kind": EXCHANGE,
                        "amount": credit,
                        "sale": request.exchange.id,
                    }
                )
            data = {
                "return": request.id,
                "sale": sale_id,
                "original_receipt_no": sale.data["receipt_no"],
                "request_hash": request.fingerprint,
                "void": request.void,
                "reason": request.reason,
                "currency": sale.data["currency"],
                "exponent": sale.data["exponent"],
                "lines": returned,
                "amount": total + rounding,
                "tax": sum(line["tax"] for line in returned),
                "rounding": rounding,
                "refunds": refunds,
                "member": sale.data["member"],
            }
            if sale.data.get("points"):  # a member's sale: take back what this share earned
                earned = sale.data["points"]["earned"]
                base = sum(line["amount"] for line in sale.data["lines"])
                before = sum(line.returned_amount for line in sold.values())
                now = before + total
                data["points"] = {
                    "reversed": points_reversed(earned, base, now)
                    - points_reversed(earned, base, before),
                    "refunded": sum(r.get("points", 0) for r in refunds if r["kind"] == "points"),
                }
            return await self.ledger.submit(lambda tx: self._record(tx, request, data, prepared))
        except BaseException:
            if prepared is not None:
                await self.checkout.release(prepared)
            paid = [r for r in refunds if r.get("refund_reference")]
            if paid:  # money went back but the return is not recorded: reconcile by hand
                log.exception(
                    "return %s not recorded after refunds %s; a retry with the same id and body"
                    " reuses them (the provider is idempotent by key), else reconcile",
                    request.id,
                    [(r["refund_reference"], r["amount"]) for r in paid],
                )
            raise

    def _wanted(self, request: ReturnRequest, sold: dict[int, SoldLine]) -> list[ReturnLine]:
        """Check the requested lines against the sale (a void takes everything left)."""
        if request.void:
            if request.lines:
                raise InvalidInput("a void takes the whole sale: send no lines", code="bad_return")
            if any(line.returned_amount for line in sold.values()):
                raise Conflict(
                    "part of this sale was returned already: return the rest instead",
                    code="already_returned",
                )
            return [ReturnLine(index) for index in sorted(sold)]
        if not request.lines:
            raise InvalidInput("name the lines to return", code="bad_return")
        seen: set[int] = set()
        for line in request.lines:
            if line.index not in sold:
                raise NotFound(f"the sale has no line {line.index}", code="unknown_line")
            if line.index in seen:
                raise InvalidInput(f"line {line.index} is named twice", code="bad_return")
            seen.add(line.index)
        return list(request.lines)

    async def _allocate(
        self, total: int, tenders: list[tuple[Any, ...]], sale: Event, depth: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """Spread a refund over the sale's tenders in refund order; return it and the rounding.

        What an exchange credit paid goes back where the credit came from: to the tenders of
        the sale whose return gave it (a card refunded to that card), never out as cash.
        """
        recorded = sale.data["tenders"]
        order = sorted(tenders, key=lambda t: (REFUND_ORDER.index(t[1]), t[0]))
        left = total
        refunds: list[dict[str, Any]] = []
        for index, kind, amount, refunded in order:
            take = min(left, amount - refunded)
            if kind == "points" and take > 0:  # whole points only
                step = max(1, self.checkout.points.redeem_value)
                take -= take % step
            if kind in ("cash", EXCHANGE) and take > 0:
                c = self.checkout
                take = min(
                    round_to_increment(take, c.cash_rounding, c.cash_rounding_mode),
                    amount - refunded,
                )
            if take <= 0:
                continue
            if kind == EXCHANGE and depth < MAX_EXCHANGE_CHAIN:
                back, _ = await self._credit_back(take, recorded[index]["return"], depth)
                if back:
                    refunds += back
                    left -= sum(r["amount"] for r in back)
                    continue
            refund: dict[str, Any] = {"tender": index, "kind": kind, "amount": take}
            if kind == "points":
                refund["points"] = take // max(1, self.checkout.points.redeem_value)
            if kind == EXCHANGE:  # the credit's sale is gone from this store's ledger
                refund["paid_as"] = "cash"
            original = recorded[index]
            for field in ("reference", "masked_pan", "member", "code"):
                if original.get(field) is not None:
                    refund[field] = original[field]
            refunds.append(refund)
            left -= take
        return refunds, -left

    async def _credit_back(
        self, amount: int, return_id: str, depth: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Refund `amount` of an exchange credit to the tenders of the sale it came from."""
        found = await self.ledger.reader.fetch_one(
            "SELECT sale_id FROM returns WHERE id = ?", (return_id,)
        )
        if found is None:
            return [], amount
        origin = await self.checkout.sale_event(sale_id=str(found[0]))
        tenders = await self.ledger.reader.fetch_all(
            f"SELECT idx, kind, amount, refunded FROM sale_tenders WHERE {OF_SALE} ORDER BY idx",
            (found[0],),
        )
        back, rounding = await self._allocate(amount, tenders, origin, depth + 1)
        for refund in back:
            refund.setdefault("from_sale", str(found[0]))
        return back, rounding

    def _record(
        self,
        tx: Tx,
        request: ReturnRequest,
        data: dict[str, Any],
        exchange: PreparedSale | None,
    ) -> ReturnRecord:
        """Append the return, stored value given back, restocked goods, an exchange's sale."""
        done = tx.conn.execute(
            "SELECT seq, request_hash FROM returns WHERE id = ?", (request.id,)
        ).fetchone()
        if done is not None:
            if done[1] != request.fingerprint:
                raise Conflict(
                    f"return {request.id} was recorded with a different body", code="id_reused"
                )
            sale = None if exchange is None else self.checkout.record(tx, exchange).event
            return ReturnRecord(read_event(tx.conn, done[0]), replayed=True, sale=sale)
        actor = request.actor
        session, day = session_in_tx(tx.conn, actor.till)
        last = tx.conn.execute("SELECT last FROM documents WHERE id = 1").fetchone()
        data = {
            "receipt_no": (last[0] if last else 0) + 1,
            "day": day,
            "till_session": session,
        } | data
        event = tx.append("sale.returned", data, till=actor.till, staff=actor.staff)
        for refund in data["refunds"]:
            if refund["kind"] == "stored_value":
                account = account_in_tx(tx.conn, refund["member"])
                balance = (account.stored_value if account else 0) + refund["amount"]
                tx.append(
                    "stored_value.refunded",
                    {
                        "member": refund["member"],
                        "return": request.id,
                        "amount": refund["amount"],
                        "balance": balance,
                    },
                    till=actor.till,
                    staff=actor.staff,
                )
        items = [
            {"product": line["product"], "quantity": line["grams"] or line["quantity"]}
            for line in data["lines"]
            if line["restock"] and (line["grams"] or line["quantity"])
        ]
        if items:
            tx.append(
                "stock.moved",
                {"reason": "return", "return": request.id, "items": items},
                till=actor.till,
                staff=actor.staff,
            )
        sale = None if exchange is None else self.checkout.record(tx, exchange).event
        return ReturnRecord(event, replayed=False, sale=sale)
