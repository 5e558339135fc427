"""`edge tls init|show`, HTTPS from `edge serve` (with workers), and the broker's TLS listener."""

from __future__ import annotations

import asyncio
import http.client
import ipaddress
import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from cryptography import x509
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from paho.mqtt.enums import CallbackAPIVersion

from edge.app import create_app, receipt_context
from edge.bus.broker import BrokerTls, broker_config, free_port
from edge.cli import main
from edge.protocol.mqtt import encode, topic
from edge.server import tls_context
from edge.services.store import init_store_ledger
from edge.settings import (
    HttpSettings,
    MqttSettings,
    PathSettings,
    Settings,
    SettingsError,
    TlsSettings,
    load_settings,
    render_toml,
    settings_from_mapping,
)
from edge.tls import new_key, private_pem
from tests.conftest import STORE
from tests.integration.bus_store import add_device, bus_of, until
from tests.integration.conftest import authorize

MACHINE = socket.gethostname().lower()
HOSTNAME = MACHINE.split(".")[0]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def init(capsys: pytest.CaptureFixture[str], folder: Path, *extra: str) -> tuple[int, str, str]:
    return run(capsys, "tls", "init", "--dir", str(folder), "--store", STORE.id, *extra)


def certs(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


@pytest.fixture
def tls_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    folder = tmp_path / "tls"
    code, _, err = init(capsys, folder, "--host", "edge.store.lan", "--ip", "192.168.10.5")
    assert code == 0, err
    return folder


def test_init_writes_the_files_with_safe_modes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "tls"
    code, out, err = init(capsys, folder, "--ip", "192.168.10.5")
    assert (code, err) == (0, "")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert modes == {
        "ca.pem": 0o644,
        "ca.key": 0o600,
        "server.pem": 0o644,
        "server.key": 0o600,
        "store-ca.crt": 0o644,
    }
    assert stat.S_IMODE(folder.stat().st_mode) & 0o007 == 0  # nothing for other users
    (ca,) = certs(folder / "ca.pem")
    assert certs(folder / "store-ca.crt") == [ca]  # the trust bundle is the CA only
    assert b"PRIVATE" not in (folder / "store-ca.crt").read_bytes()
    server, chained = certs(folder / "server.pem")
    assert chained == ca
    assert ca.subject.rfc4514_string() == f"CN=store-edge CA {STORE.id},O=store-edge"
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    now = datetime.now(UTC)
    assert 3640 <= (ca.not_valid_after_utc - now).days <= 3650
    assert 720 <= (server.not_valid_after_utc - now).days <= 730
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert "/usr/local/share/ca-certificates/" in out and "update-ca-certificates" in out
    assert "certutil -d sql:$HOME/.pki/nssdb" in out
    assert f'cert = "{folder.resolve() / "server.pem"}"' in out


def test_server_certificate_verifies_against_the_ca_for_its_names_only(tls_dir: Path) -> None:
    (ca,) = certs(tls_dir / "store-ca.crt")
    server, _ = certs(tls_dir / "server.pem")
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    expected = [MACHINE, f"{HOSTNAME}.local", "localhost", "edge.store.lan"]
    assert san.get_values_for_type(DNSName) == list(dict.fromkeys(expected))
    assert [str(a) for a in san.get_values_for_type(IPAddress)] == ["127.0.0.1", "192.168.10.5"]
    store = Store([ca])
    builder = PolicyBuilder().store(store)
    for name in (DNSName("localhost"), DNSName("edge.store.lan"), DNSName(f"{HOSTNAME}.local")):
        chain = builder.build_server_verifier(name).verify(server, [])
        assert chain[-1] == ca
    for address in ("127.0.0.1", "192.168.10.5"):
        verifier = builder.build_server_verifier(IPAddress(ipaddress.ip_address(address)))
        assert verifier.verify(server, [])[-1] == ca
    with pytest.raises(VerificationError):
        builder.build_server_verifier(DNSName("other.store.lan")).verify(server, [])
    # OpenSSL agrees, and without the store CA it refuses
    done = subprocess.run(
        ["openssl", "verify", "-CAfile", str(tls_dir / "ca.pem"), "-purpose", "sslserver",
         str(tls_dir / "server.pem")],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert (done.returncode, done.stdout.strip()) == (0, f"{tls_dir / 'server.pem'}: OK")
    done = subprocess.run(
        ["openssl", "verify", str(tls_dir / "server.pem")],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert done.returncode != 0


def test_init_refuses_to_overwrite_renews_and_forces(
    tls_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {p.name: p.read_bytes() for p in tls_dir.iterdir()}
    code, _, err = init(capsys, tls_dir)
    assert code == 1
    assert "already holds" in err and "--renew" in err and "--force" in err
    assert {p.name: p.read_bytes() for p in tls_dir.iterdir()} == before

    # --renew: the same CA, a new server key and certificate, old names kept, new ones added
    code, out, err = init(capsys, tls_dir, "--renew", "--host", "till-gw.store.lan", "--days", "30")
    assert (code, err) == (0, ""), err
    assert "CA kept" in out
    for name in ("ca.pem", "ca.key", "store-ca.crt"):
        assert (tls_dir / name).read_bytes() == before[name]
    assert (tls_dir / "server.key").read_bytes() != before["server.key"]
    server, _ = certs(tls_dir / "server.pem")
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"edge.store.lan", "till-gw.store.lan"} <= set(names.get_values_for_type(DNSName))
    assert "192.168.10.5" in {str(a) for a in names.get_values_for_type(IPAddress)}
    assert 29 <= (server.not_valid_after_utc - datetime.now(UTC)).days <= 30
    server.verify_directly_issued_by(certs(tls_dir / "ca.pem")[0])

    # --force: a new CA
    code, out, err = init(capsys, tls_dir, "--force")
    assert (code, err) == (0, "")
    assert "new CA" in out
    assert (tls_dir / "ca.pem").read_bytes() != before["ca.pem"]
    assert (tls_dir / "store-ca.crt").read_bytes() == (tls_dir / "ca.pem").read_bytes()

    with pytest.raises(SystemExit):  # argparse: the two exclude each other
        init(capsys, tls_dir, "--force", "--renew")


def test_renew_without_a_ca_and_bad_names_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = init(capsys, tmp_path / "none", "--renew")
    assert code == 1 and "no CA in" in err and "edge tls init" in err
    code, _, err = init(capsys, tmp_path / "bad", "--host", "bad name!")
    assert code == 1 and "'bad name!' is not a host name" in err
    code, _, err = init(capsys, tmp_path / "bad", "--ip", "192.168.1.300")
    assert code == 1 and "is not an IP address" in err
    assert not (tmp_path / "bad").exists()
    with pytest.raises(SystemExit):
        init(capsys, tmp_path / "bad", "--days", "0")


def test_init_reads_the_store_and_data_dir_from_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text('[store]\nid = "SH-0042"\n[paths]\ndata_dir = "data"\n', encoding="utf-8")
    code, out, err = run(capsys, "tls", "init", "--config", str(config))
    assert (code, err) == (0, "")
    (ca,) = certs(tmp_path / "data" / "tls" / "ca.pem")
    assert "store-edge CA SH-0042" in ca.subject.rfc4514_string()
    assert "store-edge-SH-0042.crt" in out


def test_show_prints_names_and_days_left_and_finds_problems(
    tls_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "tls", "show", "--dir", str(tls_dir))
    assert code == 0, out
    assert f"CN=store-edge CA {STORE.id},O=store-edge" in out
    assert "edge.store.lan" in out and "192.168.10.5" in out
    assert "days left" in out and "signed by CA yes" in out and "matches" in out
    assert "PROBLEM" not in out

    # a server certificate from another CA, and a key that is not its own
    other = tmp_path / "other"
    assert init(capsys, other)[0] == 0
    (tls_dir / "server.pem").write_bytes((other / "server.pem").read_bytes())
    code, out, _ = run(capsys, "tls", "show", "--dir", str(tls_dir))
    assert code == 1
    assert "is not the private key" in out

    (tls_dir / "server.key").write_bytes((other / "server.key").read_bytes())
    code, out, _ = run(capsys, "tls", "show", "--dir", str(tls_dir))
    assert code == 1
    assert "signed by CA NO" in out and "is not signed by" in out

    (tls_dir / "ca.pem").unlink()
    code, out, _ = run(capsys, "tls", "show", "--dir", str(tls_dir))
    assert code == 1 and "ca.pem does not exist" in out


def test_tls_settings_errors_are_named(tmp_path: Path) -> None:
    def problems(raw: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, str]:
        with pytest.raises(SettingsError) as caught:
            settings_from_mapping({"store": {"id": "S-1"}, **raw}, env or {})
        return {e.field: e.message for e in caught.value.errors}

    assert problems({"tls": {"cert": "server.pem"}}) == {
        "tls.key": "is required when tls.cert is set"
    }
    assert problems({"tls": {"key": "server.key"}}) == {
        "tls.cert": "is required when tls.key is set"
    }
    assert "needs tls.cert" in problems({"mqtt": {"tls_port": 8883}})["mqtt.tls_port"]
    clash = {"tls": {"cert": "a", "key": "b"}, "mqtt": {"port": 8883, "tls_port": 8883}}
    assert problems(clash) == {"mqtt.tls_port": "must differ from mqtt.port"}
    assert "mqtt.tls_port" in problems({}, {"EDGE_MQTT_TLS_PORT": "70000"})
    assert problems({"tls": {"cert": 5}}) == {"tls.cert": "must be a string, got 5"}

    config = tmp_path / "etc" / "edge.toml"
    config.parent.mkdir()
    config.write_text(
        '[store]\nid = "S-1"\n[tls]\ncert = "tls/server.pem"\nkey = "/srv/server.key"\n'
        'ca = ""\n[mqtt]\ntls_port = 8883\n',
        encoding="utf-8",
    )
    settings = load_settings(config, env={})
    assert settings.tls == TlsSettings(
        cert=str(tmp_path / "etc" / "tls" / "server.pem"), key="/srv/server.key", ca=""
    )
    assert settings.tls.enabled and settings.mqtt.tls_port == 8883
    assert not load_settings(config, env={"EDGE_TLS_CERT": "", "EDGE_TLS_KEY": "",
                                          "EDGE_MQTT_TLS_PORT": "0"}).tls.enabled  # fmt: skip


def test_the_https_context_refuses_tls_below_1_2(tls_dir: Path) -> None:
    context = tls_context(Settings(store=STORE, tls=files(tls_dir)))
    assert context is not None and context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert tls_context(Settings(store=STORE)) is None


def test_receipts_link_to_https_when_tls_is_on() -> None:
    plain = Settings(store=STORE, http=HttpSettings(host="0.0.0.0", port=8443))
    assert receipt_context(plain).e_receipt_base == "http://127.0.0.1:8443"
    secure = Settings(store=STORE, http=plain.http, tls=TlsSettings(cert="s.pem", key="s.key"))
    assert receipt_context(secure).e_receipt_base == "https://127.0.0.1:8443"


def serve_config(tmp_path: Path, tls: TlsSettings, **http: Any) -> Path:
    settings = Settings(
        store=STORE,
        paths=PathSettings(data_dir=tmp_path / "data"),
        http=HttpSettings(host="127.0.0.1", **http),
        tls=tls,
    )
    config = tmp_path / "edge.toml"
    config.write_text(render_toml(settings), encoding="utf-8")
    return config


def files(folder: Path) -> TlsSettings:
    return TlsSettings(
        cert=str(folder / "server.pem"), key=str(folder / "server.key"), ca=str(folder / "ca.pem")
    )


def https_get(port: int, path: str, context: ssl.SSLContext) -> tuple[int, Any]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_serve_answers_https_to_tills_that_trust_the_store_ca(
    tls_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    config = serve_config(tmp_path, files(tls_dir), port=port, workers=2)
    asyncio.run(init_store_ledger(load_settings(config, env={})))
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}
    env["EDGE_ZEROCONF_ENABLED"] = "false"
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-m", "edge", "serve", "--config", str(config)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env,
        )  # fmt: skip
    till = ssl.create_default_context(cafile=str(tls_dir / "store-ca.crt"))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert child.poll() is None, log.read_text()
            try:
                status, ready = https_get(port, "/readyz", till)
                if status == 200 and ready["checks"].get("workers", {}).get("ok"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "never ready over HTTPS"
            time.sleep(0.1)
        pids = {https_get(port, "/healthz", till)[1]["pid"] for _ in range(40)}
        assert len(pids) == 2, pids  # the primary and its worker both serve HTTPS

        untrusting = ssl.create_default_context()  # the system's CAs only
        with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
            https_get(port, "/healthz", untrusting)
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"),
        ):
            till.wrap_socket(raw, server_hostname="elsewhere.example")
        plain = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            plain.request("GET", "/healthz")
            plain.getresponse().read()
        plain.close()
    finally:
        child.terminate()
        try:
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert child.returncode == 0
    assert "Traceback" not in log.read_text()
    assert f"serving store {STORE.id} on https://127.0.0.1:{port}" in log.read_text()


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ("missing cert", "tls.cert: {dir}/gone.pem does not exist"),
        ("foreign key", "tls.key: {dir}/other.key is not the private key of the certificate"),
        ("missing ca", "tls.ca: {dir}/nothing.pem does not exist"),
        ("not a certificate", "tls.cert: {dir}/server.key is not a PEM certificate file"),
    ],
)
def test_serve_with_bad_tls_files_stops_with_a_clear_error(
    tls_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], breakage: str,
    expected: str,
) -> None:  # fmt: skip
    chosen = files(tls_dir)
    if breakage == "missing cert":
        chosen = TlsSettings(cert=str(tls_dir / "gone.pem"), key=chosen.key)
    elif breakage == "foreign key":
        (tls_dir / "other.key").write_bytes(private_pem(new_key()))
        chosen = TlsSettings(cert=chosen.cert, key=str(tls_dir / "other.key"))
    elif breakage == "missing ca":
        chosen = TlsSettings(cert=chosen.cert, key=chosen.key, ca=str(tls_dir / "nothing.pem"))
    else:
        chosen = TlsSettings(cert=chosen.key, key=chosen.key)
    config = serve_config(tmp_path, chosen, port=0)
    code, _, err = run(capsys, "serve", "--config", str(config))
    assert code == 1
    assert err.startswith("configuration problems:\n")
    assert expected.format(dir=tls_dir) in err
    assert "Traceback" not in err


def test_broker_config_has_a_tls_listener_only_when_asked(tmp_path: Path) -> None:
    common: dict[str, Any] = {
        "host": "127.0.0.1", "port": 1883, "plugin": Path("/p.so"), "dynsec_file": Path("/d.json"),
        "data": tmp_path, "max_queued": 10, "run_as": None,
    }  # fmt: skip
    assert "certfile" not in broker_config(**common)
    text = broker_config(**common, tls=BrokerTls(8883, "/t/server.pem", "/t/server.key", "/t/ca"))
    tail = text.splitlines()[text.splitlines().index("listener 8883 127.0.0.1") :]
    assert tail == [
        "listener 8883 127.0.0.1",
        "cafile /t/ca",
        "certfile /t/server.pem",
        "keyfile /t/server.key",
        "tls_version tlsv1.2",
    ]


def mqtt_over_tls(
    port: int, username: str, password: str, context: ssl.SSLContext, message: tuple[str, bytes]
) -> str:
    """Connect as a device over TLS, publish one retained QoS 1 message; return the outcome."""
    connected = threading.Event()
    outcome: list[str] = []

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        outcome.append(str(reason))
        connected.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=username, protocol=paho.MQTTv5)
    client.username_pw_set(username, password)
    client.tls_set_context(context)
    client.on_connect = on_connect
    client.connect("127.0.0.1", port, keepalive=15)  # the TLS handshake happens here
    client.loop_start()
    try:
        assert connected.wait(10)
        if outcome[0] == "Success":
            client.publish(*message, qos=1, retain=True).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()
    return outcome[0]


async def test_embedded_broker_accepts_devices_over_tls(
    aiohttp_client: Any, tls_dir: Path, tmp_path: Path
) -> None:
    settings = Settings(store=STORE, paths=PathSettings(data_dir=tmp_path / "data"))
    await init_store_ledger(settings)
    tls_port = free_port()
    secured = Settings(
        store=STORE,
        paths=settings.paths,
        mqtt=MqttSettings(broker="embedded", port=0, tls_port=tls_port),
        tls=files(tls_dir),
    )
    client = await aiohttp_client(create_app(secured))
    await asyncio.wait_for(bus_of(client).session.ever_connected.wait(), 10)
    assert f"listener {tls_port} 127.0.0.1" in (secured.mqtt_dir / "mosquitto.conf").read_text()
    await authorize(client)
    _, password = await add_device(client, "scanner-01", "scanner")
    status = (
        topic(STORE.id, "scanner", "scanner-01", "status"),
        encode({"state": "online", "ts": int(time.time() * 1000), "model": "t", "fw": "1"}),
    )
    trusting = ssl.create_default_context(cafile=str(tls_dir / "store-ca.crt"))
    counts = bus_of(client).router.counts
    handled = counts["handled"]
    reason = await asyncio.to_thread(
        mqtt_over_tls, tls_port, "scanner-01", password, trusting, status
    )
    assert reason == "Success"
    await until(lambda: counts["handled"] == handled + 1, within=10)  # the server heard it
    response = await client.get("/api/v1/devices")
    states = {d["id"]: d["state"] for d in (await response.json())["devices"]}
    assert states["scanner-01"] == "online"

    untrusting = ssl.create_default_context()
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.to_thread(mqtt_over_tls, tls_port, "scanner-01", password, untrusting, status)
    wrong = await asyncio.to_thread(mqtt_over_tls, tls_port, "scanner-01", "nope", trusting, status)
    assert wrong != "Success"  # the same logins as the plain listener
