"""zeroconf: `edge serve` announces itself on 127.0.0.1, says goodbye, and `edge discover` lists it.

Everything stays on loopback (`interfaces = ["127.0.0.1"]`); the "nothing found" case runs in a
network namespace of its own, where no other server on this machine can answer, and the "name
taken" case between two namespaces joined by a veth pair, as two hosts on a LAN.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from edge import __version__
from edge.bus.broker import free_port
from edge.discovery import (
    MQTT_TYPE,
    SERVICE_TYPE,
    advertised_addresses,
    found_server,
    lan_addresses,
    service_infos,
)
from edge.services.store import init_store_ledger
from edge.settings import (
    HttpSettings,
    MqttSettings,
    PathSettings,
    Settings,
    SettingsError,
    StoreSettings,
    TlsSettings,
    ZeroconfSettings,
    load_settings,
    render_toml,
    settings_from_mapping,
)

LOOPBACK = ["127.0.0.1"]


async def store_settings(tmp_path: Path, **parts: Any) -> tuple[Settings, Path]:
    """Write edge.toml for a store with an id of its own (other servers may run here)."""
    store_id = f"ZC-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        store=StoreSettings(id=store_id, name=f"零售 {store_id}"),
        paths=PathSettings(data_dir=tmp_path / "data"),
        http=HttpSettings(host="127.0.0.1", port=free_port()),
        **parts,
    )
    config = tmp_path / "edge.toml"
    config.write_text(render_toml(settings), encoding="utf-8")
    settings = load_settings(config, env={})
    await init_store_ledger(settings)
    return settings, config


def read(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")


def start_serve(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "edge", "serve", "--config", str(config)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env,
        )  # fmt: skip


def stop_serve(child: subprocess.Popen[bytes]) -> int:
    if child.poll() is None:
        child.terminate()
        try:
            return child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    return child.returncode


async def wait_ready(port: int, child: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert child.poll() is None, read(log)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /readyz HTTP/1.0\r\n\r\n")
            status = (await reader.readline()).split()
            writer.close()
            if status[1:2] == [b"200"]:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"never ready: {read(log)}")


class Browser:
    """A zeroconf browser on loopback that records what comes and goes."""

    def __init__(self) -> None:
        self.zeroconf = AsyncZeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only)
        self.seen: list[tuple[str, ServiceStateChange]] = []
        self.browser = AsyncServiceBrowser(
            self.zeroconf.zeroconf, [SERVICE_TYPE, MQTT_TYPE], handlers=[self.changed]
        )

    def changed(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        self.seen.append((name, state_change))

    async def until(self, name: str, change: ServiceStateChange, within: float) -> float:
        started = time.monotonic()
        while (name, change) not in self.seen:
            assert time.monotonic() - started < within, (name, change, self.seen)
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    async def resolve(self, type_: str, name: str) -> AsyncServiceInfo:
        info = AsyncServiceInfo(type_, name)
        assert await info.async_request(self.zeroconf.zeroconf, 3000), name
        return info

    async def close(self) -> None:
        await self.browser.async_cancel()
        await self.zeroconf.async_close()


async def discover_cli(*argv: str) -> tuple[int, str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "edge", "discover", *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(child.communicate(), 30)
    assert child.returncode is not None
    assert not err.strip() or b"Traceback" not in err, err
    return child.returncode, out.decode()


async def test_serve_is_found_on_loopback_and_says_goodbye(tmp_path: Path) -> None:
    broker_port = free_port()
    settings, config = await store_settings(
        tmp_path,
        mqtt=MqttSettings(broker="embedded", port=broker_port),
        zeroconf=ZeroconfSettings(interfaces=("127.0.0.1",)),
    )
    store, port = settings.store, settings.http.port
    name = f"store-edge {store.id}.{SERVICE_TYPE}"
    log = tmp_path / "serve.log"
    browser = Browser()
    child = start_serve(config, log)
    try:
        await wait_ready(port, child, log)
        await browser.until(name, ServiceStateChange.Added, within=20)
        info = await browser.resolve(SERVICE_TYPE, name)
        assert info.port == port
        assert info.parsed_addresses() == ["127.0.0.1"]
        assert info.decoded_properties == {
            "store": store.id,
            "name": store.name,
            "api": "/api/v1",
            "scheme": "http",
            "broker_port": str(broker_port),
            "broker_tls_port": "",
            "version": __version__,
        }
        broker = await browser.resolve(MQTT_TYPE, f"store-edge {store.id}.{MQTT_TYPE}")
        assert broker.port == broker_port and broker.decoded_properties["store"] == store.id

        (code, out), (text_code, text) = await asyncio.gather(
            discover_cli("--json", "--timeout", "3", "--interface", "127.0.0.1"),
            discover_cli("--timeout", "3", "--interface", "127.0.0.1"),
        )
        assert code == 0, out
        found = {s["store"]: s for s in json.loads(out)}
        assert found[store.id] == {
            "store": store.id,
            "name": store.name,
            "instance": f"store-edge {store.id}",
            "host": info.server.rstrip("."),  # type: ignore[union-attr]
            "addresses": ["127.0.0.1"],
            "port": port,
            "scheme": "http",
            "url": f"http://127.0.0.1:{port}",
            "api": "/api/v1",
            "broker_port": broker_port,
            "broker_tls_port": None,
            "version": __version__,
        }
        assert text_code == 0
        (line,) = [row for row in text.splitlines() if row.startswith(store.id)]
        assert f"127.0.0.1:{port}" in line and f"http://127.0.0.1:{port}" in line
        assert str(broker_port) in line and store.name in line

        child.terminate()
        gone = await browser.until(name, ServiceStateChange.Removed, within=15)
        assert gone < 10  # a goodbye, not the records' two-minute TTL running out
        assert await asyncio.to_thread(child.wait, 30) == 0
    finally:
        stop_serve(child)
        await browser.close()
    assert "zeroconf: announced" in read(log)


async def test_the_server_serves_on_when_it_cannot_announce(tmp_path: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: the announcement cannot start
    settings, config = await store_settings(
        tmp_path, zeroconf=ZeroconfSettings(interfaces=("192.0.2.1",))
    )
    log = tmp_path / "serve.log"
    child = start_serve(config, log)
    try:
        await wait_ready(settings.http.port, child, log)
        deadline = time.monotonic() + 10
        while "zeroconf: cannot announce" not in read(log):
            assert time.monotonic() < deadline, read(log)
            await asyncio.sleep(0.05)
        await wait_ready(settings.http.port, child, log)  # still ready
    finally:
        code = stop_serve(child)
    assert code == 0
    assert "Traceback" not in read(log)


def isolated_discover(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run `edge discover` in a network namespace of its own (only its loopback)."""
    unshare = shutil.which("unshare")
    assert unshare is not None, "unshare (util-linux) is missing: `make system-deps` installs it"
    probe = subprocess.run([unshare, "-rn", "true"], check=False, capture_output=True, text=True)
    assert probe.returncode == 0, f"cannot make a private network namespace: {probe.stderr}"
    script = 'ip link set lo up && exec "$0" -m edge discover "$@"'
    return subprocess.run(
        [unshare, "-rn", "sh", "-c", script, sys.executable, *argv],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


# Two hosts on one LAN: this namespace with v0 (10.77.0.1) and a namespace inside it with v1
# (10.77.0.2), a veth pair between them. The other host announces first; then this one runs.
TWO_HOSTS = r"""
set -e
PY="$1"; PEER="$2"; ID="$3"; READY="$4"
ip link set lo up
ip link add v0 type veth peer name v1
unshare -n sh -c 'until ip -4 addr show dev v1 2>/dev/null | grep -q 10.77.0.2; do sleep 0.05; done
ip link set lo up
exec "$0" "$1" squat "$2" 10.77.0.2 "$3"' "$PY" "$PEER" "$ID" "$READY" &
OTHER=$!
trap 'kill $OTHER 2>/dev/null || true' EXIT
until [ "$(readlink /proc/$OTHER/ns/net)" != "$(readlink /proc/$$/ns/net)" ]; do sleep 0.01; done
ip link set v1 netns "$OTHER"
nsenter -t "$OTHER" -n sh -c 'ip addr add 10.77.0.2/24 dev v1 && ip link set v1 up'
ip addr add 10.77.0.1/24 dev v0
ip link set v0 up
for _ in $(seq 400); do [ -s "$READY" ] && break; sleep 0.05; done
[ -s "$READY" ] || { echo "the other host never announced its name" >&2; exit 3; }
"$PY" "$PEER" advertise "$ID" 10.77.0.1
"""


def test_a_taken_name_gets_a_number_and_the_server_says_so(tmp_path: Path) -> None:
    """Another machine on the LAN already announces the store's name: the server takes -2."""
    unshare = shutil.which("unshare")
    assert unshare is not None, "unshare (util-linux) is missing: `make system-deps` installs it"
    store_id = f"ZC-{uuid.uuid4().hex[:8]}"
    ready = tmp_path / "other-host-ready"
    peer = Path(__file__).with_name("mdns_peer.py")
    done = subprocess.run(
        [unshare, "-rn", "sh", "-c", TWO_HOSTS, "two-hosts", sys.executable, str(peer),
         store_id, str(ready)],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert ready.read_text(encoding="utf-8") == f"store-edge {store_id}.{SERVICE_TYPE}"
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["names"] == [f"store-edge {store_id}-2.{SERVICE_TYPE}"], seen
    assert f"store-edge {store_id}.{SERVICE_TYPE} is taken on the LAN" in seen["log"]


def test_discover_says_when_nothing_is_found() -> None:
    done = isolated_discover("--timeout", "1", "--interface", "127.0.0.1")
    assert (done.returncode, done.stdout, done.stderr) == (0, "no store server found\n", "")
    done = isolated_discover("--json", "--timeout", "1", "--interface", "127.0.0.1")
    assert (done.returncode, json.loads(done.stdout)) == (0, [])


def test_discover_names_a_bad_interface(capsys: pytest.CaptureFixture[str]) -> None:
    from edge.cli import main  # noqa: PLC0415

    assert main(["discover", "--timeout", "0.2", "--interface", "192.0.2.1"]) == 1
    assert "edge discover: cannot browse on 192.0.2.1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["discover", "--interface", "eth0"])
    with pytest.raises(SystemExit):
        main(["discover", "--timeout", "0"])


def base(**parts: Any) -> Settings:
    return Settings(**{"store": StoreSettings(id="S-1", name="一号店"), **parts})


async def test_announced_addresses_follow_where_http_listens() -> None:
    configured = base(zeroconf=ZeroconfSettings(interfaces=("192.168.1.10",)))
    assert await advertised_addresses(configured) == ["192.168.1.10"]
    assert await advertised_addresses(base(http=HttpSettings(host="127.0.0.1"))) == LOOPBACK
    assert await advertised_addresses(base(http=HttpSettings(host="localhost"))) == LOOPBACK
    everywhere = await advertised_addresses(base(http=HttpSettings(host="0.0.0.0")))
    assert everywhere == lan_addresses()
    assert "127.0.0.1" not in everywhere


def test_records_say_what_the_server_offers() -> None:
    def infos(settings: Settings, addresses: list[str], broker: int | None) -> dict[str, Any]:
        made = service_infos(
            settings, http_port=8443, broker_port=broker, addresses=addresses, server="edge.local."
        )
        return {info.type: info for info in made}

    plain = infos(base(), LOOPBACK, None)
    assert list(plain) == [SERVICE_TYPE]
    assert plain[SERVICE_TYPE].decoded_properties["broker_port"] == ""
    assert plain[SERVICE_TYPE].name == f"store-edge S-1.{SERVICE_TYPE}"

    # an embedded broker on loopback is no use to devices on the LAN
    embedded = base(mqtt=MqttSettings(broker="embedded", host="127.0.0.1", port=1883))
    assert list(infos(embedded, ["192.168.1.10"], 1883)) == [SERVICE_TYPE]
    assert list(infos(embedded, LOOPBACK, 1883)) == [SERVICE_TYPE, MQTT_TYPE]

    secure = base(
        mqtt=MqttSettings(broker="external", port=1883, tls_port=8883),
        tls=TlsSettings(cert="s.pem", key="s.key"),
    )
    made = infos(secure, ["192.168.1.10"], 1883)
    txt = made[SERVICE_TYPE].decoded_properties
    assert (txt["scheme"], txt["broker_port"], txt["broker_tls_port"]) == ("https", "1883", "8883")
    assert made[MQTT_TYPE].port == 1883 and made[MQTT_TYPE].decoded_properties["tls_port"] == "8883"
    found = found_server(made[SERVICE_TYPE])
    assert found.url == "https://edge.local:8443"  # the certificate names the host
    assert (found.broker_port, found.broker_tls_port, found.store) == (1883, 8883, "S-1")

    long_name = base(store=StoreSettings(id="S-1", name="店" * 100))
    text = infos(long_name, LOOPBACK, None)[SERVICE_TYPE].decoded_properties["name"]
    assert text == "店" * 66  # cut to whole characters within a TXT string


def test_zeroconf_settings() -> None:
    raw = {"store": {"id": "S-1"}, "zeroconf": {"interfaces": ["127.0.0.1", "::1"]}}
    assert settings_from_mapping(raw, {}).zeroconf == ZeroconfSettings(
        enabled=True, interfaces=("127.0.0.1", "::1")
    )
    env = {"EDGE_ZEROCONF_INTERFACES": "10.0.0.2, 10.0.0.3", "EDGE_ZEROCONF_ENABLED": "no"}
    assert settings_from_mapping({"store": {"id": "S-1"}}, env).zeroconf == ZeroconfSettings(
        enabled=False, interfaces=("10.0.0.2", "10.0.0.3")
    )
    with pytest.raises(SettingsError) as caught:
        settings_from_mapping({"store": {"id": "S-1"}, "zeroconf": {"interfaces": ["eth0"]}}, {})
    assert str(caught.value).startswith("zeroconf.interfaces: 'eth0' is not an IP address")
    with pytest.raises(SettingsError, match=r"zeroconf\.interfaces: must be a list of strings"):
        settings_from_mapping({"store": {"id": "S-1"}, "zeroconf": {"interfaces": "all"}}, {})
