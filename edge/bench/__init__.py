"""`edge bench NAME`: figures measured against a baseline taken in the same run."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_benchmark(
    name: str, *, seconds: float, directory: str | None, events: int | None = None
) -> dict[str, Any]:
    """Run the named benchmark and return its report (figures, baseline, ratio, text)."""
    if name == "ledger":
        from edge.bench.ledger import bench_ledger  # noqa: PLC0415 - one benchmark at a time

        return bench_ledger(seconds=seconds, directory=Path(directory) if directory else None)
    if name == "checkout":
        from edge.bench.checkout import bench_checkout  # noqa: PLC0415 - one benchmark at a time

        return bench_checkout(seconds=seconds, directory=Path(directory) if directory else None)
    if name == "devices":
        from edge.bench.devices import bench_devices  # noqa: PLC0415 - one benchmark at a time

        return bench_devices(seconds=seconds, directory=Path(directory) if directory else None)
    if name == "hq":
        from edge.bench.hq import bench_hq  # noqa: PLC0415 - one benchmark at a time

        return bench_hq(directory=Path(directory) if directory else None, events=events)
    raise ValueError(f"unknown benchmark {name!r}")
