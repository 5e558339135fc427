"""The broker side: a private Mosquitto child for the demo and tests, and file reloads.

Production runs Debian's Mosquitto service with the drop-in config, password file and ACL
file that provisioning writes; the server only asks it to re-read them (SIGHUP to the pid in
`mqtt.broker_pid_file`). With `mqtt.broker = "embedded"` the server runs `mosquitto -c` itself
in the foreground as a child, with the same kind of config in `data_dir/mqtt/`, and stops it
on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
import secrets
import shutil
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from edge.services.devices import BrokerFiles
from edge.settings import MqttSettings, Settings

log = logging.getLogger(__name__)


PLUGIN_NAME = "mosquitto_dynamic_security.so"


@dataclass(frozen=True)
class BrokerTls:
    """The broker's MQTT-over-TLS listener: its port and the store's certificate files."""

    port: int
    certfile: str  # server.pem: the certificate and its chain
    keyfile: str
    cafile: str = ""  # the store CA (optional: devices do not log in with certificates)


def broker_tls(settings: Settings) -> BrokerTls | None:
    """Return the TLS listener the settings ask for (mqtt.tls_port with [tls] files), or None."""
    if not settings.mqtt.tls_port or not settings.tls.cert:
        return None
    tls = settings.tls
    return BrokerTls(settings.mqtt.tls_port, tls.cert, tls.key, tls.ca)


def find_plugin(configured: Path | None) -> Path:
    """Return the dynamic-security plugin of the installed Mosquitto."""
    if configured is not None:
        return configured
    candidates = [
        *sorted(Path("/usr/lib").glob(f"*/{PLUGIN_NAME}")),
        Path("/usr/lib") / PLUGIN_NAME,
        Path("/usr/local/lib") / PLUGIN_NAME,
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise RuntimeError(f"{PLUGIN_NAME} not found: install mosquitto or set mqtt.dynsec_plugin")


def broker_config(
    *, host: str, port: int, plugin: Path, dynsec_file: Path, data: Path,
    max_queued: int, run_as: str | None, tls: BrokerTls | None = None,
) -> str:  # fmt: skip
    """Return a mosquitto.conf for one store (same settings as the shipped drop-in).

    With `tls`, a second listener speaks MQTT over TLS (1.2 or newer) with the store's
    certificate, for LAN devices that support it; logins and rights are the same on both.
    """
    lines = [
        "# Written by store-edge for its private broker.",
        "per_listener_settings false",
        f"listener {port} {host}",
        "allow_anonymous false",
        "# logins and rights: refuses what is not granted, SUBSCRIBE included (0x87)",
        f"plugin {plugin}",
        f"plugin_opt_config_file {dynsec_file}",
        "# a device's username is its client id: nobody can take over another's session",
        "use_username_as_clientid true",
        "persistence true",
        f"persistence_location {data}/",
        "autosave_interval 30",
        "persistent_client_expiration 7d",
        "# the default of 1000 drops QoS 1 messages of a busy subscriber in a burst",
        f"max_queued_messages {max_queued}",
        "max_queued_bytes 0",
        "max_inflight_messages 100",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
    ]
    if run_as:
        lines.append(f"user {run_as}")
    if tls is not None:
        lines += [
            "# MQTT over TLS: the options below belong to this listener",
            f"listener {tls.port} {host}",
            *([f"cafile {tls.cafile}"] if tls.cafile else []),
            f"certfile {tls.certfile}",
            f"keyfile {tls.keyfile}",
            "tls_version tlsv1.2",
        ]
    return "\n".join(lines) + "\n"


def server_password(directory: Path, configured: str | None) -> str:
    """Return the server's broker password: the credential, else one kept in `directory`."""
    if configured:
        return configured
    file = directory / "server-password"
    if file.is_file():
        return file.read_text(encoding="utf-8").strip()
    directory.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    return password


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class EmbeddedBroker:
    """A `mosquitto` child process owned by this server."""

    def __init__(
        self, settings: MqttSettings, directory: Path, dynsec_file: Path,
        before_start: Callable[[], Awaitable[None]] | None = None,
        tls: BrokerTls | None = None,
    ) -> None:  # fmt: skip
        """Remember where the broker keeps its files and what to do before each start."""
        self.settings = settings
        self.tls = tls
        self.directory = directory
        self.dynsec_file = dynsec_file
        self.before_start = before_start
        self.port = settings.port
        self.restarts = 0
        self._process: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self, within: float = 10.0) -> None:
        """Start mosquitto, wait until it listens, and restart it whenever it dies."""
        await self._launch(within)
        self._watch = asyncio.create_task(self._supervise(), name="broker-watch")

    async def _supervise(self) -> None:
        """Start the broker again after a crash (1 s, doubling up to 30 s between tries)."""
        delay = 1.0
        while True:
            process = self._process
            if process is None:
                return
            code = await process.wait()
            log.error("the private broker (pid %s) died with %s; restarting it", process.pid, code)
            while True:
                await asyncio.sleep(delay)
                try:
                    await self._launch(10.0)
                except (OSError, RuntimeError) as err:
                    log.warning("restarting the broker failed: %s", err)
                    delay = min(delay * 2, 30.0)
                    continue
                self.restarts += 1
                delay = 1.0
                break

    async def _launch(self, within: float) -> None:
        """Write the config, start mosquitto and wait until it accepts connections."""
        if self.before_start is not None:
            await self.before_start()
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "mosquitto.conf"
        conf.write_text(
            broker_config(
                host=self.settings.host,
                port=self.port,
                plugin=find_plugin(self.settings.dynsec_plugin),
                dynsec_file=self.dynsec_file,
                data=self.directory,
                max_queued=self.settings.max_queued_messages,
                run_as=getpass.getuser() if os.geteuid() == 0 else None,
                tls=self.tls,
            )
        )
        # the broker dies with the server even when the server is killed (SIGKILL, a crash):
        # util-linux's setpriv sets the parent-death signal, then execs mosquitto in place
        setpriv = shutil.which("setpriv")
        guard = [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []
        self._process = await asyncio.create_subprocess_exec(
            *guard, self.settings.mosquitto, "-c", str(conf),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            if self._process.returncode is not None:
                raise RuntimeError(f"mosquitto exited with {self._process.returncode}")
            try:
                _, writer = await asyncio.open_connection(self.settings.host, self.port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {within} s")

    @property
    def pid(self) -> int | None:
        """Return the child's pid while it runs."""
        return self._process.pid if self._process and self._process.returncode is None else None

    async def stop(self) -> None:
        """Stop watching and stop the child (SIGTERM, then SIGKILL after 5 s)."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def broker_files(settings: Settings) -> BrokerFiles:
    """Return the store's broker files (configured paths, else in the data directory)."""
    mqtt = settings.mqtt
    return BrokerFiles(
        password_file=mqtt.password_file or settings.mqtt_dir / "passwd",
        dynsec_file=mqtt.dynsec_file or settings.mqtt_dir / "dynamic-security.json",
    )
