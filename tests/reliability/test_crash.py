"""SIGKILL a writing process at random moments: what it reported done is there, whole."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from edge.ledger.maintenance import projection_digests, rebuild_projections
from edge.ledger.projections import ProjectionSet
from edge.ledger.schema import connect
from edge.ledger.verify import verify_chain
from tests.conftest import TEST_PROJECTORS

ROUNDS = 20
REPO = Path(__file__).resolve().parents[2]


def _run_and_kill(ledger: Path, round_no: int, delay: float) -> list[str]:
    """Start the child, let it write for `delay` seconds, SIGKILL it, return its lines."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.crash_child", str(ledger), str(round_no)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline()
        assert first == "ready\n", first + (child.stderr.read() if child.stderr else "")
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    return out.splitlines()


def test_sigkill_loses_nothing_reported_and_leaves_nothing_partial(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    rng = random.Random(20261122)
    reported_total = 0
    for round_no in range(ROUNDS):
        lines = _run_and_kill(ledger, round_no, rng.uniform(0.05, 0.6))
        done = {}
        failed = set()
        for line in lines:
            parts = line.split()
            if parts[0] == "done":
                done[parts[1]] = [int(s) for s in parts[2].split(",")]
            elif parts[0] == "failed":
                failed.add(parts[1])
        reported_total += len(done)

        conn = connect(ledger)
        stored: dict[str, list[int]] = {}
        for seq, name in conn.execute(
            "SELECT seq, json_extract(data, '$.name') FROM journal"
            " WHERE type = 'test.counter_added' ORDER BY seq"
        ):
            stored.setdefault(name, []).append(seq)
        for name, seqs in done.items():
            assert stored.get(name) == seqs, f"round {round_no}: {name} reported but not stored"
        for name in failed:
            assert name not in stored
        partial = {n: s for n, s in stored.items() if len(s) != 3}
        assert not partial, f"round {round_no}: partial commands {partial}"
        result = verify_chain(conn)
        assert result.ok, f"round {round_no}: {result}"
        projections = ProjectionSet(TEST_PROJECTORS)
        live = projection_digests(conn, projections)
        rebuild_projections(conn, projections)
        assert projection_digests(conn, projections) == live
        conn.close()
    assert reported_total > ROUNDS, "the child hardly committed anything before being killed"
