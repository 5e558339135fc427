"""Prometheus metrics: collected when scraped from what the server already keeps.

A collector per application (no global registry), so tests and worker processes never share
counters. Three kinds of metrics, by where their truth lives:

- the journal: sales, items, amounts, returns and voids, sign-ins. Counted from committed events
  (the writer's listener counts this process's commits; before each scrape the journal is read
  from the last counted seq, which adds the other processes' commits and, at start, the whole
  history). Every process of a server therefore answers the same, exact values, and they never
  go back at a restart.
- this process: sale latency, the ledger writer, readiness, the process itself (CPU, memory,
  fds). With `[http] workers > 1` they carry a `pid` label, one series per process.
- the primary process only: devices and the device bus (workers have no bus, so they know
  nothing of the devices and say nothing about them), and what other parts of the server
  register with `ServerMetrics.registry.register(...)` (e.g. the HQ link, run by the primary).
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from edge.ledger.ledger import Ledger
from edge.ledger.schema import connect
from edge.ledger.writer import COMMIT_SECONDS_BUCKETS, GROUP_SIZE_BUCKETS
from edge.protocol.chain import Event
from edge.services.device_center import DeviceCenter
from edge.services.readiness import Readiness
from edge.services.uplink import Uplink

PAPER_STATES = ("ok", "near_end", "out")
CONTENT_TYPE = CONTENT_TYPE_LATEST
# POST /api/v1/sales takes a few milliseconds; a card or QR payment waits for its provider
SALE_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
CHANNELS = ("till", "kiosk", "api")
RETURN_KINDS = ("return", "void")
SIGN_IN_METHODS = ("pin", "badge", "approval")
COUNTED_EVENTS = (
    "sale.completed",
    "sale.returned",
    "auth.signed_in",
    "auth.approved",
    "auth.sign_in_failed",
)


def channel_of(staff: str | None) -> str:
    """Return where a sale was made from its event's actor.

    A signed-in cashier at a till; nobody signed in: a self-checkout kiosk (the only principal
    that sells alone); an API token (`token:<name>`): another system, e.g. pickup orders.
    """
    if staff is None:
        return "kiosk"
    return "api" if staff.startswith("token:") else "till"


# One statement, so one snapshot: the head, then per kind of counted event the sums after `?`
# up to that head, then the lockouts among them (the failure that locks an account sets its
# `locked_until`, and every later failure of that account carries the same value until the
# next lock: distinct (staff, locked_until) pairs are distinct lockouts).
_CATCH_UP_SQL = f"""
WITH head(last) AS (SELECT coalesce(max(seq), 0) FROM journal),
counted AS (
    SELECT j.type, j.staff, j.data FROM journal j, head
    WHERE j.type IN ({", ".join(f"'{t}'" for t in COUNTED_EVENTS)})
      AND j.seq > ?1 AND j.seq <= head.last
)
SELECT 'head', NULL, NULL, last, 0, 0 FROM head
UNION ALL
SELECT type,
       CASE type
           WHEN 'sale.completed' THEN CASE
               WHEN staff IS NULL THEN 'kiosk'
               WHEN substr(staff, 1, 6) = 'token:' THEN 'api'
               ELSE 'till' END
           WHEN 'sale.returned' THEN CASE
               WHEN json_extract(data, '$.void') THEN 'void' ELSE 'return' END
           ELSE json_extract(data, '$.method') END,
       json_extract(data, '$.currency'),
       count(*),
       coalesce(sum(json_array_length(data, '$.lines')), 0),
       coalesce(sum(CASE type
           WHEN 'sale.completed' THEN json_extract(data, '$.total')
           WHEN 'sale.returned' THEN json_extract(data, '$.amount') END), 0)
FROM counted GROUP BY 1, 2, 3
UNION ALL
SELECT DISTINCT 'lockout', staff, json_extract(data, '$.locked_until'), 0, 0, 0 FROM counted
WHERE type = 'auth.sign_in_failed' AND json_extract(data, '$.locked_until') IS NOT NULL
"""


class JournalCounts:
    """Counts of committed sales, returns and sign-ins, all events up to `seq` included."""

    def __init__(self, currency: str) -> None:
        """Start from nothing counted; the store's currency has its series from the start."""
        self.seq = 0
        self.sales = dict.fromkeys(CHANNELS, 0)
        self.lines = dict.fromkeys(CHANNELS, 0)
        self.amount = {(channel, currency): 0 for channel in CHANNELS}
        self.returns = dict.fromkeys(RETURN_KINDS, 0)
        self.refunded = {(kind, currency): 0 for kind in RETURN_KINDS}
        self.sign_ins = dict.fromkeys(SIGN_IN_METHODS, 0)
        self.failures = dict.fromkeys(SIGN_IN_METHODS, 0)
        self.lockouts: set[tuple[str | None, str]] = set()
        self.ready = False  # the whole journal has been counted once
        self._reading = False
        self._lock = asyncio.Lock()

    def __call__(self, events: list[Event]) -> None:
        """Count a commit's events (the ledger's listener; runs on the loop after each COMMIT).

        Only a commit that follows what is counted: another process's commits in between, or
        commits during a read of the journal, are left for the next read.
        """
        if self._reading or not events or events[0].seq != self.seq + 1:
            return
        for event in events:
            if event.type in COUNTED_EVENTS:
                self.count(event.type, event.staff, event.data)
        self.seq = events[-1].seq

    def count(self, event_type: str, staff: str | None, data: dict[str, Any]) -> None:
        """Count one event (the same arithmetic as the journal read's SQL)."""
        if event_type == "sale.completed":
            channel = channel_of(staff)
            self.sales[channel] += 1
            self.lines[channel] += len(data.get("lines") or ())
            key = (channel, data.get("currency") or "")
            self.amount[key] = self.amount.get(key, 0) + (data.get("total") or 0)
        elif event_type == "sale.returned":
            kind = "void" if data.get("void") else "return"
            self.returns[kind] += 1
            key = (kind, data.get("currency") or "")
            self.refunded[key] = self.refunded.get(key, 0) + (data.get("amount") or 0)
        elif event_type == "auth.sign_in_failed":
            method = str(data.get("method"))
            self.failures[method] = self.failures.get(method, 0) + 1
            if data.get("locked_until") is not None:
                self.lockouts.add((staff, str(data["locked_until"])))
        else:  # signed in, approved
            method = str(data.get("method"))
            self.sign_ins[method] = self.sign_ins.get(method, 0) + 1

    async def catch_up(self, path: Path) -> None:
        """Count what the journal holds after `seq` (one read on a connection of its own)."""
        async with self._lock:
            self._reading = True
            try:
                after = self.seq
                rows = await asyncio.to_thread(_read_journal, path, after)
                self._add(rows)
                self.ready = True
            finally:
                self._reading = False

    def _add(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Add the journal read's sums; its `head` row is the seq it read up to."""
        for kind, key, extra, count, lines, amount in rows:
            if kind == "head":
                self.seq = max(self.seq, int(count))
            elif kind == "lockout":
                self.lockouts.add((key, str(extra)))
            elif kind == "sale.completed":
                self.sales[key] += count
                self.lines[key] += lines
                money = (key, extra or "")
                self.amount[money] = self.amount.get(money, 0) + amount
            elif kind == "sale.returned":
                self.returns[key] += count
                money = (key, extra or "")
                self.refunded[money] = self.refunded.get(money, 0) + amount
            elif kind == "auth.sign_in_failed":
                self.failures[str(key)] = self.failures.get(str(key), 0) + count
            else:
                self.sign_ins[str(key)] = self.sign_ins.get(str(key), 0) + count


def _read_journal(path: Path, after: int) -> list[tuple[Any, ...]]:
    """Run the journal read on a short-lived read-only connection (a worker thread)."""
    conn = connect(path, read_only=True)
    try:
        return conn.execute(_CATCH_UP_SQL, (after,)).fetchall()
    finally:
        conn.close()


class Timings:
    """A latency histogram kept by hand: one bisect and two additions per observation."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        """Start empty with these upper bounds (seconds)."""
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one: above every bound
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        """Count one duration."""
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.total += seconds


def _buckets(bounds: Sequence[float], counts: Sequence[int]) -> list[tuple[str, float]]:
    """Return cumulative (le, count) pairs, +Inf last, from per-bucket counts."""
    out, running = [], 0
    for bound, count in zip(bounds, counts, strict=False):
        running += count
        out.append((repr(float(bound)), float(running)))
    out.append(("+Inf", float(sum(counts))))
    return out


class JournalCollector(Collector):
    """The journal's counts: the same in every process of the server."""

    def __init__(self, counts: JournalCounts) -> None:
        """Keep the counts."""
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        """Yield the sales, returns and sign-in counters and the journal's head.

        Nothing until the journal has been counted once: a partial count would look like a
        burst of sales when the rest arrives; a series that appears late adds nothing.
        """
        counts = self.counts
        if not counts.ready:
            return
        yield _counter(
            "edge_sales",
            "Completed sales, by where they were made (till, kiosk, api)",
            ["channel"],
            {(k,): v for k, v in counts.sales.items()},
        )
        yield _counter(
            "edge_sale_items",
            "Lines of completed sales (one per scanned or weighed item line)",
            ["channel"],
            {(k,): v for k, v in counts.lines.items()},
        )
        yield _counter(
            "edge_sales_amount_minor",
            "Totals of completed sales, in minor units of the currency (fen, cents)",
            ["channel", "currency"],
            counts.amount,
        )
        yield _counter(
            "edge_returns",
            "Recorded returns and voids (kind=void: the whole sale taken back)",
            ["kind"],
            {(k,): v for k, v in counts.returns.items()},
        )
        yield _counter(
            "edge_returns_amount_minor",
            "Amounts refunded by returns and voids, in minor units of the currency",
            ["kind", "currency"],
            counts.refunded,
        )
        yield _counter(
            "edge_logins",
            "Accepted staff sign-ins and supervisor approvals, by method",
            ["method"],
            {(k,): v for k, v in counts.sign_ins.items()},
        )
        yield _counter(
            "edge_login_failures",
            "Refused sign-ins and approvals (wrong PIN, unknown staff, locked account)",
            ["method"],
            {(k,): v for k, v in counts.failures.items()},
        )
        yield _counter(
            "edge_login_lockouts",
            "Staff accounts locked after too many wrong PINs",
            [],
            {(): len(counts.lockouts)},
        )
        head = GaugeMetricFamily("edge_ledger_head_seq", "Sequence number of the last event")
        head.add_metric([], float(counts.seq))
        yield head


def _counter(name: str, doc: str, labels: list[str], values: dict[Any, int]) -> CounterMetricFamily:
    """Return a counter family with a sample per label tuple."""
    family = CounterMetricFamily(name, doc, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), float(value))
    return family


class LocalCollector(Collector):
    """What this process measures: sale latency, the ledger writer, readiness."""

    def __init__(
        self, metrics: ServerMetrics, ledger: Ledger, readiness: Readiness, pid: str | None
    ) -> None:
        """Keep what to read at each scrape; `pid` labels every series when set."""
        self.metrics = metrics
        self.ledger = ledger
        self.readiness = readiness
        self.names = ["pid"] if pid is not None else []
        self.values = [pid] if pid is not None else []

    def collect(self) -> Iterator[Metric]:
        """Yield the per-process metrics."""
        names, values = self.names, self.values
        sale = self.metrics.sale_seconds
        seconds = HistogramMetricFamily(
            "edge_sale_seconds",
            "Time to handle a successful POST /api/v1/sales (payment authorisation included)",
            labels=names,
        )
        seconds.add_metric(values, _buckets(sale.bounds, sale.counts), sale.total)
        yield seconds
        writer = self.ledger.writer
        stats = writer.stats
        depth = GaugeMetricFamily(
            "edge_ledger_writer_queue_depth", "Commands waiting for the next group commit",
            labels=names,
        )  # fmt: skip
        depth.add_metric(values, float(writer.queue_depth))
        yield depth
        groups = HistogramMetricFamily(
            "edge_ledger_group_size",
            "Commands per committed group (_count: groups committed, _sum: commands)",
            labels=names,
        )
        groups.add_metric(
            values,
            [*_buckets(GROUP_SIZE_BUCKETS, stats.group_sizes)[:-1], ("+Inf", float(stats.groups))],
            float(stats.commands),
        )
        yield groups
        commit = HistogramMetricFamily(
            "edge_ledger_commit_seconds", "Time of each group's COMMIT (its fsync)", labels=names
        )
        commit.add_metric(
            values, _buckets(COMMIT_SECONDS_BUCKETS, list(stats.commit_times)), stats.commit_seconds
        )
        yield commit
        failed = CounterMetricFamily(
            "edge_ledger_commands_failed", "Commands refused inside a group (rolled back alone)",
            labels=names,
        )  # fmt: skip
        failed.add_metric(values, float(stats.failed_commands))
        yield failed
        commits = CounterMetricFamily(
            "edge_ledger_commit_failures", "COMMITs that failed (nothing of the group written)",
            labels=names,
        )  # fmt: skip
        commits.add_metric(values, float(stats.failed_commits))
        yield commits
        checkpoint = writer.checkpointer.stats
        wal = GaugeMetricFamily(
            "edge_ledger_wal_pages", "WAL size in pages after the last checkpoint", labels=names
        )
        wal.add_metric(values, float(checkpoint.wal_pages))
        yield wal
        checkpoints = CounterMetricFamily(
            "edge_ledger_checkpoint_failures", "WAL checkpoints that failed", labels=names
        )
        checkpoints.add_metric(values, float(checkpoint.failures))
        yield checkpoints
        catch_ups = CounterMetricFamily(
            "edge_ledger_wal_catch_ups",
            "Checkpoints the writer finished right after its COMMIT (the WAL then starts again)",
            labels=names,
        )
        catch_ups.add_metric(values, float(checkpoint.catch_ups))
        yield catch_ups
        ready = GaugeMetricFamily(
            "edge_ready", "1 while the readiness check passes (see /readyz)",
            labels=["check", *names],
        )  # fmt: skip
        for name, check in sorted(self.readiness.checks.items()):
            ready.add_metric([name, *values], 1.0 if check.ok else 0.0)
        yield ready


class Labelled(Collector):
    """Another collector's metrics with one more label on every sample."""

    def __init__(self, inner: Collector, name: str, value: str) -> None:
        """Wrap `inner`; every sample gets `name`=`value`."""
        self.inner = inner
        self.name = name
        self.value = value

    def collect(self) -> Iterator[Metric]:
        """Yield the inner metrics, labelled."""
        for family in self.inner.collect():
            family.samples = [
                s._replace(labels={**s.labels, self.name: self.value}) for s in family.samples
            ]
            yield family


class DeviceCollector(Collector):
    """Device health and bus traffic as metrics."""

    def __init__(self, center: DeviceCenter) -> None:
        """Keep the device center to read at each scrape."""
        self.center = center

    def collect(self) -> Iterator[Metric]:
        """Yield the device metrics."""
        up = GaugeMetricFamily(
            "edge_device_up", "1 when the device says it is online", labels=["device", "type"]
        )
        seen = GaugeMetricFamily(
            "edge_device_last_seen_timestamp_seconds",
            "When the device was last heard from",
            labels=["device", "type"],
        )
        paper = GaugeMetricFamily(
            "edge_printer_paper", "1 for the printer's current paper state",
            labels=["device", "state"],
        )  # fmt: skip
        error = GaugeMetricFamily(
            "edge_device_error", "1 while the device reports an error, by its code",
            labels=["device", "type", "code"],
        )  # fmt: skip
        for view in self.center.snapshot():
            labels = [view["id"], view["type"]]
            up.add_metric(labels, 1.0 if view["state"] == "online" else 0.0)
            if view["last_seen"]:
                seen.add_metric(labels, datetime.fromisoformat(view["last_seen"]).timestamp())
            if view["error"]:
                error.add_metric([*labels, view["error"]], 1.0)
            if view["type"] == "printer" and view["paper"] is not None:
                for state in PAPER_STATES:
                    paper.add_metric([view["id"], state], 1.0 if view["paper"] == state else 0.0)
        yield up
        yield seen
        yield paper
        yield error
        messages = CounterMetricFamily(
            "edge_mqtt_messages", "Device messages by outcome", labels=["outcome"]
        )
        for outcome, count in sorted(self.center.counts.items()):
            messages.add_metric([outcome], float(count))
        yield messages
        connected = GaugeMetricFamily("edge_mqtt_connected", "1 while the bus is connected")
        connected.add_metric([], 1.0 if self.center.sender is not None else 0.0)
        yield connected


class ServerMetrics:
    """One application's metrics: what handlers count, and the registry /metrics renders.

    Other parts of the server add theirs with one line, e.g. in their start-up context:
    `app[METRICS].registry.register(HqCollector(link))`.
    """

    def __init__(self, currency: str, *, worker: bool = False, shared: bool = False) -> None:
        """Prepare the counts; `worker`: a worker process; `shared`: one of several processes."""
        self.worker = worker
        self.pid = str(os.getpid()) if shared or worker else None
        self.sale_seconds = Timings(SALE_SECONDS_BUCKETS)
        self.journal = JournalCounts(currency)
        self.registry = CollectorRegistry(auto_describe=False)
        self.ledger: Ledger | None = None
        self.first_count: asyncio.Task[None] | None = None

    def start(
        self, ledger: Ledger, readiness: Readiness, center: DeviceCenter | None = None
    ) -> None:
        """Register the collectors of a started application; count the journal, then commits.

        The first count reads the whole journal (seconds for millions of sales) in the
        background; scrapes do not wait for it.
        """
        self.ledger = ledger
        ledger.listen(self.journal)
        self.first_count = asyncio.create_task(
            self.journal.catch_up(ledger.path), name="metrics-journal"
        )
        self.registry.register(JournalCollector(self.journal))
        self.registry.register(LocalCollector(self, ledger, readiness, self.pid))
        process = ProcessCollector(registry=None)
        self.registry.register(process if self.pid is None else Labelled(process, "pid", self.pid))
        if center is not None and not self.worker:
            self.registry.register(DeviceCollector(center))

    async def stop(self) -> None:
        """Stop a first count still running."""
        if self.first_count is not None:
            self.first_count.cancel()
            await asyncio.gather(self.first_count, return_exceptions=True)

    async def scrape(self) -> bytes:
        """Count the journal up to now, then return the Prometheus text exposition."""
        first = self.first_count
        if self.ledger is not None and (first is None or first.done()):
            await self.journal.catch_up(self.ledger.path)  # after the first: a few rows
        return render(self.registry)


METRICS = web.AppKey("metrics", ServerMetrics)


def render(registry: CollectorRegistry) -> bytes:
    """Return the Prometheus text exposition."""
    return generate_latest(registry)


class HqCollector(Collector):
    """The HQ link: backlog and its oldest event's age, cursor, stop, batch outcomes."""

    def __init__(self, link: Uplink) -> None:
        """Keep the link to read at each scrape."""
        self.link = link

    def collect(self) -> Iterator[Metric]:
        """Yield the HQ link's metrics (nothing when no link is configured)."""
        status = self.link.status()
        if status.get("state") == "off":
            return
        gauges = (
            ("edge_hq_backlog_events", "Events committed but not yet acknowledged by HQ",
             float(status["backlog_events"])),
            ("edge_hq_oldest_unsent_age_seconds", "Age of the oldest event HQ has not acknowledged",
             float(status["oldest_unsent_age_s"])),
            ("edge_hq_acked_seq", "The last seq HQ acknowledged", float(status["acked_seq"])),
            ("edge_hq_stopped", "1 while forwarding is stopped on a refused batch",
             1.0 if status["stopped"] else 0.0),
            ("edge_hq_clock_skew_seconds", "HQ's clock minus this machine's, from HQ's Date",
             float(status["clock_skew_s"])),
        )  # fmt: skip
        yield from _gauges(gauges)
        batches = CounterMetricFamily(
            "edge_hq_batches", "Batch attempts by outcome since start", labels=["outcome"]
        )
        for outcome in ("acked", "resend", "retry", "shrink", "stop"):
            batches.add_metric([outcome], float(status["batches"].get(outcome, 0)))
        yield batches
        downlink = status.get("downlink")
        if downlink:
            yield from _downlink_metrics(downlink)


def _downlink_metrics(downlink: dict[str, Any]) -> Iterator[Metric]:
    """Yield the catalog downlink's gauges: version held, refusal standing, last answer."""
    gauges = [
        ("edge_hq_catalog_version", "HQ catalog version the ledger holds",
         float(downlink["version"])),
        ("edge_hq_catalog_rejected", "1 while HQ's latest catalog changes are refused",
         1.0 if downlink["rejected"] else 0.0),
        ("edge_hq_catalog_failing", "1 while asking HQ for catalog changes fails",
         1.0 if downlink.get("state") == "error" else 0.0),
    ]  # fmt: skip
    if downlink.get("last_sync_at") is not None:
        gauges.append(
            ("edge_hq_catalog_last_sync_timestamp_seconds",
             "When HQ last answered a catalog request (Unix time)",
             float(downlink["last_sync_at"]))
        )  # fmt: skip
    yield from _gauges(gauges)


def _gauges(gauges: Iterable[tuple[str, str, float]]) -> Iterator[Metric]:
    """Yield one unlabelled gauge per (name, help, value)."""
    for name, doc, value in gauges:
        gauge = GaugeMetricFamily(name, doc)
        gauge.add_metric([], value)
        yield gauge
