"""GET /metrics on the real server: names, types, counts after sales and sign-ins; promtool."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from edge.app import create_app
from edge.ledger.ledger import Ledger
from edge.metrics import METRICS, ServerMetrics
from edge.services.readiness import Readiness
from edge.services.store import init_store_ledger
from edge.settings import AuthSettings, PathSettings, Settings
from edge.web.auth import CSRF_HEADER
from edge.web.keys import LEDGER, READINESS
from tests.conftest import STORE
from tests.integration.checkout_store import new_id
from tests.integration.conftest import FakeClock, authorize
from tests.integration.tills import as_till, manager_client, open_till, pair, sign_in

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = ROOT / ".venv" / "bin" / "promtool"
RULES = ROOT / "systemd" / "prometheus" / "store-edge-alerts.yml"
RULE_TESTS = Path(__file__).with_name("alerts_test.yml")
COKE, MILK = "6901234567892", "6901234567816"
CASH_650 = {"kind": "cash", "amount": 650}

# every family the server exports, with its type; journal counts first
FAMILIES = {
    "edge_sales_total": "counter",
    "edge_sale_items_total": "counter",
    "edge_sales_amount_minor_total": "counter",
    "edge_returns_total": "counter",
    "edge_returns_amount_minor_total": "counter",
    "edge_logins_total": "counter",
    "edge_login_failures_total": "counter",
    "edge_login_lockouts_total": "counter",
    "edge_ledger_head_seq": "gauge",
    "edge_sale_seconds": "histogram",
    "edge_ledger_writer_queue_depth": "gauge",
    "edge_ledger_group_size": "histogram",
    "edge_ledger_commit_seconds": "histogram",
    "edge_ledger_commands_failed_total": "counter",
    "edge_ledger_commit_failures_total": "counter",
    "edge_ledger_wal_pages": "gauge",
    "edge_ledger_checkpoint_failures_total": "counter",
    "edge_ledger_wal_catch_ups_total": "counter",
    "edge_ready": "gauge",
    "process_resident_memory_bytes": "gauge",
    "process_cpu_seconds_total": "counter",
    "process_open_fds": "gauge",
    "process_start_time_seconds": "gauge",
}
DEVICE_FAMILIES = {
    "edge_device_up": "gauge",
    "edge_device_last_seen_timestamp_seconds": "gauge",
    "edge_printer_paper": "gauge",
    "edge_device_error": "gauge",
    "edge_mqtt_messages_total": "counter",
    "edge_mqtt_connected": "gauge",
}
JOURNAL = (
    "edge_sales_total",
    "edge_sale_items_total",
    "edge_sales_amount_minor_total",
    "edge_returns_total",
    "edge_returns_amount_minor_total",
    "edge_logins_total",
    "edge_login_failures_total",
    "edge_login_lockouts_total",
    "edge_ledger_head_seq",
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def settings(tmp_path: Path) -> Settings:
    settings = Settings(store=STORE, paths=PathSettings(data_dir=tmp_path / "data"))
    await init_store_ledger(settings)
    return settings


@pytest.fixture
def make_client(aiohttp_client: Any, settings: Settings) -> Callable[..., Any]:
    clock = FakeClock()

    async def make(*, shared: bool = False, worker: bool = False, **auth: Any) -> TestClient:
        tuned = Settings(
            store=settings.store,
            paths=settings.paths,
            auth=AuthSettings(**auth) if auth else settings.auth,
        )
        app = create_app(tuned, clock=clock, shared=shared, worker=worker)
        client: TestClient = await aiohttp_client(app)
        await client.server.app[READINESS].wait_ready()
        first_count = client.server.app[METRICS].first_count
        assert first_count is not None
        await first_count  # the journal counted once: the journal's families are there
        return client

    return make


async def scrape(client: TestClient) -> str:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return await response.text()


def samples(text: str) -> Samples:
    """Parse the exposition (the client library's parser) into {(name, labels): value}."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(parsed: Samples, name: str, **labels: str) -> float:
    return parsed[(name, frozenset(labels.items()))]


def journal_part(parsed: Samples) -> Samples:
    return {key: v for key, v in parsed.items() if key[0] in JOURNAL}


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    if not PROMTOOL.exists():
        pytest.fail(f"{PROMTOOL} is missing: run `make tools`")
    return subprocess.run(
        [str(PROMTOOL), *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def assert_declared(text: str, families: dict[str, str]) -> None:
    lines = set(text.splitlines())
    for name, kind in families.items():
        assert f"# TYPE {name} {kind}" in lines, name
        assert any(line.startswith(f"# HELP {name} ") for line in lines), name


async def test_a_scrape_declares_every_metric_and_counts_a_sale_and_a_wrong_pin(
    make_client: Callable[..., Any],
) -> None:
    client = await manager_client(make_client)
    csrf = await pair(client, "T01")
    as_till(client)
    first = await scrape(client)
    assert_declared(first, FAMILIES | DEVICE_FAMILIES)
    before = samples(first)
    assert not any("pid" in dict(labels) for _, labels in before)  # one process: no pid label

    assert (await sign_in(client, csrf, "C01", "0000"))[0] == 401
    assert (await sign_in(client, csrf, "C01", "1470"))[0] == 200
    await open_till(client, csrf)
    sale = {
        "id": new_id(),
        "lines": [{"code": COKE, "quantity": 2}, {"code": MILK, "quantity": 1}],
        "tenders": [{"kind": "cash", "amount": 2000}],
    }
    sold = await client.post("/api/v1/sales", json=sale, headers={CSRF_HEADER: csrf})
    assert sold.status == 201, await sold.text()
    total = (await sold.json())["total"]
    assert total == 2 * 300 + 650
    replay = await client.post("/api/v1/sales", json=sale, headers={CSRF_HEADER: csrf})
    assert replay.headers.get("Idempotent-Replayed") == "true"  # timed, but not a second sale

    text = await scrape(client)
    after = samples(text)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("edge_sales_total", channel="till") == 1
    assert moved("edge_sales_total", channel="kiosk") == 0
    assert moved("edge_sales_total", channel="api") == 0
    assert moved("edge_sale_items_total", channel="till") == 2  # lines, not units
    assert moved("edge_sales_amount_minor_total", channel="till", currency="CNY") == total
    assert moved("edge_login_failures_total", method="pin") == 1
    assert moved("edge_logins_total", method="pin") == 1
    assert moved("edge_login_lockouts_total") == 0
    assert moved("edge_returns_total", kind="return") == 0
    assert moved("edge_sale_seconds_count") == 2
    assert moved("edge_sale_seconds_bucket", le="+Inf") == 2
    assert 0 < moved("edge_sale_seconds_sum") < 10
    assert value(after, "edge_sale_seconds_bucket", le="1.0") <= value(
        after, "edge_sale_seconds_bucket", le="+Inf"
    )
    groups = moved("edge_ledger_group_size_count")
    assert groups >= 4  # refused PIN, sign-in, till opened, sale: each awaited alone
    assert moved("edge_ledger_group_size_sum") >= groups
    assert value(after, "edge_ledger_commit_seconds_count") == value(
        after, "edge_ledger_group_size_count"
    )
    assert value(after, "edge_ledger_commit_seconds_sum") > 0
    assert value(after, "edge_ledger_head_seq") == client.server.app[LEDGER].head[0]
    assert value(after, "edge_ledger_writer_queue_depth") == 0
    assert value(after, "edge_ready", check="ledger") == 1
    assert value(after, "process_resident_memory_bytes") > 10_000_000
    assert value(after, "process_open_fds") > 0

    linted = promtool("check", "metrics", stdin=text)
    assert (linted.returncode, linted.stdout + linted.stderr) == (0, "")


async def test_lockouts_voids_and_a_restart_count_the_same_from_the_journal(
    make_client: Callable[..., Any],
) -> None:
    client = await manager_client(make_client, lock_after=3, lock_seconds=300)
    csrf = await pair(client, "T01")
    as_till(client)
    before = samples(await scrape(client))
    for _ in range(3):
        assert (await sign_in(client, csrf, "C01", "0000"))[0] == 401  # the third one locks
    assert (await sign_in(client, csrf, "C01", "1470"))[0] == 401  # locked: refused, no new lock
    assert (await sign_in(client, csrf, "NOBODY", "1470"))[0] == 401

    await authorize(client, role="supervisor", till="T02", name="pos-api")
    opened = await client.post("/api/v1/till/open", json={"float": 0})
    assert opened.status == 201, await opened.text()
    sale_id = new_id()
    body = {"id": sale_id, "lines": [{"code": COKE}], "tenders": [{"kind": "cash", "amount": 300}]}
    assert (await client.post("/api/v1/sales", json=body)).status == 201
    voided = await client.post(
        f"/api/v1/sales/{sale_id}/void", json={"id": new_id(), "reason": "wrong basket"}
    )
    assert voided.status == 201, await voided.text()

    live = samples(await scrape(client))

    def moved(name: str, **labels: str) -> float:
        return value(live, name, **labels) - value(before, name, **labels)

    assert moved("edge_login_failures_total", method="pin") == 5
    assert moved("edge_login_lockouts_total") == 1
    assert moved("edge_logins_total", method="pin") == 0
    assert moved("edge_sales_total", channel="api") == 1
    assert moved("edge_sales_total", channel="till") == 0
    assert moved("edge_returns_total", kind="void") == 1
    assert moved("edge_returns_total", kind="return") == 0
    assert moved("edge_returns_amount_minor_total", kind="void", currency="CNY") == 300

    # a restart: the new process counts the whole journal and finds the same numbers
    await client.close()
    again: TestClient = await make_client(lock_after=3, lock_seconds=300)
    restarted = samples(await scrape(again))
    assert journal_part(restarted) == journal_part(live)
    assert value(restarted, "edge_sale_seconds_count") == 0  # per process: starts again


async def test_every_process_of_a_server_answers_the_same_journal_counts(
    make_client: Callable[..., Any],
) -> None:
    primary = await manager_client(make_client, shared=True)
    worker: TestClient = await make_client(worker=True)
    token = await authorize(primary, role="cashier", till="T02", name="pos-api")
    worker.session.headers["Authorization"] = f"Bearer {token}"
    assert (await primary.post("/api/v1/till/open", json={"float": 0})).status == 201
    start = samples(await scrape(primary))
    metrics = primary.server.app[METRICS]
    counted = metrics.journal.sales["api"]

    for client in (primary, worker, worker):
        body = {"id": new_id(), "lines": [{"code": MILK}], "tenders": [CASH_650]}
        sold = await client.post("/api/v1/sales", json=body)
        assert sold.status == 201, await sold.text()
    # the primary's listener counted its own sale at commit; the worker's come from the journal
    assert metrics.journal.sales["api"] == counted + 1

    from_primary, from_worker = await scrape(primary), await scrape(worker)
    seen = samples(from_primary)
    assert (
        value(seen, "edge_sales_total", channel="api")
        - value(start, "edge_sales_total", channel="api")
        == 3
    )
    assert journal_part(samples(from_worker)) == journal_part(seen)
    assert value(seen, "edge_ledger_head_seq") == worker.server.app[LEDGER].head[0]

    # per-process series say which process they are; only the primary speaks for devices
    assert_declared(from_worker, FAMILIES)
    assert "# TYPE edge_device_up gauge" not in from_worker
    assert_declared(from_primary, FAMILIES | DEVICE_FAMILIES)
    for text, client in ((from_primary, primary), (from_worker, worker)):
        pid = client.server.app[METRICS].pid
        assert pid is not None
        parsed = samples(text)
        assert value(parsed, "edge_ready", check="ledger", pid=pid) == 1
        assert value(parsed, "process_open_fds", pid=pid) > 0
        assert value(parsed, "edge_sale_seconds_count", pid=pid) >= 1
        linted = promtool("check", "metrics", stdin=text)
        assert (linted.returncode, linted.stdout + linted.stderr) == (0, "")


async def test_a_scrape_during_the_first_count_answers_at_once_without_journal_counts(
    settings: Settings,
) -> None:
    ledger = Ledger(settings.ledger_path, store_id=STORE.id)
    await ledger.start()
    metrics = ServerMetrics("CNY", worker=True)
    try:
        metrics.start(ledger, Readiness())
        early = (await metrics.scrape()).decode()  # the first count has not run yet
        assert "# TYPE edge_sale_seconds histogram" in early
        assert "edge_sales_total" not in early and "edge_ledger_head_seq" not in early
        assert metrics.first_count is not None
        await metrics.first_count
        counted = samples((await metrics.scrape()).decode())
        assert value(counted, "edge_sales_total", channel="till") == 0
        assert value(counted, "edge_ledger_head_seq") == ledger.head[0] > 0
    finally:
        await metrics.stop()
        await ledger.stop()


def test_the_alert_rules_pass_promtool() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_the_alert_rule_unit_tests_pass() -> None:
    tested = promtool("test", "rules", str(RULE_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr
