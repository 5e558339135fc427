"""Promotion use cases: save one (a ledger event) and list them."""

from __future__ import annotations

import json

from edge.domain.promotions import Promotion
from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.protocol.chain import dumps_canonical
from edge.services.catalog import Actor, Outcome


async def save_promotion(ledger: Ledger, promotion: Promotion, actor: Actor) -> Outcome:
    """Create or update a promotion (no event when nothing changed)."""
    data = promotion.to_data()

    def command(tx: Tx) -> Outcome:
        row = tx.conn.execute(
            "SELECT data FROM promotions WHERE id = ?", (promotion.id,)
        ).fetchone()
        if row is not None and row[0] == dumps_canonical(data):
            return "unchanged"
        tx.append(
            "catalog.promotion_saved", {"promotion": data}, staff=actor.staff, till=actor.till
        )
        return "created" if row is None else "updated"

    return await ledger.submit(command)


async def list_promotions(ledger: Ledger, *, active_only: bool = False) -> list[Promotion]:
    """Return the promotions, by id."""
    where = " WHERE active = 1" if active_only else ""
    rows = await ledger.reader.fetch_all(f"SELECT data FROM promotions{where} ORDER BY id")
    return [Promotion.from_data(json.loads(row[0])) for row in rows]
