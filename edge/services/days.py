"""The store's day: business hours, till sessions with their cash, X reports and the Z close.

A till sells only inside an open till session (opened with a float by whoever takes the
drawer) of an open business day. Opening the first till session after a Z opens the next
business day. Closing a till session is a blind count: the cashier enters the cash counted and
only then sees what was expected and the over/short. The Z report closes the day once all tills
are closed: numbered without gaps, totals per tax rate and tender, the running grand total and
the hash of the last event of the day, all recomputed from the journal.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from edge.domain.days import REPORT_EVENTS, Hours, totals_of
from edge.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.ledger.schema import connect
from edge.services.catalog import Actor

MAX_CASH = 100_000_000  # minor units: one movement, float or count


class OutsideHours(DomainError):
    """Raise when the store is closed and no manager override is running."""

    code = "outside_business_hours"
    status = 423


def session_in_tx(conn: sqlite3.Connection, till: str | None) -> tuple[str, int]:
    """Return (session id, business day) of the till's open session, or refuse (writer side)."""
    if till is None:
        raise Conflict("sales, returns and cash need a till", code="no_till")
    row = conn.execute(
        "SELECT id, day_no FROM till_sessions WHERE till = ? AND closed_seq IS NULL", (till,)
    ).fetchone()
    if row is None:
        raise Conflict(f"till {till} is not open: open it with a float first", code="till_closed")
    return str(row[0]), int(row[1])


def _events(
    conn: sqlite3.Connection, after_seq: int, till: str | None = None
) -> list[tuple[str, dict[str, Any], str | None]]:
    """Read the report events after `after_seq` (of one till, or all)."""
    marks = ",".join("?" * len(REPORT_EVENTS))
    sql = f"SELECT type, data, till FROM journal WHERE type IN ({marks}) AND seq > ?"
    params: list[Any] = [*REPORT_EVENTS, after_seq]
    if till is not None:
        sql += " AND till = ?"
        params.append(till)
    rows = conn.execute(sql + " ORDER BY seq", params).fetchall()
    return [(row[0], json.loads(row[1]), row[2]) for row in rows]


def _amount(value: int, what: str, *, positive: bool = True) -> int:
    """Check a cash amount."""
    if type(value) is not int or not (1 if positive else 0) <= value <= MAX_CASH:
        raise InvalidInput(f"{what} must be 0..{MAX_CASH} minor units", code="bad_amount")
    return value


class Days:
    """Business days, till sessions, cash and reports of one store."""

    def __init__(
        self, ledger: Ledger, hours: Hours, tz: tzinfo, clock: Callable[[], datetime]
    ) -> None:
        """Keep the ledger, the trading hours, the store's zone and the clock."""
        self.ledger = ledger
        self.hours = hours
        self.tz = tz
        self.clock = clock

    # --- hours ---------------------------------------------------------------------------

    def check_hours(self) -> None:
        """Refuse trading outside business hours unless a manager override runs now."""
        now = self.clock()
        if self.hours.open_at(now.astimezone(self.tz)):
            return
        rows = self.ledger.reader.quick("SELECT max(until) FROM hours_overrides")
        if rows and rows[0][0] and datetime.fromisoformat(rows[0][0]) > now:
            return
        raise OutsideHours("the store is closed now; a manager can override the business hours")

    async def override_hours(self, minutes: int, reason: str, actor: Actor) -> str:
        """Open the tills outside business hours for `minutes` (recorded with the reason)."""
        if not 1 <= minutes <= 24 * 60:
            raise InvalidInput("an override lasts 1 to 1440 minutes", code="bad_override")
        if not reason.strip():
            raise InvalidInput("say why the store trades outside its hours", code="bad_override")
        until = (self.clock() + timedelta(minutes=minutes)).isoformat(timespec="milliseconds")

        def command(tx: Tx) -> None:
            tx.append(
                "hours.overridden",
                {"until": until, "minutes": minutes, "reason": reason},
                staff=actor.staff,
                till=actor.till,
            )

        await self.ledger.submit(command)
        return until

    # --- till sessions -------------------------------------------------------------------

    def _open_day(self, tx: Tx) -> int:
        """Return the open business day, opening the next one if none is (writer side)."""
        row = tx.conn.execute(
            "SELECT day_no FROM business_days WHERE closed_seq IS NULL"
        ).fetchone()
        if row is not None:
            return int(row[0])
        last = tx.conn.execute(
            "SELECT day_no, date FROM business_days ORDER BY day_no DESC LIMIT 1"
        ).fetchone()
        today = tx.now().astimezone(self.tz).date()
        if last is not None and date.fromisoformat(last[1]) >= today:
            today = date.fromisoformat(last[1]) + timedelta(days=1)  # trading after the Z
        day = (int(last[0]) if last else 0) + 1
        tx.append("day.opened", {"day": day, "date": today.isoformat()})
        return day

    async def open_till(self, actor: Actor, float_: int) -> dict[str, Any]:
        """Open a till session with a float (and the business day, if it is not open)."""
        _amount(float_, "the float", positive=False)
        if actor.till is None:
            raise Conflict("only a till can be opened", code="no_till")
        self.check_hours()
        session = str(uuid.uuid4())

        def command(tx: Tx) -> dict[str, Any]:
            open_ = tx.conn.execute(
                "SELECT id FROM till_sessions WHERE till = ? AND closed_seq IS NULL", (actor.till,)
            ).fetchone()
            if open_ is not None:
                raise Conflict(f"till {actor.till} is already open", code="till_open")
            day = self._open_day(tx)
            tx.append(
                "till.opened",
                {"session": session, "day": day, "float": float_},
                till=actor.till,
                staff=actor.staff,
            )
            return {"session": session, "till": actor.till, "day": day, "float": float_}

        return await self.ledger.submit(command)

    async def move_cash(
        self, actor: Actor, direction: str, amount: int, reason: str
    ) -> dict[str, Any]:
        """Put cash into the drawer or take it out (a pickup to the safe), with a reason."""
        if direction not in ("in", "out"):
            raise InvalidInput("direction is in or out", code="bad_direction")
        _amount(amount, "the amount")
        if not reason.strip():
            raise InvalidInput("a cash movement needs a reason", code="bad_reason")

        def command(tx: Tx) -> dict[str, Any]:
            session, day = session_in_tx(tx.conn, actor.till)
            data = {"session": session, "direction": direction, "amount": amount, "reason": reason}
            event = tx.append("cash.moved", data, till=actor.till, staff=actor.staff)
            return data | {"day": day, "seq": event.seq}

        return await self.ledger.submit(command)

    async def open_drawer(self, actor: Actor, reason: str) -> dict[str, Any]:
        """Record that the drawer was opened without a sale."""
        if not reason.strip():
            raise InvalidInput(
                "opening the drawer without a sale needs a reason", code="bad_reason"
            )

        def command(tx: Tx) -> dict[str, Any]:
            session, _ = session_in_tx(tx.conn, actor.till)
            data = {"session": session, "reason": reason}
            event = tx.append("drawer.opened", data, till=actor.till, staff=actor.staff)
            return data | {"seq": event.seq}

        return await self.ledger.submit(command)

    async def close_till(self, actor: Actor, counted: int) -> dict[str, Any]:
        """Close the till session with the cash counted (blind); return its report."""
        _amount(counted, "the cash counted", positive=False)

        def command(tx: Tx) -> dict[str, Any]:
            session, day = session_in_tx(tx.conn, actor.till)
            opened = tx.conn.execute(
                "SELECT opened_seq FROM till_sessions WHERE id = ?", (session,)
            ).fetchone()[0]
            totals = totals_of(_events(tx.conn, opened - 1, actor.till))
            drawer = totals.drawer(actor.till)
            drawer.counted = counted
            data = {
                "session": session,
                "day": day,
                "counted": counted,
                "expected": drawer.expected,
                "over_short": counted - drawer.expected,
                "report": totals.to_data(),
            }
            tx.append("till.closed", data, till=actor.till, staff=actor.staff)
            return data

        return await self.ledger.submit(command, offload=True)

    # --- reports -------------------------------------------------------------------------

    async def x_report(self, till: str | None = None) -> dict[str, Any]:
        """Return the open day's figures so far (of one till's open session, or of all)."""
        return await asyncio.to_thread(self._x_report, till)

    def _x_report(self, till: str | None) -> dict[str, Any]:
        """Sum the open day's report events on a read-only connection (a worker thread)."""
        conn = connect(self.ledger.path, read_only=True)
        try:
            row = conn.execute(
                "SELECT day_no, date, opened_seq FROM business_days WHERE closed_seq IS NULL"
            ).fetchone()
            if row is None:
                raise NotFound("no business day is open", code="no_open_day")
            day, day_date, after = row
            if till is not None:
                found = conn.execute(
                    "SELECT opened_seq FROM till_sessions WHERE till = ? AND closed_seq IS NULL",
                    (till,),
                ).fetchone()
                if found is None:
                    raise NotFound(f"till {till} is not open", code="till_closed")
                after = found[0] - 1
            totals = totals_of(_events(conn, after, till))
        finally:
            conn.close()
        return {"kind": "X", "day": day, "date": day_date, "till": till} | totals.to_data()

    async def z_report(self, actor: Actor) -> dict[str, Any]:
        """Close the business day: every till must be closed; once per day."""

        def command(tx: Tx) -> dict[str, Any]:
            row = tx.conn.execute(
                "SELECT day_no, date, opened_seq FROM business_days WHERE closed_seq IS NULL"
            ).fetchone()
            if row is None:
                raise Conflict("no business day is open: it was closed already", code="day_closed")
            day, day_date, opened = int(row[0]), str(row[1]), int(row[2])
            still = [
                r[0]
                for r in tx.conn.execute(
                    "SELECT till FROM till_sessions WHERE closed_seq IS NULL ORDER BY till"
                )
            ]
            if still:
                raise Conflict(
                    f"close every till first (open: {', '.join(still)})", code="tills_open"
                )
            totals = totals_of(_events(tx.conn, opened))
            last = tx.conn.execute(
                "SELECT max(z_no), (SELECT grand_total FROM business_days"
                " WHERE z_no = (SELECT max(z_no) FROM business_days)) FROM business_days"
            ).fetchone()
            report = totals.to_data()
            previous = int(last[1] or 0)
            data = {
                "day": day,
                "date": day_date,
                "z_no": int(last[0] or 0) + 1,
                "report": report,
                "previous_grand_total": previous,
                "grand_total": previous + report["net_sales"],
                "head_seq": tx.head_seq,
                "head_hash": tx.head_hash,
            }
            tx.append("day.closed", data, staff=actor.staff, till=actor.till)
            return data

        return await self.ledger.submit(command, offload=True)

    async def z_reports(self, z_no: int | None = None) -> list[dict[str, Any]]:
        """Return recorded Z reports (one by number, or all, newest first)."""
        sql = (
            "SELECT j.data FROM business_days b JOIN journal j ON j.seq = b.closed_seq"
            " WHERE b.z_no IS NOT NULL"
        )
        params: list[Any] = []
        if z_no is not None:
            sql += " AND b.z_no = ?"
            params.append(z_no)
        rows = await self.ledger.reader.fetch_all(sql + " ORDER BY b.z_no DESC", params)
        if z_no is not None and not rows:
            raise NotFound(f"no Z report {z_no}", code="unknown_report")
        return [json.loads(row[0]) for row in rows]
