"""`edge bench devices`: device events end to end against the raw broker ceiling.

Measured: scales publish `evt/weight` (QoS 1, each with its own login) to a running
`edge serve` with its private broker; an event counts when the server has routed it and
pushed it to the till's WebSocket, where the bench receives it. Baseline in the same run:
the same publishers against an identical Mosquitto (same dynamic-security rights) with a
plain paho subscriber. At 1, 10 and 100 devices: the highest rate through (offered load far
above it) and, at a paced 1,000 events/s, p50/p99 latency. Rounds interleave the two.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge.bench.checkout import HOST, free_port, serving
from edge.bus.broker import EmbeddedBroker, broker_files, server_password
from edge.domain.devices import Device
from edge.ledger.ledger import Ledger, utc_clock
from edge.protocol.mqtt import encode, topic
from edge.services.auth import Auth, store_pepper
from edge.services.catalog import Actor
from edge.services.devices import Devices
from edge.services.store import init_store_ledger
from edge.settings import (
    HttpSettings,
    MqttSettings,
    PathSettings,
    Settings,
    StoreSettings,
    load_settings,
    render_toml,
)

STORE = StoreSettings(id="BENCH-DEV", name="Bench")
DEVICES = (1, 10, 100)
PACED_RATE = 1000
TARGET_RATIO = 0.5
TARGET_P99_MS = 20.0
MAX_OFFERED = 20000  # events/s offered in the throughput rounds (far above what gets through)
DRAIN_S = 2.0
TILL = "T01"


@dataclass
class Round:
    """One measured round."""

    path: str  # server | raw
    devices: int
    mode: str  # max | paced
    sent: int
    received: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        """Return events received per second of the round."""
        return self.received / self.seconds


class Publishers:
    """N scales, each a paho client with its own login, publishing weight events."""

    def __init__(self, port: int, logins: list[tuple[str, str]]) -> None:
        """Connect every scale (each client has its own network thread)."""
        self.clients: list[tuple[str, paho.Client]] = []
        for device_id, password in logins:
            client = paho.Client(CallbackAPIVersion.VERSION2, client_id=device_id,
                                 protocol=paho.MQTTv5)  # fmt: skip
            client.username_pw_set(device_id, password)
            client.max_inflight_messages_set(50)
            client.connect(HOST, port)
            client.loop_start()
            self.clients.append((device_id, client))
        deadline = time.monotonic() + 10
        while not all(c.is_connected() for _, c in self.clients):
            if time.monotonic() > deadline:
                raise RuntimeError("bench scales could not connect")
            time.sleep(0.01)

    def run(self, count: int, rate: float, sent: dict[str, float], prefix: str) -> None:
        """Publish `count` events spread over the devices at `rate` per second."""
        start = time.perf_counter()
        n = len(self.clients)
        for i in range(count):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            device_id, client = self.clients[i % n]
            event_id = f"{prefix}{i}"
            sent[event_id] = time.perf_counter()
            payload = {"id": event_id, "ts": int(time.time() * 1000), "grams": 100 + i % 5000,
                       "stable": True}  # fmt: skip
            client.publish(topic(STORE.id, "scale", device_id, "evt", "weight"),
                           encode(payload), qos=1)  # fmt: skip

    def close(self) -> None:
        """Disconnect every scale."""
        for _, client in self.clients:
            client.disconnect()
            client.loop_stop()


def _percentile(values: list[float], percent: float) -> float:
    """Return a percentile of latencies (ms)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * percent / 100))]


def _measure(
    publishers: Publishers, arrivals: dict[str, float], path: str, *, devices: int, mode: str,
    seconds: float, prefix: str, collect: Callable[[], None] = lambda: None,
) -> Round:  # fmt: skip
    """Offer load for `seconds`, wait for the tail, and count what arrived in the window."""
    rate = MAX_OFFERED if mode == "max" else PACED_RATE
    count = int(rate * seconds)
    sent: dict[str, float] = {}
    start = time.perf_counter()
    publishers.run(count, rate, sent, prefix)
    deadline = time.perf_counter() + DRAIN_S
    collect()
    while time.perf_counter() < deadline and sum(1 for k in sent if k in arrivals) < len(sent):
        time.sleep(0.05)
        collect()
    mine = {k: arrivals[k] for k in sent if k in arrivals}
    # max: what got through within the window; paced: everything offered must arrive
    got = sum(1 for t in mine.values() if t <= start + seconds) if mode == "max" else len(mine)
    latencies = [(mine[k] - sent[k]) * 1000 for k in mine]
    return Round(path, devices, mode, len(sent), got, seconds,
                 _percentile(latencies, 50), _percentile(latencies, 99))  # fmt: skip


class RawObserver:
    """A plain paho subscriber on the baseline broker, in a process of its own like the server."""

    def __init__(self, port: int, password: str, arrivals: dict[str, float]) -> None:
        """Start the sink process and wait until it has subscribed."""
        self.arrivals = arrivals
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "edge.bench.mqtt_sink", str(port),
             f"pos/v1/{STORE.id}/scale/+/evt/weight"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdin is not None and self.process.stdout is not None  # noqa: S101
        self.process.stdin.write(password + "\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("baseline subscriber did not subscribe")

    def collect(self) -> None:
        """Fetch the arrivals the sink noted since the last call."""
        assert self.process.stdin is not None and self.process.stdout is not None  # noqa: S101
        self.process.stdin.write("dump\n")
        self.process.stdin.flush()
        self.arrivals.update(json.loads(self.process.stdout.readline()))

    def close(self) -> None:
        """Stop the sink."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class SocketObserver:
    """The till's WebSocket on the server, read on a thread of its own."""

    def __init__(self, port: int, token: str, arrivals: dict[str, float]) -> None:
        """Connect to /api/v1/live as the till."""
        self.port, self.token, self.arrivals = port, token, arrivals
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the till WebSocket did not open")

    async def _run(self) -> None:
        """Receive pushes until told to stop."""
        headers = {"Authorization": f"Bearer {self.token}"}
        url = f"http://{HOST}:{self.port}/api/v1/live?channels=till:{TILL}"
        async with aiohttp.ClientSession(headers=headers) as session, \
                session.ws_connect(url) as socket:  # fmt: skip
            await socket.receive_json()
            self.ready.set()
            while not self.stop.is_set():
                with contextlib.suppress(TimeoutError):
                    message = await socket.receive_json(timeout=0.5)
                    if message.get("type") == "weight":
                        self.arrivals[message["event"]] = time.perf_counter()

    def close(self) -> None:
        """Stop reading."""
        self.stop.set()
        self.thread.join(5)


async def _prepare(settings: Settings, count: int) -> tuple[list[tuple[str, str]], str]:
    """Create the ledger, `count` scales bound to the till, and the till's token."""
    await init_store_ledger(settings)
    ledger = Ledger(settings.ledger_path, store_id=settings.store.id)
    await ledger.start()
    try:
        devices = Devices(ledger, settings.store.id, broker_files(settings))
        logins = []
        for n in range(count):
            device = Device(f"scale-{n:03d}", "scale", None, TILL, "bench")
            logins.append((device.id, (await devices.add(device, Actor()))[1]))
        await devices.set_server_password(
            server_password(settings.mqtt_dir, settings.secrets.broker_password)
        )
        await devices.prepare_broker()
        auth = Auth(ledger, settings.auth, store_pepper(settings), utc_clock)
        token = await auth.create_token("bench-till", "cashier", TILL, Actor())
        return logins, token
    finally:
        await ledger.stop()


@contextlib.contextmanager
def _baseline_broker(settings: Settings, workdir: Path) -> Iterator[int]:
    """Run a second Mosquitto with the same document as the server's."""
    directory = workdir / "baseline"
    directory.mkdir()
    document = directory / "dynamic-security.json"
    shutil.copy(broker_files(settings).dynsec_file, document)
    broker = EmbeddedBroker(settings.mqtt, directory, document)
    broker.port = free_port()
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(broker.start())
        yield broker.port
    finally:
        loop.run_until_complete(broker.stop())
        loop.close()


def bench_devices(*, seconds: float = 2.0, directory: Path | None = None) -> dict[str, Any]:
    """Measure device events/s and latency at 1, 10 and 100 devices against the raw broker."""
    parent = directory or Path.cwd()
    parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="edge-bench-devices-", dir=parent))
    rounds: list[Round] = []
    try:
        http_port, mqtt_port = free_port(), free_port()
        settings = Settings(
            store=STORE,
            paths=PathSettings(data_dir=workdir / "data"),
            http=HttpSettings(host=HOST, port=http_port),
            mqtt=MqttSettings(broker="embedded", host=HOST, port=mqtt_port),
        )
        config = workdir / "edge.toml"
        config.write_text(render_toml(settings), encoding="utf-8")
        settings = load_settings(config, env={})
        logins, token = asyncio.run(_prepare(settings, max(DEVICES)))
        password = server_password(settings.mqtt_dir, None)
        argv = [sys.executable, "-m", "edge", "serve", "--config", str(config)]
        server_arrivals: dict[str, float] = {}
        raw_arrivals: dict[str, float] = {}
        with serving(argv, http_port, workdir / "server.log"), \
                _baseline_broker(settings, workdir) as raw_port:  # fmt: skip
            observers: list[Callable[[], None]] = []
            socket = SocketObserver(http_port, token, server_arrivals)
            raw = RawObserver(raw_port, password, raw_arrivals)
            observers += [socket.close, raw.close]
            try:
                for count in DEVICES:
                    server_pub = Publishers(mqtt_port, logins[:count])
                    raw_pub = Publishers(raw_port, logins[:count])
                    try:
                        for mode in ("max", "paced"):
                            prefix = f"{count}-{mode}-"
                            rounds.append(
                                _measure(
                                    server_pub,
                                    server_arrivals,
                                    "server",
                                    devices=count,
                                    mode=mode,
                                    seconds=seconds,
                                    prefix=f"server-{prefix}",
                                )
                            )
                            rounds.append(
                                _measure(
                                    raw_pub,
                                    raw_arrivals,
                                    "raw",
                                    devices=count,
                                    mode=mode,
                                    seconds=seconds,
                                    prefix=f"raw-{prefix}",
                                    collect=raw.collect,
                                )
                            )
                    finally:
                        server_pub.close()
                        raw_pub.close()
            finally:
                for close in observers:
                    close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return devices_report(rounds, seconds)


def devices_report(rounds: list[Round], seconds: float) -> dict[str, Any]:
    """Build the report and its text table."""
    results: list[dict[str, Any]] = []
    for count in DEVICES:
        pick = {(r.path, r.mode): r for r in rounds if r.devices == count}
        server, raw = pick[("server", "max")], pick[("raw", "max")]
        paced = pick[("server", "paced")]
        results.append({
            "devices": count,
            "events_per_s": round(server.rate),
            "raw_events_per_s": round(raw.rate),
            "ratio": round(server.rate / raw.rate, 3) if raw.rate else None,
            "paced_rate": PACED_RATE,
            "paced_received": paced.received,
            "paced_sent": paced.sent,
            "p50_ms": round(paced.p50_ms, 2),
            "p99_ms": round(paced.p99_ms, 2),
            "raw_p99_ms": round(pick[("raw", "paced")].p99_ms, 2),
        })  # fmt: skip
    ok = all(
        (r["ratio"] or 0) >= TARGET_RATIO and r["p99_ms"] < TARGET_P99_MS
        and r["paced_received"] == r["paced_sent"]
        for r in results
    )  # fmt: skip
    lines = [
        (f"edge bench devices ({seconds:g} s per round; events through the server to the till's"
         " WebSocket vs. paho through an identical Mosquitto)"),
        (f"{'devices':>8} {'events/s':>9} {'raw/s':>8} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7}"
         f" {'raw p99':>8} {'paced got':>10}"),
    ]  # fmt: skip
    lines.extend(
        f"{r['devices']:>8} {r['events_per_s']:>9} {r['raw_events_per_s']:>8} "
        f"{r['ratio']:>6} {r['p50_ms']:>7} {r['p99_ms']:>7} {r['raw_p99_ms']:>8} "
        f"{r['paced_received']:>5}/{r['paced_sent']}"
        for r in results
    )
    lines.append(
        f"target: ratio >= {TARGET_RATIO} and p99 < {TARGET_P99_MS} ms at {PACED_RATE}/s, "
        f"nothing lost: {'MET' if ok else 'NOT MET'}"
    )
    return {
        "benchmark": "devices",
        "results": results,
        "baseline": "paho publish -> Mosquitto -> paho subscribe, same run",
        "ratio": min((r["ratio"] or 0) for r in results),
        "target_met": ok,
        "text": "\n".join(lines),
    }
