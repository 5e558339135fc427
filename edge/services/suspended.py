"""Suspending a basket at a till and resuming it later (at the same or another till), once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from edge.domain.errors import Conflict, NotFound
from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.protocol.chain import dumps_canonical
from edge.services.catalog import Actor

MAX_SUSPENDED_LISTED = 200


@dataclass(frozen=True)
class SuspendedBasket:
    """A parked basket: what the till sent, as it sent it."""

    id: str
    label: str
    till: str | None
    staff: str | None
    ts: str
    basket: dict[str, Any]
    resumed: bool


async def suspend(
    ledger: Ledger, basket_id: str, label: str, basket: dict[str, Any], actor: Actor
) -> SuspendedBasket:
    """Park a basket (idempotent by id: the same basket again is the same suspension)."""
    text = dumps_canonical(basket)

    def command(tx: Tx) -> SuspendedBasket:
        row = tx.conn.execute(
            "SELECT basket, ts, till, staff, label, resumed_seq FROM suspended_baskets"
            " WHERE id = ?",
            (basket_id,),
        ).fetchone()
        if row is not None:
            if row[0] != text or row[4] != label:
                raise Conflict(
                    f"basket {basket_id} was suspended with other content", code="id_reused"
                )
            return SuspendedBasket(
                basket_id, label, row[2], row[3], row[1], basket, row[5] is not None
            )
        event = tx.append(
            "basket.suspended",
            {"basket": basket_id, "label": label, "json": text},
            till=actor.till,
            staff=actor.staff,
        )
        return SuspendedBasket(basket_id, label, actor.till, actor.staff, event.ts, basket, False)

    return await ledger.submit(command)


async def list_suspended(ledger: Ledger, till: str | None) -> list[SuspendedBasket]:
    """Return the baskets waiting to be resumed (of one till, or of the store)."""
    sql = (
        "SELECT id, label, till, staff, ts, basket FROM suspended_baskets WHERE resumed_seq IS NULL"
    )
    params: list[Any] = []
    if till:
        sql += " AND till = ?"
        params.append(till)
    rows = await ledger.reader.fetch_all(
        sql + f" ORDER BY seq LIMIT {MAX_SUSPENDED_LISTED}", params
    )
    return [SuspendedBasket(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), False) for r in rows]


async def resume(ledger: Ledger, basket_id: str, actor: Actor) -> SuspendedBasket:
    """Take a parked basket back; a second resume is refused (no basket is sold twice)."""

    def command(tx: Tx) -> SuspendedBasket:
        row = tx.conn.execute(
            "SELECT label, till, staff, ts, basket, resumed_seq FROM suspended_baskets"
            " WHERE id = ?",
            (basket_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no suspended basket {basket_id}", code="unknown_basket")
        if row[5] is not None:
            raise Conflict(f"basket {basket_id} was resumed already", code="already_resumed")
        tx.append("basket.resumed", {"basket": basket_id}, till=actor.till, staff=actor.staff)
        return SuspendedBasket(basket_id, row[0], row[1], row[2], row[3], json.loads(row[4]), True)

    return await ledger.submit(command)
