"""Back-office reports: read the journal's sales and returns for a range, then sum them.

The figures come straight from the `sale.completed` and `sale.returned` events (the same
events the Z report sums), read through the ledger's read-only connections; costs and stock on
hand come from the catalog and stock projections. The maths lives in `edge.domain.reports`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from edge.domain import reports as maths
from edge.domain.errors import NotFound
from edge.domain.reports import RETURN, SALE, SaleFact, StockItem, Table
from edge.ledger.ledger import Ledger

# event times carry their own offset (at most ±14 h): read a day more each side, then filter
_MARGIN = timedelta(days=1)
_CHUNK = 500  # SQLite host parameters per query

REPORTS = (
    "daily",
    "hourly",
    "category",
    "payment",
    "tax",
    "discounts",
    "products",
    "margin",
    "stock-value",
    "slow-movers",
)


class Reports:
    """Reports over the ledger for date ranges in the store's time zone."""

    def __init__(self, ledger: Ledger, tz: tzinfo, clock: Callable[[], datetime]) -> None:
        """Keep the ledger, the store's zone and the clock."""
        self.ledger = ledger
        self.tz = tz
        self.clock = clock

    def today(self) -> date:
        """Return the store's local date."""
        return self.clock().astimezone(self.tz).date()

    def range(self, start: str | None, end: str | None) -> tuple[date, date]:
        """Check a from/to pair (local dates; both default to today)."""
        return maths.parse_range(start, end, self.today())

    async def facts(self, first: date, last: date) -> list[SaleFact]:
        """Return the sales and returns made on local days first..last, in seq order."""
        start, end = maths.day_bounds(first, last, self.tz)
        rows = await self.ledger.reader.fetch_all(
            "SELECT seq, type, ts, till, staff, data FROM journal"
            " WHERE type IN (?, ?) AND ts >= ? AND ts < ? ORDER BY seq",
            (SALE, RETURN, (start - _MARGIN).isoformat(), (end + _MARGIN).isoformat()),
        )
        wanted = [row for row in rows if start <= datetime.fromisoformat(row[2]) < end]
        decoded = [(row, json.loads(row[5])) for row in wanted]
        originals = await self._sold_lines(
            {data["sale"] for row, data in decoded if row[1] == RETURN}
        )
        return [
            maths.fact(
                row, data, self.tz, originals.get(data["sale"]) if row[1] == RETURN else None
            )
            for row, data in decoded
        ]

    async def _sold_lines(self, sale_ids: set[str]) -> dict[str, dict[int, dict[str, Any]]]:
        """Return the lines of the given sales by index (a return's category comes from them)."""
        found: dict[str, dict[int, dict[str, Any]]] = {}
        ids = sorted(sale_ids)
        for at in range(0, len(ids), _CHUNK):
            chunk = ids[at : at + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = await self.ledger.reader.fetch_all(
                f"SELECT j.data FROM sales s JOIN journal j ON j.seq = s.seq"
                f" WHERE s.id IN ({marks})",
                chunk,
            )
            for (text,) in rows:
                data = json.loads(text)
                found[data["sale"]] = {line["index"]: line for line in data["lines"]}
        return found

    async def _costs(self) -> dict[str, tuple[int, bool]]:
        """Return each product's current cost and whether it is sold by weight."""
        rows = await self.ledger.reader.fetch_all("SELECT id, cost, sold_by_weight FROM products")
        return {row[0]: (int(row[1]), bool(row[2])) for row in rows}

    async def _stock(self) -> list[StockItem]:
        """Return the active products with their stock on hand and cost."""
        rows = await self.ledger.reader.fetch_all(
            "SELECT p.id, p.name_zh, p.name_en, p.cost, p.sold_by_weight,"
            " coalesce(s.on_hand, 0) FROM products p LEFT JOIN stock s ON s.product_id = p.id"
            " WHERE p.active ORDER BY p.id"
        )
        return [
            StockItem(row[0], row[1], row[2], int(row[3]), bool(row[4]), int(row[5]))
            for row in rows
        ]

    async def report(self, name: str, first: date, last: date, limit: int = 10) -> Table:
        """Return one named report over local days first..last."""
        if name not in REPORTS:
            raise NotFound(f"no report {name!r}", code="unknown_report")
        facts = await self.facts(first, last)
        return await self._table(name, facts, first, last, limit)

    async def _table(
        self, name: str, facts: Sequence[SaleFact], first: date, last: date, limit: int
    ) -> Table:
        """Compute a report from its facts."""
        simple: dict[str, Callable[[Sequence[SaleFact]], Table]] = {
            "hourly": maths.hourly,
            "category": maths.by_category,
            "payment": maths.by_tender,
            "tax": maths.by_tax_rate,
            "discounts": maths.by_promotion,
        }
        if name in simple:
            return simple[name](facts)
        if name == "daily":
            return maths.daily(facts, first, last)
        if name == "products":
            return maths.top_products(facts, limit)
        if name == "margin":
            return maths.gross_margin(facts, await self._costs())
        if name == "stock-value":
            return maths.stock_value(facts, await self._stock(), first, last)
        return maths.slow_movers(facts, await self._stock(), first, last, limit)

    async def dashboard(self, day: date | None = None) -> dict[str, Any]:
        """Return one day at a glance (today by default)."""
        when = day or self.today()
        return maths.dashboard(await self.facts(when, when), when)
