"""`edge bench checkout`: one short real run, and failed requests are counted, never hidden."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from edge.bench.checkout import (
    Driver,
    Measured,
    Totals,
    bench_checkout,
    catalog_rows,
    checkout_report,
    free_port,
    parse_duration_us,
    percentile_us,
    serving,
)
from edge.domain.barcode import is_valid_gtin


def test_a_short_run_measures_sales_and_echo_and_accounts_for_every_sale(
    tmp_path: Path,
) -> None:
    report = bench_checkout(seconds=0.5, directory=tmp_path, rounds=1)

    results = report["results"]
    assert [r["concurrency"] for r in results] == [1, 16, 64]
    for r in results:
        assert r["sales_per_s"] > 0
        assert r["echo_per_s"] > 0
        assert r["sales"] > 0
        assert r["failures"] == 0
        assert r["echo_failures"] == 0
        assert 0 < r["p50_ms"] <= r["p99_ms"]
        assert 0 < r["echo_p50_ms"] <= r["echo_p99_ms"]
        assert r["ratio"] == pytest.approx(r["sales_per_s"] / r["echo_per_s"], abs=0.001)
    checks = report["checks"]
    assert checks["ledger_verified"] is True
    assert checks["sales_ok"] > 0
    assert checks["sales_rows"] == checks["sales_ok"] + checks["sales_in_flight_committed"]
    assert checks["sales_in_flight_committed"] <= checks["sales_in_flight"]
    assert checks["rows_match"] is True
    assert checks["server_exit"] == 0
    assert checks["server_log_errors"] == 0
    assert report["failures"]["sale"]["statuses"] == {}
    assert isinstance(report["target"]["met"], bool)
    assert "tills" in report["text"]
    assert "ledger: verified" in report["text"]
    # With one round, the merged histogram gives wrk's own percentiles (to its 2 printed decimals).
    for r in results:
        for kind, p50, p99 in (
            ("sale", "p50_ms", "p99_ms"),
            ("echo", "echo_p50_ms", "echo_p99_ms"),
        ):
            [round_figures] = [
                f
                for f in report["round_figures"]
                if f["concurrency"] == r["concurrency"] and f["kind"] == kind
            ]
            for mine, wrk in (
                (r[p50], round_figures["wrk_p50_ms"]),
                (r[p99], round_figures["wrk_p99_ms"]),
            ):
                assert mine == pytest.approx(wrk, abs=0.01, rel=0.01)
    assert not list(tmp_path.glob("edge-bench-checkout-*"))


def test_failed_requests_are_counted_and_fail_the_target(tmp_path: Path) -> None:
    _rows, barcodes = catalog_rows()
    driver = Driver(tmp_path, barcodes, ["token-0", "token-1", "token-2"])
    port = free_port()
    argv = [sys.executable, "-m", "edge.bench.echo", "--port", str(port)]
    with serving(argv, port, tmp_path / "echo.log"):
        run = driver.run(port, "/no-such-path", 2, 1)

    assert run.requests > 0
    assert run.statuses == {404: run.requests}
    assert run.failures == run.requests
    assert run.failure_samples
    assert run.failure_samples[0].startswith("404 ")
    sales = Totals()
    sales.add(run)
    echo = Totals()
    results = [
        {
            "concurrency": c,
            "sales_per_s": 5000.0,
            "p50_ms": 1.0,
            "p99_ms": 2.0,
            "echo_per_s": 6000.0,
            "echo_p50_ms": 0.5,
            "echo_p99_ms": 1.0,
            "ratio": 0.833,
            "sales": 1,
            "failures": sales.failures if c == 64 else 0,
            "echo_failures": 0,
        }
        for c in (1, 16, 64)
    ]
    checks = {
        "ledger_verified": True,
        "sales_rows": 1,
        "sales_ok": 1,
        "sales_in_flight": 0,
        "sales_in_flight_committed": 0,
        "rows_match": True,
        "server_log_errors": 0,
        "server_log_error_examples": [],
    }
    report = checkout_report(Measured(results, [], sales, echo), checks, 1, 1)

    assert report["target"]["met"] is False
    assert f"{sales.failures} failed requests" in report["target"]["missed"]
    assert report["failures"]["sale"]["statuses"] == {"404": run.requests}
    assert "SALE FAILURES" in report["text"]
    assert "NOT met" in report["text"]


def test_wrk_times_and_percentiles() -> None:
    assert parse_duration_us("736.00us") == 736
    assert parse_duration_us("0.95ms") == 950
    assert parse_duration_us("1.10s") == 1_100_000
    assert parse_duration_us("2.00m") == 120_000_000
    assert parse_duration_us("3h") == 10_800_000_000
    with pytest.raises(ValueError, match="not a wrk time"):
        parse_duration_us("12 parsecs")
    histogram = {100: 50, 200: 49, 5000: 1}
    assert percentile_us(histogram, 50) == 200  # wrk's rank: 50% of 100 + 1 = 51st value
    assert percentile_us(histogram, 99) == 5000
    assert percentile_us({}, 99) == 0


def test_the_bench_catalog_has_valid_distinct_barcodes() -> None:
    rows, barcodes = catalog_rows()
    assert len(rows) == len(set(barcodes)) == 200
    assert all(len(code) == 13 and is_valid_gtin(code) for code in barcodes)
    prices = [row["list_price"] for _, row in rows]
    assert all("." in price for price in prices)
