"""Back-office use cases: time clock, weekly rota, staff performance, expenses, feedback."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from edge.domain.days import WEEKDAYS, staff_performance
from edge.domain.errors import Conflict, InvalidInput, NotFound
from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.services.catalog import Actor

EXPENSE_CATEGORIES = ("utility", "rent", "sundries", "wages", "repairs", "other")
FEEDBACK_KINDS = ("complaint", "suggestion", "praise")
FEEDBACK_STATUSES = ("open", "in_progress", "resolved")


def _day(text: str, what: str) -> date:
    """Read an ISO date."""
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise InvalidInput(f"{what}: {text!r} is not a date (YYYY-MM-DD)", code="bad_date") from err


def _clock_time(text: str, where: str) -> time:
    """Read HH:MM."""
    try:
        return time.fromisoformat(text)
    except ValueError as err:
        raise InvalidInput(f"{where}: {text!r} is not HH:MM", code="bad_rota") from err


class Office:
    """The store's back office."""

    def __init__(self, ledger: Ledger, tz: tzinfo, clock: Callable[[], datetime]) -> None:
        """Keep the ledger, the store's zone and the clock."""
        self.ledger = ledger
        self.tz = tz
        self.clock = clock

    # --- time clock ----------------------------------------------------------------------

    async def clock_in_out(self, actor: Actor, action: str) -> dict[str, Any]:
        """Clock the signed-in staff member in or out (not twice the same way)."""
        staff = actor.staff
        if staff is None or staff.startswith("token:"):
            raise Conflict("only a signed-in staff member clocks in or out", code="not_staff")
        if action not in ("in", "out"):
            raise InvalidInput("action is in or out", code="bad_action")

        def command(tx: Tx) -> dict[str, Any]:
            open_ = tx.conn.execute(
                "SELECT clock_in FROM shifts WHERE staff = ? AND out_seq IS NULL", (staff,)
            ).fetchone()
            if action == "in" and open_ is not None:
                raise Conflict(f"{staff} clocked in already at {open_[0]}", code="clocked_in")
            if action == "out" and open_ is None:
                raise Conflict(f"{staff} is not clocked in", code="not_clocked_in")
            event = tx.append(
                "staff.clocked", {"staff": staff, "action": action}, staff=staff, till=actor.till
            )
            return {"staff": staff, "action": action, "at": event.ts}

        return await self.ledger.submit(command)

    async def shifts(self, staff: str | None, start: str, end: str) -> list[dict[str, Any]]:
        """Return worked shifts that began between two dates (inclusive), with minutes."""
        first, last = _day(start, "from"), _day(end, "to")
        lower = datetime.combine(first, time(), self.tz).isoformat()
        upper = datetime.combine(last + timedelta(days=1), time(), self.tz).isoformat()
        rows = await self.ledger.reader.fetch_all(
            "SELECT staff, clock_in, clock_out FROM shifts WHERE (? IS NULL OR staff = ?)"
            " ORDER BY in_seq",
            (staff, staff),
        )
        now = self.clock()
        result = []
        for who, began, ended in rows:
            start_at = datetime.fromisoformat(began)
            if not lower <= start_at.astimezone(self.tz).isoformat() < upper:
                continue
            end_at = datetime.fromisoformat(ended) if ended else now
            minutes = int((end_at - start_at).total_seconds() // 60)
            result.append(
                {"staff": who, "in": began, "out": ended, "minutes": minutes, "open": not ended}
            )
        return result

    # --- rota ----------------------------------------------------------------------------

    async def save_rota(
        self, week: str, shifts: list[Mapping[str, str]], actor: Actor
    ) -> dict[str, Any]:
        """Replace the rota of the week starting on Monday `week`."""
        monday = _day(week, "week")
        if monday.weekday() != 0:
            raise InvalidInput("a rota week starts on a Monday", code="bad_rota")
        clean = []
        for index, shift in enumerate(shifts):
            where = f"shifts[{index}]"
            if shift["day"] not in WEEKDAYS:
                raise InvalidInput(f"{where}: day is one of {', '.join(WEEKDAYS)}", code="bad_rota")
            start = _clock_time(shift["start"], where)
            end = _clock_time(shift["end"], where)
            if start == end:
                raise InvalidInput(f"{where}: a shift cannot end when it starts", code="bad_rota")
            clean.append(
                {"staff": shift["staff"], "day": shift["day"], "start": shift["start"],
                 "end": shift["end"]}
            )  # fmt: skip
        staff_ids = sorted({s["staff"] for s in clean})

        def command(tx: Tx) -> dict[str, Any]:
            marks = ",".join("?" * len(staff_ids))
            known = {
                row[0]
                for row in tx.conn.execute(
                    f"SELECT id FROM staff WHERE active = 1 AND id IN ({marks})", staff_ids
                )
            }
            unknown = [s for s in staff_ids if s not in known]
            if unknown:
                raise NotFound(f"no active staff {', '.join(unknown)}", code="unknown_staff")
            data = {"week": monday.isoformat(), "shifts": clean}
            tx.append("rota.saved", data, staff=actor.staff, till=actor.till)
            return data

        return await self.ledger.submit(command)

    async def rota(self, week: str) -> dict[str, Any]:
        """Return a week's rota with each person's planned hours."""
        monday = _day(week, "week")
        rows = await self.ledger.reader.fetch_all(
            "SELECT shifts FROM rota WHERE week = ?", (monday.isoformat(),)
        )
        shifts = json.loads(rows[0][0]) if rows else []
        planned: dict[str, int] = {}
        for shift in shifts:
            start, end = time.fromisoformat(shift["start"]), time.fromisoformat(shift["end"])
            minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
            planned[shift["staff"]] = planned.get(shift["staff"], 0) + minutes % (24 * 60)
        return {"week": monday.isoformat(), "shifts": shifts, "planned_minutes": planned}

    # --- performance ---------------------------------------------------------------------

    async def performance(self, start: str, end: str) -> dict[str, Any]:
        """Sales per staff member over the business days dated `start`..`end`."""
        first, last = _day(start, "from"), _day(end, "to")
        async with self.ledger.reader.connection() as conn:
            days = list(
                await conn.execute_fetchall(
                    "SELECT opened_seq, coalesce(closed_seq, 9223372036854775807)"
                    " FROM business_days WHERE date BETWEEN ? AND ?",
                    (first.isoformat(), last.isoformat()),
                )
            )
            events: list[tuple[str, dict[str, Any], str | None]] = []
            for opened, closed in days:
                rows = await conn.execute_fetchall(
                    "SELECT type, data, staff FROM journal WHERE type IN"
                    " ('sale.completed', 'sale.returned') AND seq > ? AND seq < ? ORDER BY seq",
                    (opened, closed),
                )
                events += [(r[0], json.loads(r[1]), r[2]) for r in rows]
            returned = sorted({d["sale"] for t, d, _ in events if t == "sale.returned"})
            sellers: dict[str, str | None] = {}
            for sale_id in returned:
                found = list(
                    await conn.execute_fetchall("SELECT staff FROM sales WHERE id = ?", (sale_id,))
                )
                sellers[sale_id] = found[0][0] if found else None
            rates: dict[str, int] = {
                str(r[0]): int(r[1])
                for r in await conn.execute_fetchall("SELECT id, commission_bp FROM staff")
            }
        return {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "days": len(days),
            "staff": staff_performance(events, sellers, rates),
        }

    # --- expenses and feedback -----------------------------------------------------------

    async def record_expense(
        self, expense_id: str, fields: Mapping[str, Any], actor: Actor
    ) -> dict[str, Any]:
        """Record an expense once per client id (a retry returns the same record)."""
        if fields["category"] not in EXPENSE_CATEGORIES:
            raise InvalidInput(
                f"category is one of {', '.join(EXPENSE_CATEGORIES)}", code="bad_category"
            )
        when = _day(
            fields.get("date") or self.clock().astimezone(self.tz).date().isoformat(), "date"
        )
        data = {
            "expense": expense_id,
            "date": when.isoformat(),
            "category": fields["category"],
            "amount": fields["amount"],
            "note": fields.get("note", ""),
            "photo": fields.get("photo"),
        }

        def command(tx: Tx) -> dict[str, Any]:
            row = tx.conn.execute(
                "SELECT date, category, amount, note, photo FROM expenses WHERE id = ?",
                (expense_id,),
            ).fetchone()
            if row is not None:
                if tuple(row) != tuple(
                    data[k] for k in ("date", "category", "amount", "note", "photo")
                ):
                    raise Conflict("this expense id was used for another expense", code="id_reused")
                return data
            tx.append("expense.recorded", data, staff=actor.staff, till=actor.till)
            return data

        return await self.ledger.submit(command)

    async def expenses(self, start: str, end: str) -> dict[str, Any]:
        """Return the expenses dated `start`..`end` with totals per category."""
        first, last = _day(start, "from"), _day(end, "to")
        rows = await self.ledger.reader.fetch_all(
            "SELECT id, date, category, amount, note, photo, staff FROM expenses"
            " WHERE date BETWEEN ? AND ? ORDER BY date, seq",
            (first.isoformat(), last.isoformat()),
        )
        items = [
            dict(
                zip(("id", "date", "category", "amount", "note", "photo", "staff"), r, strict=True)
            )
            for r in rows
        ]
        totals: dict[str, int] = {}
        for item in items:
            totals[item["category"]] = totals.get(item["category"], 0) + item["amount"]
        return {"expenses": items, "totals": totals, "total": sum(totals.values())}

    async def record_feedback(
        self, feedback_id: str, fields: Mapping[str, Any], actor: Actor
    ) -> dict[str, Any]:
        """Record a shopper's complaint, suggestion or praise (once per client id)."""
        if fields["kind"] not in FEEDBACK_KINDS:
            raise InvalidInput(f"kind is one of {', '.join(FEEDBACK_KINDS)}", code="bad_kind")
        data = {
            "feedback": feedback_id,
            "kind": fields["kind"],
            "text": fields["text"],
            "contact": fields.get("contact"),
            "sale": fields.get("sale"),
            "owner": fields.get("owner"),
        }

        def command(tx: Tx) -> dict[str, Any]:
            row = tx.conn.execute(
                "SELECT kind, text FROM feedback WHERE id = ?", (feedback_id,)
            ).fetchone()
            if row is not None:
                if tuple(row) != (data["kind"], data["text"]):
                    raise Conflict("this feedback id was used already", code="id_reused")
                return data | {"status": "open"}
            tx.append("feedback.recorded", data, staff=actor.staff, till=actor.till)
            return data | {"status": "open"}

        return await self.ledger.submit(command)

    async def update_feedback(
        self, feedback_id: str, fields: Mapping[str, Any], actor: Actor
    ) -> dict[str, Any]:
        """Assign feedback to an owner, move its status, record the resolution."""
        status = fields.get("status")
        if status is not None and status not in FEEDBACK_STATUSES:
            raise InvalidInput(
                f"status is one of {', '.join(FEEDBACK_STATUSES)}", code="bad_status"
            )

        def command(tx: Tx) -> dict[str, Any]:
            row = tx.conn.execute(
                "SELECT owner, status, resolution FROM feedback WHERE id = ?", (feedback_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no feedback {feedback_id}", code="unknown_feedback")
            data = {
                "feedback": feedback_id,
                "owner": fields.get("owner", row[0]),
                "status": status or row[1],
                "resolution": fields.get("resolution", row[2]),
            }
            if data["status"] == "resolved" and not data["resolution"]:
                raise InvalidInput("say how it was resolved", code="resolution_required")
            tx.append("feedback.updated", data, staff=actor.staff, till=actor.till)
            return data

        return await self.ledger.submit(command)

    async def feedback(self, status: str | None) -> list[dict[str, Any]]:
        """Return feedback, optionally of one status, newest first."""
        rows = await self.ledger.reader.fetch_all(
            "SELECT id, kind, text, contact, sale, owner, status, resolution, created FROM feedback"
            " WHERE (? IS NULL OR status = ?) ORDER BY created DESC",
            (status, status),
        )
        keys = ("id", "kind", "text", "contact", "sale", "owner", "status", "resolution", "created")
        return [dict(zip(keys, r, strict=True)) for r in rows]
