"""Print jobs: receipts sent to a till's printer, kept until the printer answers.

A job is recorded (`print.queued`) before it is sent as `cmd/print`; it stays pending until
the printer's `res/print` comes back (`print.done` / `print.failed`), so neither a server
crash nor a broker crash (Mosquitto loses its queue on kill -9) loses a receipt: pending jobs
are sent again when the bus reconnects or the printer comes back, and the gateway drops a job
id it has already printed. A job unanswered for `timeout` seconds is marked failed with
`timeout` and shown in the back office, where it can be reprinted.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from edge.domain.devices import Device
from edge.domain.errors import Conflict, NotFound
from edge.domain.receipt_layout import layout_sale
from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.protocol.chain import Event
from edge.services.catalog import Actor
from edge.services.checkout import Checkout

log = logging.getLogger(__name__)

# The bus sends a command to a device: (device, verb, payload) -> None, raises on failure.
CommandSender = Callable[[Device, str, dict[str, Any]], Awaitable[None]]
JOB_COLUMNS = "job, printer, kind, receipt, sale, till, copy, state, error, queued, finished"


@dataclass(frozen=True)
class ReceiptContext:
    """What a printed receipt needs besides the sale: the store and where e-receipts live."""

    store_name: str
    store_id: str
    timezone: str
    locale: str
    e_receipt_base: str


def sale_document(
    context: ReceiptContext, event: Event, *, reprint: bool, locale: str | None = None
) -> dict[str, Any]:
    """Lay out a recorded sale as a receipt document."""
    return layout_sale(
        event.data,
        store_name=context.store_name,
        store_id=context.store_id,
        ts=event.ts,
        till=event.till,
        staff=event.staff,
        timezone=context.timezone,
        locale=locale or context.locale,
        e_receipt_url=f"{context.e_receipt_base}/r/{event.data['token']}",
        reprint=reprint,
    )


def job_json(row: tuple[Any, ...]) -> dict[str, Any]:
    """Return a print_jobs row as the API shows it."""
    keys = JOB_COLUMNS.split(", ")
    return dict(zip(keys, row, strict=True))


class PrintJobs:
    """Receipts on their way to printers."""

    def __init__(
        self, ledger: Ledger, checkout: Checkout, context: ReceiptContext, timeout: float
    ) -> None:
        """Keep the ledger, the sales, the receipt context and the answer timeout."""
        self.ledger = ledger
        self.checkout = checkout
        self.context = context
        self.timeout = timeout
        self.sender: CommandSender | None = None
        # a till with a drawer device of its own opens it by command, not from the receipt
        self.drawer_bound: Callable[[str | None], bool] = lambda _till: False
        self._sent: dict[str, float] = {}  # job -> monotonic time of the last send

    async def queue_sale(
        self, sale_id: str, printer: Device, actor: Actor, *, reprint: bool = False
    ) -> dict[str, Any]:
        """Record a receipt job for a sale on a printer and send it."""
        event = await self.checkout.sale_event(sale_id=sale_id)
        job = uuid.uuid4().hex

        def command(tx: Tx) -> dict[str, Any]:
            copies = tx.conn.execute(
                "SELECT count(*) FROM print_jobs WHERE sale = ?", (event.data["sale"],)
            ).fetchone()[0]
            data = {
                "job": job,
                "printer": printer.id,
                "kind": "receipt",
                "receipt": str(event.data["receipt_no"]),
                "sale": event.data["sale"],
                "copy": copies + 1,
            }
            tx.append("print.queued", data, till=actor.till, staff=actor.staff)
            return data

        data = await self.ledger.submit(command)
        await self.send(job, printer)
        return data

    async def reprint(self, job: str, printer: Device, actor: Actor) -> dict[str, Any]:
        """Print a job's receipt again (marked as a reprint) as a new job."""
        row = await self.ledger.reader.fetch_one(
            "SELECT sale FROM print_jobs WHERE job = ?", (job,)
        )
        if row is None or row[0] is None:
            raise NotFound(f"no print job {job}", code="unknown_job")
        return await self.queue_sale(row[0], printer, actor, reprint=True)

    async def send(self, job: str, printer: Device) -> bool:
        """Send (or send again) one pending job; tell whether it went out."""
        row = await self.ledger.reader.fetch_one(
            "SELECT sale, copy, state, till FROM print_jobs WHERE job = ?", (job,)
        )
        if row is None:
            raise NotFound(f"no print job {job}", code="unknown_job")
        sale_id, copy, state, till = row
        if state != "pending":
            raise Conflict(f"job {job} is {state}", code="job_closed")
        if self.sender is None:
            return False
        event = await self.checkout.sale_event(sale_id=sale_id)
        document = sale_document(self.context, event, reprint=copy > 1)
        if copy > 1 or self.drawer_bound(till):  # a copy never opens the drawer
            document["blocks"] = [b for b in document["blocks"] if b["kind"] != "drawer"]
        self._sent[job] = time.monotonic()
        try:
            await self.sender(printer, "print", {"id": job, "document": document})
        except Exception as err:  # noqa: BLE001 - the job stays pending and is sent again
            log.warning("print job %s not sent to %s yet: %s", job, printer.id, err)
            return False
        return True

    async def pending(self, printer: str | None = None) -> list[dict[str, Any]]:
        """Return pending jobs (of one printer), oldest first."""
        rows = await self.ledger.reader.fetch_all(
            f"SELECT {JOB_COLUMNS} FROM print_jobs WHERE state = 'pending'"
            " AND (? IS NULL OR printer = ?) ORDER BY queued_seq",
            (printer, printer),
        )
        return [job_json(row) for row in rows]

    async def jobs(self, state: str | None, limit: int = 100) -> list[dict[str, Any]]:
        """Return the latest jobs, newest first (optionally in one state)."""
        rows = await self.ledger.reader.fetch_all(
            f"SELECT {JOB_COLUMNS} FROM print_jobs WHERE (? IS NULL OR state = ?)"
            " ORDER BY queued_seq DESC LIMIT ?",
            (state, state, limit),
        )
        return [job_json(row) for row in rows]

    async def resend(self, printers: dict[str, Device], printer: str | None = None) -> int:
        """Send every pending job again (after a reconnect); return how many went out."""
        sent = 0
        for job in await self.pending(printer):
            device = printers.get(job["printer"])
            if device is not None and await self.send(job["job"], device):
                sent += 1
        return sent

    async def answered(self, job: str, ok: bool, error: str, device: str) -> bool:
        """Record a printer's answer; tell whether it changed a job (duplicates do not)."""

        def command(tx: Tx) -> bool:
            row = tx.conn.execute(
                "SELECT state, printer, error FROM print_jobs WHERE job = ?", (job,)
            ).fetchone()
            if row is None or row[1] != device:
                log.warning("answer from %s for unknown print job %s dropped", device, job)
                return False
            state, _, last_error = row
            late_success = state == "failed" and last_error == "timeout" and ok
            if state != "pending" and not late_success:
                return False
            if ok:
                tx.append("print.done", {"job": job})
            else:
                tx.append("print.failed", {"job": job, "error": error})
            return True

        changed = await self.ledger.submit(command)
        self._sent.pop(job, None)
        return changed

    async def expire(self) -> int:
        """Mark jobs sent longer ago than the timeout as failed; return how many."""
        now = time.monotonic()
        late = [job for job, at in self._sent.items() if now - at > self.timeout]
        count = 0
        for job in late:
            self._sent.pop(job, None)

            def command(tx: Tx, job: str = job) -> bool:
                row = tx.conn.execute(
                    "SELECT state FROM print_jobs WHERE job = ?", (job,)
                ).fetchone()
                if row is None or row[0] != "pending":
                    return False
                tx.append("print.failed", {"job": job, "error": "timeout"})
                return True

            if await self.ledger.submit(command):
                count += 1
        return count
