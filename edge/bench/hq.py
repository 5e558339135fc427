"""`edge bench hq`: drain a backlog of 1,000,000 events to the local reference receiver.

A store whose WAN was down holds a large backlog; when HQ comes back it must catch up fast and
without growing. The bench builds a store ledger with N sale events (the journal's own append
code, hash chain included; projections are left out, the forwarder reads only the journal),
starts `edge serve` with its HQ link pointing at a port where nothing listens yet, waits until
the store is ready and measures its RSS, then starts `edge hq serve` on PostgreSQL (a
throw-away cluster with PostgreSQL's durable defaults) and times the drain until HQ's head
reaches the store's, sampling the store's RSS. Baseline in the same run: the same events read
from the same journal and COPYed straight into the same PostgreSQL table by one connection (no
HTTP, gzip, signature or chain verification) — the storage ceiling of one store's uplink.
Targets: ≥ 20,000 events/s and RSS growth < 50 MB.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg

from edge.bench.checkout import HOST, _request, free_port, serving
from edge.hq.pgtemp import TempCluster, start_cluster
from edge.hq.receiver import COLUMNS, create_schema
from edge.ledger.journal import ChainState, Tx, journal_tail
from edge.ledger.ledger import utc_clock
from edge.ledger.projections import ProjectionSet
from edge.ledger.schema import connect
from edge.services.store import init_store_ledger
from edge.settings import (
    HqSettings,
    HttpSettings,
    PathSettings,
    Settings,
    StoreSettings,
    render_toml,
)

STORE = StoreSettings(id="BENCH-HQ", name="Bench HQ")
KEY = "bench-hq-key-0123456789abcdef"
DEFAULT_EVENTS = 1_000_000
FILL_CHUNK = 20_000
TARGET_RATE = 20_000.0
TARGET_RSS_MB = 50.0
DRAIN_TIMEOUT_S = 900.0
SAMPLE_S = 0.1
READY_TIMEOUT_S = 600.0


def sale_data(n: int) -> dict[str, Any]:
    """Return the data of a realistic 5-line sale event (≈1 KB of canonical JSON)."""
    lines = [
        {
            "product": f"P{(n * 7 + k) % 200:04d}",
            "name": "纯牛奶 Milk 1L",
            "code": f"69012345{(n + k) % 10000:04d}8",
            "quantity": 1 + (n + k) % 3,
            "unit_price": 650 + k * 10,
            "amount": (650 + k * 10) * (1 + (n + k) % 3),
            "tax_class": "standard",
            "tax": 75 + k,
            "discounts": [],
        }
        for k in range(5)
    ]
    total = sum(line["amount"] for line in lines)  # type: ignore[misc]
    return {
        "sale": f"00000000-0000-4000-8000-{n:012x}",
        "receipt": n,
        "lines": lines,
        "total": total,
        "tax": sum(line["tax"] for line in lines),
        "tenders": [{"kind": "cash", "amount": total + 1000, "change": 1000}],
        "discounts": [],
        "member": None,
    }


def fill_journal(path: Path, events: int) -> tuple[float, int]:
    """Append `events` sale events through the journal's own code; return (seconds, head)."""
    started = time.monotonic()
    conn = connect(path)
    try:
        seq, hash_ = journal_tail(conn)
        chain = ChainState(seq, hash_)
        done = 0
        while done < events:
            conn.execute("BEGIN IMMEDIATE")
            tx = Tx(conn, chain, ProjectionSet([]), utc_clock)
            for n in range(done, min(events, done + FILL_CHUNK)):
                tx.append("sale.completed", sale_data(n), till="T01", staff="C01")
            chain.record(conn)
            conn.execute("COMMIT")
            done = min(events, done + FILL_CHUNK)
    finally:
        conn.close()
    return time.monotonic() - started, chain.seq


def _rows(path: Path, first: int = 1, size: int = 5000) -> Iterator[list[tuple[Any, ...]]]:
    """Yield the journal's rows from `first` in chunks (as the receiver's COPY columns)."""
    conn = connect(path, read_only=True)
    try:
        seq = first
        while True:
            chunk = conn.execute(
                "SELECT seq, id, type, ts, till, staff, data, prev_hash, hash FROM journal"
                " WHERE seq >= ? ORDER BY seq LIMIT ?",
                (seq, size),
            ).fetchall()
            if not chunk:
                return
            yield [(STORE.id, *row) for row in chunk]
            seq = chunk[-1][0] + 1
    finally:
        conn.close()


async def _copy_baseline(dsn: str, path: Path) -> tuple[int, float]:
    """COPY the whole journal into hq_events directly; return (events, seconds)."""
    conn = await asyncpg.connect(dsn)
    try:
        started = time.monotonic()
        count = 0
        for chunk in _rows(path):
            async with conn.transaction():
                await conn.copy_records_to_table("hq_events", records=chunk, columns=COLUMNS)
            count += len(chunk)
        seconds = time.monotonic() - started
        await conn.execute("TRUNCATE hq_events")
        return count, seconds
    finally:
        await conn.close()


async def _prepare_hq(dsn: str) -> None:
    """Create the schema and register the bench store's key."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    try:
        await create_schema(pool)
        await pool.execute(
            "INSERT INTO hq_stores(store, key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            STORE.id,
            KEY,
        )
    finally:
        await pool.close()


async def _hq_head(dsn: str) -> int:
    """Return HQ's head seq for the bench store."""
    conn = await asyncpg.connect(dsn)
    try:
        value = await conn.fetchval("SELECT seq FROM hq_heads WHERE store = $1", STORE.id)
        return int(value or 0)
    finally:
        await conn.close()


def rss_mb(pid: int) -> float:
    """Return a process's resident set size in MB (0 when it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_hq(
    *, seconds: float = 0.0, directory: Path | None = None, events: int | None = None
) -> dict[str, Any]:
    """Run the drain benchmark; return figures, baseline and ratio (`seconds` is unused)."""
    del seconds
    count = events or DEFAULT_EVENTS
    work = Path(tempfile.mkdtemp(prefix="edge-bench-hq-", dir=directory))
    cluster: TempCluster | None = None
    try:
        cluster = start_cluster(durable=True)  # its own folder: PostgreSQL's user must reach it
        return _run(work, cluster, count)
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


def _run(work: Path, cluster: TempCluster, count: int) -> dict[str, Any]:
    """Fill, baseline, then drain through the real store and receiver processes."""
    hq_port, store_port = free_port(), free_port()
    settings = Settings(
        store=STORE,
        paths=PathSettings(data_dir=work / "store"),
        http=HttpSettings(host=HOST, port=store_port),
        hq=HqSettings(url=f"http://{HOST}:{hq_port}", backoff_max_s=1, idle_s=1),
    )
    asyncio.run(init_store_ledger(settings))
    ledger = settings.ledger_path
    fill_s, head = fill_journal(ledger, count)
    asyncio.run(_prepare_hq(cluster.dsn))
    copied, copy_s = asyncio.run(_copy_baseline(cluster.dsn, ledger))
    config = work / "edge.toml"
    config.write_text(render_toml(replace(settings, paths=PathSettings(data_dir=Path("store")))))
    credentials = work / "credentials"
    credentials.mkdir()
    (credentials / "hq-key").write_text(KEY + "\n")
    os.environ["CREDENTIALS_DIRECTORY"] = str(credentials)
    try:
        with serving(
            [sys.executable, "-m", "edge", "serve", "--config", str(config)],
            store_port,
            work / "store.log",
            ready_timeout=READY_TIMEOUT_S,  # the start-up check of a 1M-event chain
        ) as store:
            _settled(store_port)
            rss_before = rss_mb(store.pid)
            drained, drain_s, rss_peak = _drain(cluster, hq_port, store.pid, head, work)
    finally:
        os.environ.pop("CREDENTIALS_DIRECTORY", None)
    return _report(
        Figures(count, head, fill_s, copied, copy_s, drained, drain_s, rss_before, rss_peak)
    )


def _settled(port: int) -> None:
    """Wait until the server's start-up reads of the journal are over.

    /readyz said the chain is verified; the metrics' first count of the journal is done once
    /metrics shows the sales counter.
    """
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        status, text = _request(port, "GET", "/metrics")
        if status == 200 and "edge_sales_total" in text:
            time.sleep(1.0)
            return
        time.sleep(0.2)
    raise RuntimeError("the server's first count of the journal did not finish")


def _drain(
    cluster: TempCluster, port: int, store_pid: int, head: int, work: Path
) -> tuple[int, float, float]:
    """Start the receiver and wait until HQ's head is the store's; return (events, s, peak)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}
    env["EDGE_HQ_DSN"] = cluster.dsn
    with (work / "hq.log").open("ab") as log:
        receiver = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "edge", "hq", "serve", "--port", str(port), "--pool", "4"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        started = time.monotonic()
        peak = 0.0
        reached = 0
        next_poll = started
        while time.monotonic() - started < DRAIN_TIMEOUT_S:
            peak = max(peak, rss_mb(store_pid))
            if receiver.poll() is not None:
                raise RuntimeError(f"the receiver exited:\n{(work / 'hq.log').read_text()[-2000:]}")
            if time.monotonic() >= next_poll:
                reached = asyncio.run(_hq_head(cluster.dsn))
                next_poll = time.monotonic() + 0.5
                if reached >= head:
                    break
            time.sleep(SAMPLE_S)
        return reached, time.monotonic() - started, peak
    finally:
        receiver.terminate()
        try:
            receiver.wait(15)
        except subprocess.TimeoutExpired:
            receiver.kill()
            receiver.wait(15)


@dataclass(frozen=True)
class Figures:
    """What one run measured."""

    count: int
    head: int
    fill_s: float
    copied: int
    copy_s: float
    drained: int
    drain_s: float
    rss_before: float
    rss_peak: float


def _report(f: Figures) -> dict[str, Any]:
    """Return the bench's report."""
    rate = f.drained / f.drain_s if f.drain_s else 0.0
    baseline = f.copied / f.copy_s if f.copy_s else 0.0
    ratio = rate / baseline if baseline else 0.0
    growth = max(0.0, f.rss_peak - f.rss_before)
    met = f.drained >= f.head and rate >= TARGET_RATE and growth < TARGET_RSS_MB
    verdict = "met" if met else "NOT met"
    lines = [
        (
            f"edge bench hq: a backlog of {f.count:,} sale events (journal head {f.head:,};"
            f" filled in {f.fill_s:.1f} s)"
        ),
        (
            f"  drained to the reference receiver: {f.drained:,} events in {f.drain_s:.1f} s"
            f" = {rate:,.0f} events/s"
        ),
        (
            f"  baseline, the same rows COPYed straight into PostgreSQL: {baseline:,.0f}"
            f" events/s -> ratio {ratio:.2f}"
        ),
        (
            f"  store RSS {f.rss_before:.1f} MB before, peak {f.rss_peak:.1f} MB while"
            f" draining: growth {growth:.1f} MB"
        ),
        f"  target >= {TARGET_RATE:,.0f} events/s and growth < {TARGET_RSS_MB:.0f} MB: {verdict}",
    ]
    return {
        "benchmark": "hq",
        "events": f.count,
        "head_seq": f.head,
        "drained": f.drained,
        "drain_s": round(f.drain_s, 3),
        "events_per_s": round(rate, 1),
        "baseline": {"name": "COPY into PostgreSQL", "events_per_s": round(baseline, 1)},
        "ratio": round(ratio, 3),
        "rss_before_mb": round(f.rss_before, 1),
        "rss_peak_mb": round(f.rss_peak, 1),
        "rss_growth_mb": round(growth, 1),
        "target": {"events_per_s": TARGET_RATE, "rss_growth_mb": TARGET_RSS_MB, "met": met},
        "text": "\n".join(lines),
    }
