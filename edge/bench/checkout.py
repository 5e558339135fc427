"""Sales per second through `POST /api/v1/sales` versus an aiohttp POST echo, both over HTTP.

The store server runs as `edge serve` on a fresh ledger with a 200-product catalog and a
满100减10 promotion; the baseline is `python -m edge.bench.echo`, an aiohttp app that parses
and returns the same JSON body: the ceiling one aiohttp process reaches on this machine before
any checkout work. Both are driven by the same load generator, wrk with `checkout.lua`, at 1, 16
and 64 connections (tills); echo and sale rounds alternate (A B A B …) because these machines'
speed drifts within seconds. Afterwards the ledger must verify and hold exactly one sale per
201 answer, plus those of the requests still in flight when wrk stopped that the server
completed. Any failed request is reported, and the target is then not met. Latency
percentiles come from wrk's own histograms (with its coordinated-omission correction), merged
over the rounds; rates are 201 answers over wrk's measured run time.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.domain.barcode import gtin_check_digit
from edge.domain.catalog import category_from_fields
from edge.domain.days import Hours
from edge.domain.promotions import promotion_from_fields
from edge.ledger.ledger import Ledger, utc_clock
from edge.ledger.schema import connect
from edge.ledger.verify import verify_file
from edge.services.auth import Auth, store_pepper
from edge.services.catalog import Actor, import_products, save_category
from edge.services.days import Days
from edge.services.promotions import save_promotion
from edge.services.store import init_store_ledger
from edge.settings import (
    HttpSettings,
    PathSettings,
    Settings,
    StoreSettings,
    load_settings,
    render_toml,
)

CONCURRENCY = (1, 16, 64)
ROUNDS = 3
WARMUP_SECONDS = 1
WARMUP_CONCURRENCY = 16
MAX_WRK_THREADS = 2
WRK_TIMEOUT_S = 10
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
HOST = "127.0.0.1"
SALE_PATH = "/api/v1/sales"
# the store server as it runs on this machine: one HTTP worker process per core, up to 2
WORKERS = max(1, min(2, os.cpu_count() or 1))
ECHO_PATH = "/echo"
SCRIPT = Path(__file__).with_name("checkout.lua")

TARGET_CONCURRENCY = 64
TARGET_SALES_PER_S = 1500
TARGET_P99_MS = 50.0
TARGET_MIN_RATIO = 0.15

STORE = StoreSettings(id="BENCH-001", name="Bench")
ACTOR = Actor(staff="bench")
CATEGORIES = ("drinks", "snacks", "dairy", "household")
PRODUCTS = 200
LINES_PER_SALE = 5
CASH_TENDERED = 10_000_000  # minor units: 100,000.00 covers any 5-line bench sale
PROMOTION = {
    "id": "SPEND100",
    "name_zh": "满100减10",
    "kind": "spend_save",
    "threshold": 10000,
    "amount": 1000,
}
MARK = "EDGEBENCH "
_TIME_UNITS_US = {"us": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000}
_TEXT_REQUESTS = re.compile(r"^\s*(\d+) requests in ([0-9.]+[a-z]+),", re.MULTILINE)
_TEXT_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_TEXT_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_TEXT_PERCENTILE = re.compile(r"^\s*(50|99)%\s+([0-9.]+[a-z]+)\s*$", re.MULTILINE)


def parse_duration_us(text: str) -> int:
    """Turn a wrk time such as '736.00us', '0.95ms', '1.10s' or '2.00m' into microseconds."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)(us|ms|s|m|h)\s*", text)
    if match is None:
        raise ValueError(f"not a wrk time: {text!r}")
    whole, _, decimals = match.group(1).partition(".")
    scale = _TIME_UNITS_US[match.group(2)]
    return int(whole) * scale + (int(decimals or "0") * scale) // int("1" + "0" * len(decimals))


def percentile_us(histogram: dict[int, int], percent: int) -> int:
    """Return the `percent` percentile of a latency histogram, ranked the way wrk ranks it."""
    total = sum(histogram.values())
    if total == 0:
        return 0
    rank = min(total, percent * total // 100 + 1)
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)


@dataclass
class WrkRun:
    """What one wrk invocation measured, from its `done` lines and its own summary."""

    requests: int
    duration_us: int
    socket_errors: dict[str, int]
    status_errors: int
    statuses: dict[int, int]
    sent: int
    unanswered: list[str]
    histogram: dict[int, int]
    failure_samples: list[str]
    text_p50_us: int | None
    text_p99_us: int | None

    @property
    def ok(self) -> int:
        """Return the number of 201 answers."""
        return self.statuses.get(201, 0)

    @property
    def failures(self) -> int:
        """Return the failed requests: answers other than 201, plus socket errors."""
        return self.requests - self.ok + sum(self.socket_errors.values())


def parse_wrk_output(text: str) -> WrkRun:
    """Read a run of wrk with checkout.lua; cross-check its own summary or raise."""
    summary: list[int] | None = None
    statuses: dict[int, int] = {}
    histogram: dict[int, int] = {}
    unanswered: list[str] = []
    samples: list[str] = []
    sent = 0
    for line in text.splitlines():
        if not line.startswith(MARK):
            continue
        kind, _, rest = line[len(MARK) :].partition(" ")
        if kind == "summary":
            summary = [int(x) for x in rest.split()]
        elif kind == "status":
            status, count = rest.split()
            statuses[int(status)] = statuses.get(int(status), 0) + int(count)
        elif kind == "latency":
            value, count = rest.split()
            histogram[int(value)] = histogram.get(int(value), 0) + int(count)
        elif kind == "sent":
            sent += int(rest)
        elif kind == "unanswered":
            unanswered.append(rest.strip())
        elif kind == "failure":
            samples.append(rest.strip())
    if summary is None or len(summary) != 7:
        raise RuntimeError(f"wrk printed no summary from checkout.lua:\n{text[-2000:]}")
    requests, duration_us, connect_errors, read, write, status_errors, timeout = summary
    run = WrkRun(
        requests=requests,
        duration_us=duration_us,
        socket_errors={"connect": connect_errors, "read": read, "write": write, "timeout": timeout},
        status_errors=status_errors,
        statuses=statuses,
        sent=sent,
        unanswered=unanswered,
        histogram=histogram,
        failure_samples=samples,
        text_p50_us=None,
        text_p99_us=None,
    )
    _cross_check(run, text)
    return run


def _cross_check(run: WrkRun, text: str) -> None:
    """Compare the script's figures with wrk's printed summary; fill in wrk's percentiles."""
    problems = []
    requests = _TEXT_REQUESTS.search(text)
    if requests is None:
        problems.append("no 'N requests in T' line")
    else:
        if int(requests.group(1)) != run.requests:
            problems.append(f"wrk says {requests.group(1)} requests, the script {run.requests}")
        shown_us = parse_duration_us(requests.group(2))
        if abs(shown_us - run.duration_us) > max(10_000, run.duration_us // 100):
            problems.append(f"wrk says {requests.group(2)}, the script {run.duration_us} us")
    non_2xx = _TEXT_NON_2XX.search(text)
    if (int(non_2xx.group(1)) if non_2xx else 0) != run.status_errors:
        problems.append("the non-2xx count differs")
    socket = _TEXT_SOCKET.search(text)
    shown = [int(x) for x in socket.groups()] if socket else [0, 0, 0, 0]
    if shown != list(run.socket_errors.values()):
        problems.append("the socket error counts differ")
    if sum(run.statuses.values()) != run.requests:
        problems.append("answers by status do not add up to the requests")
    if problems:
        raise RuntimeError("inconsistent wrk output: " + "; ".join(problems) + "\n" + text[-2000:])
    percentiles = {int(p): parse_duration_us(t) for p, t in _TEXT_PERCENTILE.findall(text)}
    run.text_p50_us = percentiles.get(50)
    run.text_p99_us = percentiles.get(99)


@dataclass
class Totals:
    """Several wrk runs of one kind and concurrency, added up."""

    requests: int = 0
    ok: int = 0
    failures: int = 0
    duration_us: int = 0
    histogram: Counter[int] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    socket_errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    unanswered: list[str] = field(default_factory=list)
    failure_samples: list[str] = field(default_factory=list)

    def add(self, run: WrkRun) -> None:
        """Count one run in."""
        self.sent += run.sent
        self.requests += run.requests
        self.ok += run.ok
        self.failures += run.failures
        self.duration_us += run.duration_us
        self.histogram.update(run.histogram)
        self.statuses.update(run.statuses)
        self.socket_errors.update(run.socket_errors)
        self.unanswered.extend(run.unanswered)
        self.failure_samples.extend(run.failure_samples[: 3 - len(self.failure_samples)])

    @property
    def per_s(self) -> float:
        """Return the 201 answers per second of measured time."""
        return self.ok * 1_000_000 / self.duration_us if self.duration_us else 0.0

    def percentile_ms(self, percent: int) -> float:
        """Return a latency percentile over every run, in milliseconds."""
        return percentile_us(dict(self.histogram), percent) / 1000

    def failure_detail(self) -> dict[str, Any]:
        """Return what failed: answers by status other than 201, socket errors, examples."""
        return {
            "statuses": {str(s): n for s, n in sorted(self.statuses.items()) if s != 201},
            "socket_errors": {k: n for k, n in self.socket_errors.items() if n},
            "examples": self.failure_samples,
        }


def _money_text(minor: int) -> str:
    """Write minor units as the CSV's decimal text ('12.34'), exactly."""
    return f"{minor // 100}.{minor % 100:02d}"


def catalog_rows() -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    """Return the bench catalog as import rows, and the EAN-13 barcode of each product."""
    rows = []
    barcodes = []
    for number in range(1, PRODUCTS + 1):
        body = f"69{number:010d}"
        code = body + str(gtin_check_digit(body))
        list_price = 100 + (number * 4_937) % 4_901  # 1.00 … 50.00, spread over the range
        member_price = list_price * 9 // 10 if number % 3 == 0 else None
        rows.append(
            (
                number + 1,
                {
                    "id": f"BENCH{number:04d}",
                    "name_zh": f"测试商品{number}",
                    "name_en": f"Bench product {number}",
                    "category": CATEGORIES[number % len(CATEGORIES)],
                    "list_price": _money_text(list_price),
                    "member_price": "" if member_price is None else _money_text(member_price),
                    "barcodes": code,
                },
            )
        )
        barcodes.append(code)
    return rows, barcodes


async def prepare_store(
    settings: Settings, rows: Sequence[tuple[int, dict[str, str]]]
) -> list[str]:
    """Create the ledger, catalog, promotion and one cashier token per till (server stopped).

    Return the tokens: index N is till TN's (T0 is the preflight's).
    """
    await init_store_ledger(settings)
    ledger = Ledger(settings.ledger_path, store_id=settings.store.id)
    await ledger.start()
    try:
        for category in CATEGORIES:
            fields = {"id": category, "name_zh": category, "name_en": category}
            await save_category(ledger, category_from_fields(fields), ACTOR)
        report = await import_products(ledger, rows, ACTOR)
        if report.errors:
            raise RuntimeError(f"bench catalog refused: {report.errors[:5]}")
        await save_promotion(ledger, promotion_from_fields(PROMOTION), ACTOR)
        auth = Auth(ledger, settings.auth, store_pepper(settings), utc_clock)
        days = Days(ledger, Hours({}, always_open=True), settings.tz, utc_clock)
        tokens = []
        for n in range(MAX_WRK_THREADS + 1):
            tokens.append(await auth.create_token(f"bench-T{n}", "cashier", f"T{n}", ACTOR))
            await days.open_till(Actor(staff="bench", till=f"T{n}"), 0)
        return tokens
    finally:
        await ledger.stop()


def sale_body(sale_id: str, barcodes: Sequence[str]) -> dict[str, Any]:
    """Return a 5-line sale body like the ones checkout.lua sends."""
    return {
        "id": sale_id,
        "lines": [
            {"code": barcodes[(37 * k) % len(barcodes)], "quantity": 1 + k % 3}
            for k in range(LINES_PER_SALE)
        ],
        "tenders": [{"kind": "cash", "amount": CASH_TENDERED}],
    }


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _request(
    port: int, method: str, path: str, body: bytes | None = None, token: str | None = None
) -> tuple[int, str]:
    """Send one request to 127.0.0.1:port; return the status and the body text."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _log_tail(path: Path, lines: int = 40) -> str:
    """Return the last lines of a child's log."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _child_env() -> dict[str, str]:
    """Return this environment without EDGE_* overrides, so the children obey their files."""
    return {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}


def _stop(child: subprocess.Popen[bytes]) -> int:
    """Stop a child we started: SIGTERM, wait, then SIGKILL; return its exit status."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=STOP_TIMEOUT_S)
    return child.returncode


@contextmanager
def serving(
    argv: list[str], port: int, log_path: Path, ready_timeout: float = READY_TIMEOUT_S
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server child until the block ends; return once its /readyz answers 200."""
    with log_path.open("ab") as log:
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=_child_env()
        )
        try:
            deadline = time.monotonic() + ready_timeout
            status = 0
            while status != 200:
                if child.poll() is not None:
                    raise RuntimeError(
                        f"{argv[2:]} exited with {child.returncode}:\n{_log_tail(log_path)}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{argv[2:]} not ready after {ready_timeout:.0f} s (last status "
                        f"{status}):\n{_log_tail(log_path)}"
                    )
                try:
                    status, _ = _request(port, "GET", "/readyz")
                except OSError:
                    status = 0
                if status != 200:
                    time.sleep(0.1)
            yield child
        finally:
            _stop(child)


class Driver:
    """Runs wrk with checkout.lua against the two servers; numbers every invocation."""

    def __init__(self, workdir: Path, barcodes: Sequence[str], tokens: Sequence[str]) -> None:
        """Write the barcode and till token lists wrk reads and find wrk."""
        wrk = shutil.which("wrk")
        if wrk is None:
            raise RuntimeError("wrk is not installed (`make system-deps` installs it)")
        self.wrk = wrk
        self.codes_file = workdir / "barcodes.txt"
        self.codes_file.write_text("\n".join(barcodes) + "\n", encoding="utf-8")
        self.tokens = list(tokens)
        self.tokens_file = workdir / "tokens.txt"  # line N: till TN's token (T0 not in it)
        self.tokens_file.write_text("\n".join(self.tokens[1:]) + "\n", encoding="utf-8")
        self.tokens_file.chmod(0o600)
        self.nonce = secrets.token_hex(4)
        self.run_no = 0

    def run(self, port: int, path: str, connections: int, seconds: int) -> WrkRun:
        """Drive `connections` keep-alive connections at 127.0.0.1:port for `seconds`."""
        self.run_no += 1
        if self.run_no > 0xFFFF:
            raise RuntimeError("too many wrk runs for the sale id layout")
        argv = [
            self.wrk,
            f"--threads={min(connections, MAX_WRK_THREADS)}",
            f"--connections={connections}",
            f"--duration={seconds}s",
            f"--timeout={WRK_TIMEOUT_S}s",
            "--latency",
            f"--script={SCRIPT}",
            f"http://{HOST}:{port}{path}",
            "--",
            str(self.codes_file),
            self.nonce,
            str(self.run_no),
            str(self.tokens_file),
        ]
        done = subprocess.run(  # noqa: S603 - wrk found on PATH, arguments built here
            argv, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        if done.returncode != 0 or "EDGEBENCH summary" not in done.stdout:
            raise RuntimeError(
                f"wrk exited with {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )
        return parse_wrk_output(done.stdout)


def _preflight(store_port: int, echo_port: int, driver: Driver, barcodes: Sequence[str]) -> None:
    """Send one sale and one echo by hand, so a refused sale stops the bench with its reason."""
    body = sale_body(f"{driver.nonce}-0000-4000-8000-000000000001", barcodes)
    raw = json.dumps(body).encode()
    for port, path in ((echo_port, ECHO_PATH), (store_port, SALE_PATH)):
        status, answer = _request(port, "POST", path, raw, driver.tokens[0])
        if status != 201:
            raise RuntimeError(
                f"POST {path} answered {status}, not 201:\n{answer[:2000]}\n"
                f"request body: {raw.decode()}"
            )


@dataclass(frozen=True)
class Server:
    """A running server child: where it listens, the path the bench posts to, its log."""

    child: subprocess.Popen[bytes]
    port: int
    path: str
    log: Path


@dataclass
class Measured:
    """Everything the rounds measured: figures per concurrency, per round, and all runs."""

    results: list[dict[str, Any]]
    rounds: list[dict[str, Any]]
    sales: Totals
    echo: Totals


def _round_row(concurrency: int, kind: str, number: int, run: WrkRun) -> dict[str, Any]:
    """Describe one wrk run for the report's list of rounds."""
    return {
        "concurrency": concurrency,
        "kind": kind,
        "round": number,
        "requests": run.requests,
        "ok": run.ok,
        "failures": run.failures,
        "seconds": round(run.duration_us / 1_000_000, 3),
        "per_s": round(run.ok * 1_000_000 / run.duration_us, 1) if run.duration_us else 0.0,
        "wrk_p50_ms": None if run.text_p50_us is None else run.text_p50_us / 1000,
        "wrk_p99_ms": None if run.text_p99_us is None else run.text_p99_us / 1000,
    }


def measure(driver: Driver, servers: dict[str, Server], seconds: int, rounds: int) -> Measured:
    """Warm both servers up, then run echo and sale rounds alternately at every concurrency."""
    overall = {"echo": Totals(), "sale": Totals()}

    def run(kind: str, connections: int, seconds: int) -> WrkRun:
        server = servers[kind]
        measured = driver.run(server.port, server.path, connections, seconds)
        if server.child.poll() is not None:
            raise RuntimeError(f"the {kind} server died:\n{_log_tail(server.log)}")
        overall[kind].add(measured)
        return measured

    for kind in ("echo", "sale"):
        run(kind, WARMUP_CONCURRENCY, WARMUP_SECONDS)
    results = []
    round_rows = []
    for concurrency in CONCURRENCY:
        totals = {"echo": Totals(), "sale": Totals()}
        for number in range(1, rounds + 1):
            for kind in ("echo", "sale"):
                measured = run(kind, concurrency, seconds)
                totals[kind].add(measured)
                round_rows.append(_round_row(concurrency, kind, number, measured))
        echo, sale = totals["echo"], totals["sale"]
        results.append(
            {
                "concurrency": concurrency,
                "sales_per_s": round(sale.per_s, 1),
                "p50_ms": sale.percentile_ms(50),
                "p99_ms": sale.percentile_ms(99),
                "echo_per_s": round(echo.per_s, 1),
                "echo_p50_ms": echo.percentile_ms(50),
                "echo_p99_ms": echo.percentile_ms(99),
                "ratio": round(sale.per_s / echo.per_s, 3) if echo.per_s else 0.0,
                "sales": sale.ok,
                "failures": sale.failures,
                "echo_failures": echo.failures,
            }
        )
    return Measured(results, round_rows, overall["sale"], overall["echo"])


def ledger_checks(settings: Settings, sales: Totals, server_exit: int, log: Path) -> dict[str, Any]:
    """Verify the stopped server's ledger and account for every sale row."""
    verified = verify_file(settings.ledger_path)
    conn = connect(settings.ledger_path, read_only=True)
    try:
        ids = {row[0] for row in conn.execute("SELECT id FROM sales")}
    finally:
        conn.close()
    sales_ok = sales.ok + 1  # the preflight sale
    in_flight_committed = len(ids.intersection(sales.unanswered))
    log_text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    error_lines = [
        line for line in log_text.splitlines() if " ERROR " in line or "Traceback" in line
    ]
    return {
        "ledger_verified": verified.ok,
        "ledger_events": verified.events,
        "sales_rows": len(ids),
        "sales_ok": sales_ok,
        "sales_sent": sales.sent + 1,
        "sales_in_flight": len(sales.unanswered),
        "sales_in_flight_committed": in_flight_committed,
        "rows_match": len(ids) == sales_ok + in_flight_committed,
        "server_exit": server_exit,
        "server_log_errors": len(error_lines),
        "server_log_error_examples": error_lines[:5],
    }


def bench_checkout(
    *, seconds: float = 2.0, directory: Path | None = None, rounds: int | None = None
) -> dict[str, Any]:
    """Measure sales/s and latency at each concurrency against the aiohttp echo ceiling."""
    rounds = ROUNDS if rounds is None else rounds
    whole_seconds = max(1, math.ceil(seconds))  # wrk's --duration takes whole seconds
    parent = directory or Path.cwd()
    parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="edge-bench-checkout-", dir=parent))
    try:
        store_port, echo_port = free_port(), free_port()
        settings = Settings(
            store=STORE,
            paths=PathSettings(data_dir=workdir / "data"),
            http=HttpSettings(host=HOST, port=store_port, workers=WORKERS),
        )
        config = workdir / "edge.toml"
        config.write_text(render_toml(settings), encoding="utf-8")
        settings = load_settings(config, env={})
        rows, barcodes = catalog_rows()
        tokens = asyncio.run(prepare_store(settings, rows))
        driver = Driver(workdir, barcodes, tokens)
        store_log, echo_log = workdir / "server.log", workdir / "echo.log"
        store_argv = [sys.executable, "-m", "edge", "serve", "--config", str(config)]
        echo_argv = [sys.executable, "-m", "edge.bench.echo", "--port", str(echo_port)]
        with (
            serving(store_argv, store_port, store_log) as store,
            serving(echo_argv, echo_port, echo_log) as echo,
        ):
            _preflight(store_port, echo_port, driver, barcodes)
            servers = {
                "sale": Server(store, store_port, SALE_PATH, store_log),
                "echo": Server(echo, echo_port, ECHO_PATH, echo_log),
            }
            measured = measure(driver, servers, whole_seconds, rounds)
        checks = ledger_checks(settings, measured.sales, store.returncode, store_log)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return checkout_report(measured, checks, whole_seconds, rounds)


def checkout_report(
    measured: Measured, checks: dict[str, Any], seconds: int, rounds: int
) -> dict[str, Any]:
    """Build the report dict and its text table."""
    results = measured.results
    at = next(r for r in results if r["concurrency"] == TARGET_CONCURRENCY)
    failures = measured.sales.failures + measured.echo.failures
    checks_ok = (
        checks["ledger_verified"] and checks["rows_match"] and checks["server_log_errors"] == 0
    )
    missed = []
    if at["sales_per_s"] < TARGET_SALES_PER_S:
        missed.append(f"{at['sales_per_s']:.0f} sales/s < {TARGET_SALES_PER_S}")
    if at["p99_ms"] >= TARGET_P99_MS:
        missed.append(f"p99 {at['p99_ms']:.1f} ms >= {TARGET_P99_MS:.0f} ms")
    if at["ratio"] < TARGET_MIN_RATIO:
        missed.append(f"{at['ratio']:.1%} of echo < {TARGET_MIN_RATIO:.0%}")
    if failures:
        missed.append(f"{failures} failed requests")
    if not checks_ok:
        missed.append("ledger checks failed")
    met = not missed
    report: dict[str, Any] = {
        "name": "checkout",
        "unit": "sales/s",
        "baseline": "aiohttp POST echo of the same body, same load generator",
        "load_generator": f"wrk + edge/bench/checkout.lua, threads = min(tills, {MAX_WRK_THREADS})",
        "cpus": os.cpu_count(),
        "seconds_per_round": seconds,
        "rounds": rounds,
        "results": results,
        "checks": checks,
        "failures": {
            "sale": measured.sales.failure_detail(),
            "echo": measured.echo.failure_detail(),
        },
        "round_figures": measured.rounds,
        "target": {
            "concurrency": TARGET_CONCURRENCY,
            "min_sales_per_s": TARGET_SALES_PER_S,
            "max_p99_ms": TARGET_P99_MS,
            "min_ratio": TARGET_MIN_RATIO,
            "no_failures": True,
            "missed": missed,
            "met": met,
        },
    }
    lines = [
        f"checkout: {LINES_PER_SALE}-line sales over HTTP vs {report['baseline']}",
        (
            f"(wrk, {rounds} interleaved rounds x {seconds} s per figure, {os.cpu_count()} CPUs"
            " shared by wrk and the server)"
        ),
        (
            f"{'tills':>5} {'sales/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'echo/s':>8} "
            f"{'p50 ms':>7} {'p99 ms':>7} {'ratio':>6} {'sales':>7} {'failed':>6}"
        ),
    ]
    lines.extend(
        f"{r['concurrency']:>5} {r['sales_per_s']:>8.0f} {r['p50_ms']:>7.2f} "
        f"{r['p99_ms']:>7.2f} {r['echo_per_s']:>8.0f} {r['echo_p50_ms']:>7.2f} "
        f"{r['echo_p99_ms']:>7.2f} {r['ratio']:>6.1%} {r['sales']:>7} "
        f"{r['failures'] + r['echo_failures']:>6}"
        for r in results
    )
    lines.append(
        "ledger: "
        + ("verified" if checks["ledger_verified"] else "FAILED VERIFICATION")
        + f", {checks['sales_rows']} sales rows "
        + ("= " if checks["rows_match"] else "!= ")
        + f"{checks['sales_ok']} answered 201 + {checks['sales_in_flight_committed']} "
        f"of {checks['sales_in_flight']} still in flight when wrk stopped"
        + ("" if checks["rows_match"] else "  <-- MISMATCH")
    )
    if checks["server_log_errors"]:
        lines.append(f"SERVER LOG ERRORS: {checks['server_log_errors']} lines, e.g.")
        lines.extend(f"  {line}" for line in checks["server_log_error_examples"])
    for kind in ("sale", "echo"):
        detail = report["failures"][kind]
        if detail["statuses"] or detail["socket_errors"]:
            lines.append(
                f"{kind.upper()} FAILURES: statuses {detail['statuses']}, "
                f"socket errors {detail['socket_errors']}"
            )
            lines.extend(f"  e.g. {example}" for example in detail["examples"])
    lines.append(
        f"target at {TARGET_CONCURRENCY} tills: >= {TARGET_SALES_PER_S} sales/s, "
        f"p99 < {TARGET_P99_MS:.0f} ms, >= {TARGET_MIN_RATIO:.0%} of echo, no failures: "
        + ("met" if met else "NOT met (" + "; ".join(missed) + ")")
    )
    report["text"] = "\n".join(lines)
    return report
