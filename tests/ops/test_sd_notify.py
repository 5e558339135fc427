"""`edge serve` under systemd's notify protocol: READY, watchdog pings, STOPPING.

A fake NOTIFY_SOCKET (a Unix datagram socket in the test's directory) stands in for systemd.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from edge.sd_notify import notify, watchdog_interval
from edge.services.store import init_store_ledger
from edge.settings import HttpSettings, PathSettings, Settings, load_settings, render_toml
from tests.conftest import STORE


def listen(path: Path | str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(20)
    return sock


def test_serve_says_ready_pings_the_watchdog_and_says_stopping(tmp_path: Path) -> None:
    settings = Settings(
        store=STORE,
        paths=PathSettings(data_dir=tmp_path / "data"),
        http=HttpSettings(host="127.0.0.1", port=0),
    )
    config = tmp_path / "edge.toml"
    config.write_text(render_toml(settings), encoding="utf-8")
    asyncio.run(init_store_ledger(load_settings(config, env={})))
    systemd = listen(tmp_path / "notify")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}
    env |= {"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "200000"}
    child = subprocess.Popen(
        [sys.executable, "-m", "edge", "serve", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        first = systemd.recv(4096).decode()
        lines = dict(line.split("=", 1) for line in first.splitlines())
        assert lines["READY"] == "1" and lines["STATUS"].startswith(f"serving store {STORE.id}")
        started = time.monotonic()
        pings = 0
        while pings < 5:
            if systemd.recv(4096) == b"WATCHDOG=1":
                pings += 1
        assert time.monotonic() - started < 5  # every 0.1 s (half of WatchdogSec)
        child.send_signal(signal.SIGTERM)
        while (message := systemd.recv(4096).decode()) == "WATCHDOG=1":
            pass
        assert message.splitlines()[0] == "STOPPING=1"
        assert child.wait(timeout=20) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        systemd.close()


def test_notify_reaches_an_abstract_socket_and_is_quiet_without_one(tmp_path: Path) -> None:
    name = f"edge-test-{os.getpid()}"
    with listen("\0" + name) as systemd:
        assert notify("READY=1", {"NOTIFY_SOCKET": "@" + name})
        assert systemd.recv(100) == b"READY=1"
    assert not notify("READY=1", {})
    assert not notify("READY=1", {"NOTIFY_SOCKET": "relative/path"})
    assert not notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})


def test_the_watchdog_is_only_ours_when_systemd_says_so() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())})
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_interval({}) is None
