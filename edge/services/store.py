"""Creating a store's ledger and reading who the store is."""

from __future__ import annotations

from dataclasses import dataclass

from edge.ledger.journal import Tx
from edge.ledger.ledger import STORE_INITIALIZED, Ledger
from edge.settings import Settings, StoreSettings


@dataclass(frozen=True)
class StoreInfo:
    """The store as its ledger records it."""

    id: str
    name: str
    currency: str
    timezone: str
    initialized_at: str


async def initialize_store(ledger: Ledger, store: StoreSettings) -> bool:
    """Record the store's first event unless the ledger has one; return True if created."""

    def command(tx: Tx) -> bool:
        if tx.head_seq > 0:
            return False
        tx.append(
            STORE_INITIALIZED,
            {
                "store": store.id,
                "name": store.name,
                "currency": store.currency,
                "timezone": store.timezone,
            },
        )
        return True

    created = await ledger.submit(command)
    if created:
        ledger.store_id = store.id
    return created


async def store_info(ledger: Ledger) -> StoreInfo | None:
    """Return the store projection, or None before `edge init`."""
    row = await ledger.reader.fetch_one(
        "SELECT id, name, currency, timezone, initialized_at FROM store LIMIT 1"
    )
    return None if row is None else StoreInfo(*row)


async def init_store_ledger(settings: Settings) -> tuple[bool, tuple[int, str]]:
    """Create the data directory and the ledger for the configured store (idempotent).

    Return whether the store was created now, and the ledger head.
    """
    settings.ledger_path.parent.mkdir(parents=True, exist_ok=True)
    settings.paths.data_dir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(settings.ledger_path, store_id=settings.store.id, require_initialized=False)
    await ledger.start()
    try:
        created = await initialize_store(ledger, settings.store)
        return created, ledger.head
    finally:
        await ledger.stop()
