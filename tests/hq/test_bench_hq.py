"""`edge bench hq` runs for real on a small backlog and reports against its baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.bench.hq import bench_hq


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_bench_hq_drains_the_backlog_and_compares_with_copy(tmp_path: Path) -> None:
    report = bench_hq(directory=tmp_path, events=3000)
    assert report["drained"] == report["head_seq"] == 3001  # the store's first event too
    assert report["events_per_s"] > 0 and report["baseline"]["events_per_s"] > 0
    assert report["rss_before_mb"] > 0 and report["rss_peak_mb"] >= report["rss_before_mb"] - 5
    assert "events/s" in report["text"] and report["ratio"] > 0
    assert not list(tmp_path.iterdir()), "the bench left its work directory behind"
