"""Ansible provisioning (ansible/): syntax, ansible-lint's production profile, and a real run.

site.yml runs on this machine with `edge_root` a temporary directory and
`edge_manage_system=false`: every file a store server gets is written below it (apt, users,
pip, udevadm and systemctl are skipped) and read back with the project's own readers
(`load_settings`, the gateway's `load_config`). A real Mosquitto loads the rendered broker
config (plain and TLS listeners) with the document the role seeds, and `edge devices add`
creates a device login through it; a second run changes nothing; bad variables stop the run
naming the variable.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from drivers.gateway import load_config
from edge.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = REPO / "ansible"
EDGE = Path(sys.executable).parent / "edge"
SEED = ANSIBLE / "roles" / "edge_server" / "files" / "seed_broker_document.py"
ROLES = ("base", "mosquitto", "edge_server", "edge_gateway", "backups")

STORE = "S-ANSIBLE"
NAME = '测试店 "Test" \\ Store'
SECRETS = {
    "hq-key": "hq-key-0123456789abcdef",
    "pin-pepper": "pepper-" + "0123456789abcdef" * 2,
    "broker-password": "broker-0123456789abcdef",
}
GATEWAY_PASSWORD = "gateway-0123456789abcdef"
DEVICES = [
    {"id": "scale-01", "type": "scale", "profile": "toledo8217", "port": "/dev/edge/scale-01"},
    {"id": "printer-01", "type": "printer", "profile": "epson_tm_t88v",
     "usb": {"vid": 1208, "pid": 514, "serial": "X5Y6"}},
    {"id": "drawer-01", "type": "drawer", "via": "printer-01"},
]  # fmt: skip
UDEV = [
    {"name": "scale-01", "subsystem": "tty", "vendor": "0403", "product": "6001", "serial": "A1B2"},
    {"name": "printer-01", "subsystem": "usb", "vendor": "04b8", "product": "0202",
     "path": "1-1.4", "mode": "0664"},
]  # fmt: skip


def tool(name: str) -> str:
    """Return a Debian tool's path, or fail saying how to get it."""
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.is_file()), None
    )
    if found is None:
        pytest.fail(
            f"{name} is not installed: `make test` installs it (Debian packages ansible-core, "
            "ansible-lint, mosquitto, openssl)"
        )
    return found


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """Return this environment without Ansible, Python or store-edge settings, plus `extra`."""
    prefixes = ("ANSIBLE_", "PYTHON", "VIRTUAL_ENV", "EDGE_", "CREDENTIALS_DIRECTORY")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(extra)
    return env


def ansible_env(tmp: Path) -> dict[str, str]:
    """Return an environment that keeps Ansible's and ansible-lint's files in `tmp`."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    return clean_env(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        ANSIBLE_CONFIG=str(ANSIBLE / "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-local"),
        ANSIBLE_REMOTE_TEMP=str(tmp / "ansible-remote"),
        ANSIBLE_NOCOLOR="1",
        NO_COLOR="1",
        PYTHONDONTWRITEBYTECODE="1",
    )


@dataclass
class Site:
    """A fake-root provisioning of localhost and what it was given."""

    tmp: Path
    root: Path
    inventory: Path
    mqtt_port: int
    tls_port: int
    dynsec: Path
    cert: Path
    first: subprocess.CompletedProcess[str]


def playbook(
    tmp: Path, inventory: Path, root: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run site.yml on localhost in fake-root mode; return the finished process."""
    fake_root = json.dumps({"edge_root": str(root), "edge_manage_system": False})
    return subprocess.run(
        [tool("ansible-playbook"), "-i", str(inventory), "site.yml", "-e", fake_root, *args],
        cwd=ANSIBLE,
        env=ansible_env(tmp),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def recap(output: str) -> dict[str, int]:
    """Return the PLAY RECAP counters of localhost."""
    match = re.search(r"^localhost\s+:\s+(.*)$", output, re.MULTILINE)
    assert match is not None, output[-3000:]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def make_cert(folder: Path) -> tuple[Path, Path]:
    """Make a self-signed certificate for 127.0.0.1 (it is its own CA); return cert and key."""
    cert, key = folder / "server.pem", folder / "server.key"
    subprocess.run(
        [tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """Provision localhost below a temporary root once for the module's tests."""
    tmp = tmp_path_factory.mktemp("ansible")
    root = tmp / "root"
    root.mkdir()
    cert, key = make_cert(tmp)
    mqtt_port, tls_port = free_port(), free_port()
    dynsec = tmp / "mosquitto" / "dynamic-security.json"
    host: dict[str, Any] = {
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "edge_server_store_id": STORE,
        "edge_server_store_name": NAME,
        "edge_server_store_locale": "en",
        "edge_server_http_port": 8181,
        "edge_server_hq_url": "https://hq.example.com/edge",
        "edge_server_hq_key": SECRETS["hq-key"],
        "edge_server_pin_pepper": SECRETS["pin-pepper"],
        "edge_server_broker_password": SECRETS["broker-password"],
        "edge_server_mqtt_port": mqtt_port,
        "edge_server_mqtt_dynsec_file": str(dynsec),
        "edge_server_settings": {"tax": {"mode": "exclusive"}, "hours": {"mon": "08:00-22:00"}},
        "mosquitto_listen_address": "127.0.0.1",
        "mosquitto_port": mqtt_port,
        "mosquitto_tls": True,
        "mosquitto_tls_port": tls_port,
        "mosquitto_tls_cafile": str(cert),
        "mosquitto_tls_certfile": str(cert),
        "mosquitto_tls_keyfile": str(key),
        "mosquitto_dynsec_file": str(dynsec),
        "base_udev_devices": UDEV,
        "edge_gateway_store_id": STORE,
        "edge_gateway_instances": [
            {"name": "gw-01", "password": GATEWAY_PASSWORD, "devices": DEVICES}
        ],
        "backups_keep": 7,
        "backups_on_calendar": "*-*-* 02:15:00",
    }
    inventory = tmp / "inventory.yml"  # JSON is YAML
    inventory.write_text(
        json.dumps({"all": {"children": {"store_servers": {"hosts": {"localhost": host}}}}}),
        encoding="utf-8",
    )
    first = playbook(tmp, inventory, root)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    return Site(tmp, root, inventory, mqtt_port, tls_port, dynsec, cert, first)


def test_playbook_syntax_checks(tmp_path: Path) -> None:
    done = subprocess.run(
        [tool("ansible-playbook"), "--syntax-check", "-i", "inventory.example.yml", "site.yml"],
        cwd=ANSIBLE,
        env=ansible_env(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "playbook: site.yml" in done.stdout


def test_lint_passes_the_production_profile(tmp_path: Path) -> None:
    config = yaml.safe_load((ANSIBLE / ".ansible-lint").read_text(encoding="utf-8"))
    assert config["profile"] == "production"
    done = subprocess.run(
        [tool("ansible-lint"), "--offline", "--nocolor"],
        cwd=ANSIBLE,
        env=ansible_env(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Passed with production profile" in done.stdout + done.stderr


def test_every_default_is_documented_in_the_argument_specs() -> None:
    for role in ROLES:
        folder = ANSIBLE / "roles" / role
        defaults = yaml.safe_load((folder / "defaults" / "main.yml").read_text(encoding="utf-8"))
        specs = yaml.safe_load((folder / "meta" / "argument_specs.yml").read_text("utf-8"))
        options = specs["argument_specs"]["main"]["options"]
        assert set(options) == set(defaults), role
        for name, option in options.items():
            assert option.get("default") == defaults[name], f"{role}: {name}"
            assert option.get("description"), f"{role}: {name} has no description"
            assert name.startswith((role + "_", "edge_root", "edge_manage_system")), name


def test_edge_toml_reads_back_with_the_servers_own_loader(site: Site) -> None:
    credentials = site.root / "etc" / "edge" / "credentials"
    settings = load_settings(
        site.root / "etc" / "edge" / "edge.toml", env={"CREDENTIALS_DIRECTORY": str(credentials)}
    )
    assert (settings.store.id, settings.store.name, settings.store.locale) == (STORE, NAME, "en")
    assert (settings.http.port, settings.http.workers) == (8181, 1)
    assert str(settings.paths.data_dir) == "/var/lib/edge"
    assert (settings.mqtt.broker, settings.mqtt.port) == ("external", site.mqtt_port)
    assert settings.mqtt.dynsec_file == site.dynsec
    assert settings.hq.url == "https://hq.example.com/edge"
    assert (settings.tax.mode, settings.hours.mon) == ("exclusive", "08:00-22:00")
    # the credential files are the ones the server reads from $CREDENTIALS_DIRECTORY
    assert settings.secrets.hq_key == SECRETS["hq-key"]
    assert settings.secrets.pin_pepper == SECRETS["pin-pepper"]
    assert settings.secrets.broker_password == SECRETS["broker-password"]


def test_credentials_are_readable_by_root_only(site: Site) -> None:
    credentials = site.root / "etc" / "edge" / "credentials"
    assert credentials.stat().st_mode & 0o777 == 0o700
    names = sorted(p.name for p in credentials.iterdir())
    assert names == sorted([*SECRETS, "gateway-gw-01-password"])
    for file in credentials.iterdir():
        assert file.stat().st_mode & 0o777 == 0o600, file.name
    # the unit's LoadCredential= lines name exactly these files
    unit = (site.root / "etc" / "systemd" / "system" / "edge.service").read_text("utf-8")
    loaded = re.findall(r"^LoadCredential=([\w-]+):/etc/edge/credentials/([\w-]+)$", unit, re.M)
    assert sorted(loaded) == sorted((name, name) for name in SECRETS)
    assert (site.root / "etc" / "edge" / "edge.toml").stat().st_mode & 0o777 == 0o640
    assert SECRETS["broker-password"] not in site.first.stdout


def test_udev_rules_name_the_devices(site: Site) -> None:
    rules = (site.root / "etc" / "udev" / "rules.d" / "70-store-edge.rules").read_text("utf-8")
    lines = [line for line in rules.splitlines() if line and not line.startswith("#")]
    assert lines == [
        (
            'SUBSYSTEM=="tty", ATTRS{idVendor}=="0403", ATTRS{idProduct}=="6001", '
            'ATTRS{serial}=="A1B2", SYMLINK+="edge/scale-01", GROUP="edge", MODE="0660"'
        ),
        (
            'SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ATTRS{idVendor}=="04b8", '
            'ATTRS{idProduct}=="0202", KERNELS=="1-1.4", SYMLINK+="edge/printer-01", '
            'GROUP="edge", MODE="0664"'
        ),
    ]


def test_units_are_the_repositorys_and_backups_follow_the_variables(site: Site) -> None:
    system = site.root / "etc" / "systemd" / "system"
    for unit in ("edge.service", "edge-backup.service", "edge-backup.timer",
                 "edge-gateway@.service"):  # fmt: skip
        assert (system / unit).read_bytes() == (REPO / "systemd" / unit).read_bytes(), unit
    service = (system / "edge-backup.service.d" / "store-edge.conf").read_text("utf-8")
    assert "\nExecStart=\n" in service
    assert (
        "ExecStart=/opt/store-edge/venv/bin/edge ledger backup /var/backups/edge --keep 7 "
        "--config /etc/edge/edge.toml" in service
    )
    timer = (system / "edge-backup.timer.d" / "store-edge.conf").read_text("utf-8")
    assert "\nOnCalendar=\nOnCalendar=*-*-* 02:15:00\n" in timer
    assert (site.root / "var" / "backups" / "edge").is_dir()
    mosquitto = (system / "mosquitto.service.d" / "store-edge.conf").read_text("utf-8")
    assert "Restart=on-failure" in mosquitto
    admin = site.root / "usr" / "local" / "sbin" / "edge-admin"
    assert admin.stat().st_mode & 0o777 == 0o755
    assert "LoadCredential=broker-password:/etc/edge/credentials/broker-password" in (
        admin.read_text("utf-8")
    )


def test_gateway_config_reads_back_with_the_gateways_own_loader(site: Site) -> None:
    credentials = site.tmp / "gateway-credentials"  # what LoadCredential= hands the instance
    credentials.mkdir()
    shutil.copy(
        site.root / "etc" / "edge" / "credentials" / "gateway-gw-01-password",
        credentials / "broker-password",
    )
    config = load_config(
        site.root / "etc" / "edge" / "gateway-gw-01.toml",
        env={"CREDENTIALS_DIRECTORY": str(credentials)},
    )
    assert (config.id, config.store, config.host, config.port) == (
        "gw-01", STORE, "127.0.0.1", 1883,
    )  # fmt: skip
    assert config.password == GATEWAY_PASSWORD
    assert config.devices == DEVICES
    assert str(config.state_dir) == "/var/lib/edge-gateway/gw-01"
    assert str(config.profile_root) == "/opt/store-edge/firmware-config"
    # the profiles the devices name, as the repository has them (the wheel carries none)
    copied = site.root / "opt" / "store-edge" / "firmware-config"
    named = sorted(f"{d['type']}s/{d['profile']}.toml" for d in DEVICES if "profile" in d)
    assert sorted(str(p.relative_to(copied)) for p in copied.rglob("*.toml")) == named
    for relative in named:
        original = REPO / "firmware-config" / relative
        assert (copied / relative).read_bytes() == original.read_bytes(), relative


def mqtt_connect(port: int, user: str, password: str, ca: Path | None = None) -> int:
    """Connect with MQTT v5 and return the CONNACK reason code (0 = accepted)."""
    outcome: dict[str, int] = {}
    done = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=paho.MQTTv5)
    client.username_pw_set(user, password)
    if ca is not None:
        client.tls_set(ca_certs=str(ca))

    def on_connect(_c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        outcome.setdefault("reason", reason.value)
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert done.wait(10), f"no CONNACK from 127.0.0.1:{port}"
    finally:
        client.disconnect()
        client.loop_stop()
    return outcome["reason"]


@contextlib.contextmanager
def running_mosquitto(site: Site) -> Iterator[Path]:
    """Run Mosquitto with a main config like Debian's that includes the rendered conf.d."""
    data = site.tmp / "mosquitto-data"
    data.mkdir(exist_ok=True)
    main = site.tmp / "mosquitto.conf"
    main.write_text(
        "persistence true\n"
        f"persistence_location {data}/\n"
        "log_dest stderr\n"
        f"user {getpass.getuser()}\n"
        f"include_dir {site.root}/etc/mosquitto/conf.d\n",
        encoding="utf-8",
    )
    log = site.tmp / "mosquitto.log"
    with log.open("w", encoding="utf-8") as out:
        broker = subprocess.Popen(
            [tool("mosquitto"), "-c", str(main)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and broker.poll() is None:
            if " running" in log.read_text("utf-8"):
                break
            time.sleep(0.05)
        assert broker.poll() is None, log.read_text("utf-8")
        assert " running" in log.read_text("utf-8"), log.read_text("utf-8")
        yield log
    finally:
        broker.terminate()
        try:
            broker.wait(5)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait()


def test_mosquitto_runs_the_config_and_the_server_adds_a_device(site: Site) -> None:
    conf = (site.root / "etc" / "mosquitto" / "conf.d" / "store-edge.conf").read_text("utf-8")
    lines = [line.split()[0] for line in conf.splitlines() if line and not line.startswith("#")]
    # listener options before the first listener would open a second one on 0.0.0.0:1883
    before = set(lines[: lines.index("listener")])
    assert not before & {"use_username_as_clientid", "cafile", "certfile", "keyfile", "protocol"}
    assert "persistence_location" not in lines  # Debian's mosquitto.conf sets it; twice is fatal
    listeners = re.findall(r"^listener (.*)$", conf, re.MULTILINE)
    assert listeners == [f"{site.mqtt_port} 127.0.0.1", f"{site.tls_port} 127.0.0.1"]
    # the first document, as the role seeds it: the server's own login only
    credentials = site.root / "etc" / "edge" / "credentials"
    site.dynsec.parent.mkdir(parents=True, exist_ok=True)
    seed = [str(sys.executable), str(SEED), "--store", STORE, "--password-file",
            str(credentials / "broker-password"), "--document", str(site.dynsec)]  # fmt: skip
    done = subprocess.run(seed, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert site.dynsec.stat().st_mode & 0o777 == 0o600
    again = subprocess.run(seed, capture_output=True, text=True, timeout=60, check=False)
    assert again.returncode == 1 and "exists" in again.stderr  # never replaced
    toml = site.root / "etc" / "edge" / "edge.toml"
    env = clean_env(CREDENTIALS_DIRECTORY=str(credentials), EDGE_PATHS_DATA_DIR=str(site.tmp / "d"))
    with running_mosquitto(site) as log:
        opened = re.findall(r"Opening ipv[46] listen socket on port (\d+)", log.read_text("utf-8"))
        assert sorted(map(int, opened)) == sorted([site.mqtt_port, site.tls_port])
        assert "Error" not in log.read_text("utf-8"), log.read_text("utf-8")
        for command in (["init"], ["devices", "add", "--id", "scale-01", "--type", "scale"]):
            done = subprocess.run(
                [str(EDGE), *command, "--config", str(toml)],
                env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                check=False,
            )  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
        assert "not reachable" not in done.stdout  # it went through the live broker
        password = re.search(r"password (\S+)", done.stdout)
        assert password is not None, done.stdout
        assert mqtt_connect(site.mqtt_port, "scale-01", password.group(1)) == 0
        assert mqtt_connect(site.mqtt_port, "scale-01", "wrong-password") == 135
        assert mqtt_connect(site.tls_port, "scale-01", password.group(1), ca=site.cert) == 0
    # the broker saved the new login in the document the server names
    document = json.loads(site.dynsec.read_text("utf-8"))
    assert sorted(c["username"] for c in document["clients"]) == ["edge-server", "scale-01"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"edge_server_http_port": "eighty"}, "edge_server_http_port"),
        ({"edge_server_store_id": "SH 0042!"}, "edge_server_store_id must be 1-32 letters"),
        ({"edge_server_settings": {"tax": {"rates": None}}}, "edge_toml: tax.rates: cannot write"),
        ({"base_udev_devices": [{**UDEV[0], "vendor": "403"}]}, "vendor and product are 4"),
        (
            {
                "edge_gateway_instances": [
                    {
                        "name": "gw-01",
                        "password": GATEWAY_PASSWORD,
                        "devices": [{"id": "till-scale", "type": "scales"}],
                    }
                ]
            },
            "needs an id and a type (scale, scanner, printer",
        ),
    ],
    ids=["wrong-type", "bad-store-id", "unwritable-setting", "bad-udev-id", "bad-device-type"],
)
def test_bad_variables_stop_the_run_naming_them(
    site: Site, tmp_path: Path, override: dict[str, Any], message: str
) -> None:
    role = next(r for r in ROLES if next(iter(override)).startswith(r + "_"))
    done = playbook(tmp_path, site.inventory, tmp_path / "root", "--tags", role,
                    "-e", json.dumps(override))  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert message in output, done.stdout[-4000:]
    for secret in [*SECRETS.values(), GATEWAY_PASSWORD]:
        assert secret not in output
    assert not (tmp_path / "root" / "etc" / "edge" / "edge.toml").exists()


def test_a_second_run_changes_nothing(site: Site) -> None:
    assert recap(site.first.stdout)["changed"] > 0
    second = playbook(site.tmp, site.inventory, site.root)
    assert second.returncode == 0, second.stdout[-6000:]
    counters = recap(second.stdout)
    assert (counters["changed"], counters["failed"]) == (0, 0), second.stdout[-6000:]
