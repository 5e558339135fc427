"""Durable commits per second through the group-commit writer versus plain sqlite3.

The baseline is what naive code gets: one `BEGIN IMMEDIATE … COMMIT` (one fsync) per event on
the same disk, WAL and synchronous=FULL, the same row and the same hashing work. Rounds of
baseline and writer alternate (A B A B …) because these machines' speed drifts within seconds.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.ledger.schema import connect, migrate
from edge.protocol.chain import GENESIS_HASH, canonical_event, chain_hash, dumps_canonical

CONCURRENCY = (1, 16, 64)
ROUNDS = 3
MAX_COMMITS_PER_ROUND = 200_000
TARGET_RATIO = 3.0
TARGET_P99_MS = 20.0

SALE = {
    "sale": "bench",
    "lines": [
        {"product": f"P{i:05d}", "qty": 1, "unit_price": 1290 + i, "amount": 1290 + i}
        for i in range(5)
    ],
    "total": 6460,
    "tenders": [{"kind": "cash", "amount": 7000}, {"kind": "change", "amount": -540}],
}


def _baseline_round(path: Path, seconds: float, state: list[Any]) -> tuple[int, float]:
    """Commit one event per transaction for `seconds`; return (commits, elapsed)."""
    conn = connect(path)
    data_json = dumps_canonical(SALE)
    seq, prev = state
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    try:
        while time.perf_counter() < deadline and count < MAX_COMMITS_PER_ROUND:
            seq += 1
            event_id = str(uuid.uuid4())
            ts = datetime.now(UTC).isoformat(timespec="milliseconds")
            canonical = canonical_event(
                seq=seq,
                event_id=event_id,
                event_type="bench.sale",
                ts=ts,
                till="T01",
                staff=None,
                data_json=data_json,
                prev_hash=prev,
            )
            hash_ = chain_hash(prev, canonical)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, event_id, "bench.sale", ts, "T01", None, data_json, prev, hash_),
            )
            conn.execute("COMMIT")
            prev = hash_
            count += 1
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    state[:] = [seq, prev]
    return count, elapsed


def _sale(tx: Tx) -> int:
    """Append one sale-sized event."""
    return tx.append("bench.sale", SALE, till="T01").seq


async def _writer_round(
    ledger: Ledger, concurrency: int, seconds: float, waits: list[float]
) -> tuple[int, float]:
    """Submit from `concurrency` tasks for `seconds`; record each wait; return commits, time."""
    start = time.perf_counter()
    deadline = start + seconds
    budget = MAX_COMMITS_PER_ROUND // concurrency

    async def till() -> int:
        done = 0
        while time.perf_counter() < deadline and done < budget:
            began = time.perf_counter()
            await ledger.submit(_sale)
            waits.append(time.perf_counter() - began)
            done += 1
        return done

    counts = await asyncio.gather(*(till() for _ in range(concurrency)))
    return sum(counts), time.perf_counter() - start


async def _measure(workdir: Path, seconds: float) -> list[dict[str, Any]]:
    """Run the interleaved rounds for every concurrency."""
    base_path = workdir / "baseline.db"
    setup = connect(base_path)
    migrate(setup)
    setup.close()
    baseline_state: list[Any] = [0, GENESIS_HASH]
    ledger = Ledger(workdir / "ledger.db", require_initialized=False)
    await ledger.start()
    results = []
    try:
        for concurrency in CONCURRENCY:
            base_n = base_t = writer_n = writer_t = 0.0
            waits: list[float] = []
            groups_before = ledger.writer.stats.groups
            commands_before = ledger.writer.stats.commands
            for _ in range(ROUNDS):
                n, t = await asyncio.to_thread(_baseline_round, base_path, seconds, baseline_state)
                base_n, base_t = base_n + n, base_t + t
                n, t = await _writer_round(ledger, concurrency, seconds, waits)
                writer_n, writer_t = writer_n + n, writer_t + t
            stats = ledger.writer.stats
            groups = stats.groups - groups_before
            waits.sort()
            baseline_rate = base_n / base_t
            writer_rate = writer_n / writer_t
            results.append(
                {
                    "concurrency": concurrency,
                    "writer_commits_per_s": round(writer_rate, 1),
                    "baseline_commits_per_s": round(baseline_rate, 1),
                    "ratio": round(writer_rate / baseline_rate, 3),
                    "p50_wait_ms": round(statistics.median(waits) * 1000, 3),
                    "p99_wait_ms": round(waits[int(len(waits) * 0.99)] * 1000, 3),
                    "mean_group_size": round((stats.commands - commands_before) / groups, 1),
                    "commits": int(writer_n),
                    "baseline_commits": int(base_n),
                }
            )
        verified = await ledger.verify()
        if not verified.ok:
            raise RuntimeError(f"benchmark ledger failed verification at seq {verified.bad_seq}")
    finally:
        await ledger.stop()
    return results


def bench_ledger(*, seconds: float = 2.0, directory: Path | None = None) -> dict[str, Any]:
    """Measure the writer at each concurrency against the plain-sqlite3 baseline."""
    parent = directory or Path.cwd()
    parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="edge-bench-", dir=parent))
    try:
        results = asyncio.run(_measure(workdir, seconds))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    at64 = next(r for r in results if r["concurrency"] == max(CONCURRENCY))
    met = at64["ratio"] >= TARGET_RATIO and at64["p99_wait_ms"] < TARGET_P99_MS
    report: dict[str, Any] = {
        "name": "ledger",
        "unit": "durable commits/s",
        "disk": str(parent.resolve()),
        "baseline": "plain sqlite3, one BEGIN IMMEDIATE…COMMIT per event, WAL, synchronous=FULL",
        "results": results,
        "target": {
            "concurrency": max(CONCURRENCY),
            "min_ratio": TARGET_RATIO,
            "max_p99_wait_ms": TARGET_P99_MS,
            "met": met,
        },
    }
    lines = [f"ledger writer vs {report['baseline']} (disk: {report['disk']})"]
    lines.append(
        f"{'tills':>5} {'writer/s':>10} {'baseline/s':>11} {'ratio':>6} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'group':>6}"
    )
    lines.extend(
        f"{r['concurrency']:>5} {r['writer_commits_per_s']:>10.0f} "
        f"{r['baseline_commits_per_s']:>11.0f} {r['ratio']:>6.2f} {r['p50_wait_ms']:>7.2f} "
        f"{r['p99_wait_ms']:>7.2f} {r['mean_group_size']:>6.1f}"
        for r in results
    )
    lines.append(
        f"target at {max(CONCURRENCY)}: ratio >= {TARGET_RATIO} and p99 < {TARGET_P99_MS} ms: "
        + ("met" if met else "NOT met")
    )
    report["text"] = "\n".join(lines)
    return report
