"""`edge bench devices` runs for real (short rounds) and reports both paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.bench.devices import DEVICES, bench_devices


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_bench_devices_measures_both_paths(tmp_path: Path) -> None:
    report = bench_devices(seconds=0.5, directory=tmp_path)
    assert [r["devices"] for r in report["results"]] == list(DEVICES)
    for row in report["results"]:
        assert row["events_per_s"] > 0 and row["raw_events_per_s"] > 0
        assert row["paced_received"] == row["paced_sent"] == 500, row
        assert row["p99_ms"] > 0
    assert "events/s" in report["text"] and report["ratio"] > 0
    assert not list(tmp_path.iterdir()), "the bench left its work directory behind"
