"""Which products have lots, as the writer keeps it: never stale across writers, never too few.

Two ledgers opened in shared mode on one file are two writers, as the server's processes are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.ledger.projections.stock import STOCK, lot_products
from edge.services.inventory import ExpiredStock, check_not_expired
from tests.conftest import raw

TODAY = "2026-11-24"


def move(*items: dict[str, Any]) -> Callable[[Tx], int]:
    """Build a command appending one stock movement of `items`."""
    return lambda tx: tx.append("stock.moved", {"reason": "test", "items": list(items)}).seq


def sell(*items: dict[str, Any]) -> Callable[[Tx], int]:
    """Build a command that checks expiry as a sale does, then moves the stock."""

    def command(tx: Tx) -> int:
        check_not_expired(tx.conn, list(items), TODAY)
        return move(*items)(tx)

    return command


def lots(path: Path, product: str) -> list[tuple[str, int]]:
    """Return a product's lots and what each has on hand."""
    return (
        raw(path)
        .execute(
            "SELECT lot, on_hand FROM stock_lots WHERE product_id = ? ORDER BY lot", (product,)
        )
        .fetchall()
    )


@pytest.fixture
async def writers(ledger_path: Path) -> AsyncIterator[tuple[Ledger, Ledger]]:
    first, second = (  # a primary and a worker, as the server runs them
        Ledger(
            ledger_path,
            projectors=(STOCK,),
            require_initialized=False,
            shared=True,
            exclusive=exclusive,
        )
        for exclusive in (True, False)
    )
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await second.stop()
        await first.stop()


async def test_a_first_lot_made_by_another_writer_is_taken_from_at_the_next_sale(
    writers: tuple[Ledger, Ledger], ledger_path: Path
) -> None:
    one, other = writers
    await one.submit(sell({"product": "MILK", "quantity": 5}))  # `one` learns: no lots at all
    await other.submit(
        move({"product": "MILK", "quantity": 10, "lot": "L1", "expires": "2030-01-01"})
    )
    await one.submit(sell({"product": "MILK", "quantity": -3}))
    assert lots(ledger_path, "MILK") == [("L1", 7)]


async def test_an_expired_first_lot_made_by_another_writer_blocks_the_next_sale(
    writers: tuple[Ledger, Ledger], ledger_path: Path
) -> None:
    one, other = writers
    await one.submit(sell({"product": "EGGS", "quantity": -1}))  # no lots: sold short
    await other.submit(
        move({"product": "EGGS", "quantity": 6, "lot": "E1", "expires": "2026-11-01"})
    )
    with pytest.raises(ExpiredStock):
        await one.submit(sell({"product": "EGGS", "quantity": -2}))
    assert lots(ledger_path, "EGGS") == [("E1", 6)]


async def test_a_lot_rolled_back_leaves_its_product_without_lots(
    writers: tuple[Ledger, Ledger], ledger_path: Path
) -> None:
    one, _ = writers

    def made_then_refused(tx: Tx) -> None:
        move({"product": "TEA", "quantity": 4, "lot": "T1", "expires": "2030-01-01"})(tx)
        raise ValueError("refused after the lot was made")

    with pytest.raises(ValueError, match="refused"):
        await one.submit(made_then_refused)
    await one.submit(sell({"product": "TEA", "quantity": -1}))  # it may have lots: look, exactly
    assert lots(ledger_path, "TEA") == []
    stock = raw(ledger_path).execute("SELECT on_hand FROM stock WHERE product_id = 'TEA'")
    assert stock.fetchone() == (-1,)


async def test_the_writer_keeps_which_products_have_lots(
    writers: tuple[Ledger, Ledger], ledger_path: Path
) -> None:
    """The writer's connection keeps the list; another connection (no memo) gets None."""
    one, _ = writers
    await one.submit(move({"product": "COLA", "quantity": 5}))
    await one.submit(move({"product": "MILK", "quantity": 2, "lot": "L1", "expires": "2030-01-01"}))
    assert await one.submit(lambda tx: lot_products(tx.conn)) == {"MILK"}
    assert lot_products(raw(ledger_path)) is None
