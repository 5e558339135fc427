"""`edge demo` as a user runs it: a foreground store, demo.json, clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def wait_for(path: Path, child: subprocess.Popen[str], seconds: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return json.loads(path.read_text("utf-8"))  # type: ignore[no-any-return]
        if child.poll() is not None:
            raise AssertionError(f"demo exited early: {child.communicate()}")
        time.sleep(0.05)
    raise AssertionError("demo.json never appeared")


def post(url: str, body: object) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(  # noqa: S310
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as r:  # noqa: S310
            return r.status, json.load(r)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def get(url: str, headers: dict[str, str] | None = None) -> dict[str, object]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as r:  # noqa: S310
        return json.load(r)  # type: ignore[no-any-return]


def check_panel(panel: str, base: str, token: dict[str, str]) -> None:
    """The demo's panel drives the simulators; the store hears them through the gateway."""
    with urllib.request.urlopen(panel, timeout=5) as r:  # noqa: S310
        assert "Simulated devices" in r.read().decode()
    assert post(panel + "weight", {"grams": "heavy"})[0] == 400
    assert post(panel + "scan", {"code": ""})[0] == 400
    assert post(panel + "scan", [1])[0] == 400
    scans_before = get(f"{base}/api/v1/devices", token)["bus"]["counts"].get("scans", 0)  # type: ignore[index, union-attr]
    assert post(panel + "weight", {"grams": 1250})[0] == 200
    assert post(panel + "scan", {"code": "6901234567892"})[0] == 200
    deadline = time.monotonic() + 30
    while True:
        try:
            weight = get(f"{base}/api/v1/devices/scale-01/weight", token)
        except urllib.error.HTTPError:
            weight = {}
        scans = get(f"{base}/api/v1/devices", token)["bus"]["counts"].get("scans", 0)  # type: ignore[index, union-attr]
        if weight.get("grams") == 1250 and scans == scans_before + 1:
            break
        assert time.monotonic() < deadline, (weight, scans, scans_before)
        time.sleep(0.1)
    receipts = get(panel + "receipts")
    assert receipts["printed"] == 3 and any("合计" in "".join(r) for r in receipts["receipts"])  # type: ignore[attr-defined]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_demo_runs_until_signalled(tmp_path: Path, stop_signal: signal.Signals) -> None:
    data = tmp_path / "demo"
    edge = Path(sys.executable).parent / "edge"
    child = subprocess.Popen(
        [edge, "demo", "--data", str(data), "--port", "0", "--host", "127.0.0.1"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        description = wait_for(data / "demo.json", child)
        urls = description["urls"]
        assert isinstance(urls, dict)
        with urllib.request.urlopen(urls["readyz"], timeout=5) as response:  # noqa: S310
            assert json.load(response)["ready"] is True
        with urllib.request.urlopen(urls["store"], timeout=5) as response:  # noqa: S310
            store = json.load(response)
        assert store["id"] == "DEMO-001"
        assert store["ledger"]["head_seq"] >= 1
        catalog = description["catalog"]
        assert isinstance(catalog, dict)
        assert catalog["products"] >= 9
        token = {"Authorization": f"Bearer {catalog['api_token']}"}
        for label, code in catalog["scan_examples"].items():
            scan = urllib.request.Request(f"{urls['base']}/api/v1/scan/{code}", headers=token)  # noqa: S310
            with urllib.request.urlopen(scan, timeout=5) as r:  # noqa: S310
                scanned = json.load(r)
            assert scanned["product"]["name_en"].split()[0] in label, (label, scanned)
        broker = description["broker"]
        assert isinstance(broker, dict) and broker["port"] > 0
        logins = {d["id"]: d for d in description["devices"]}  # type: ignore[attr-defined]
        assert logins["gw-demo"]["password"] and logins["kiosk-01"]["password"]
        devices = urllib.request.Request(f"{urls['base']}/api/v1/devices", headers=token)  # noqa: S310
        deadline = time.monotonic() + 60
        while True:
            with urllib.request.urlopen(devices, timeout=5) as r:  # noqa: S310
                states = {d["id"]: d["state"] for d in json.load(r)["devices"]}
            jobs_url = f"{urls['base']}/api/v1/print-jobs"
            jobs_request = urllib.request.Request(jobs_url, headers=token)  # noqa: S310
            with urllib.request.urlopen(jobs_request, timeout=5) as r:  # noqa: S310
                jobs = json.load(r)["jobs"]
            printed = {j["state"] for j in jobs} == {"printed"} and len(jobs) == 3
            attached = all(states[d] == "online" for d in ("printer-01", "scale-01", "scanner-01"))
            if attached and states["gw-demo"] == "online" and printed:
                break
            assert time.monotonic() < deadline, (states, jobs)
            time.sleep(0.2)
        check_panel(description["simulators"]["panel"], urls["base"], token)  # type: ignore[index]
        child.send_signal(stop_signal)
        out, err = child.communicate(timeout=20)
        with socket.socket() as probe:  # the demo's broker stopped with it
            assert probe.connect_ex(("127.0.0.1", broker["port"])) != 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    assert "ready" in out
    assert not (data / "demo.json").exists()
    assert (data / "ledger.db").is_file()


def test_a_killed_demo_takes_its_broker_with_it(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    edge = Path(sys.executable).parent / "edge"
    child = subprocess.Popen(
        [edge, "demo", "--data", str(data), "--port", "0", "--host", "127.0.0.1"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        description = wait_for(data / "demo.json", child)  # type: ignore[arg-type]
        port = description["broker"]["port"]  # type: ignore[index]
        child.kill()  # no clean shutdown: the broker must not outlive the server
        child.wait(timeout=10)
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) != 0:
                    break
            assert time.monotonic() < deadline, "the broker outlived the killed server"
            time.sleep(0.1)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
