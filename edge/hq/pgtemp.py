"""A throw-away PostgreSQL cluster in a folder, for the HQ receiver's tests and benchmark.

Uses Debian's PostgreSQL server binaries (`/usr/lib/postgresql/<version>/bin`). PostgreSQL
refuses to run as root, so under root the cluster belongs to the `postgres` system user (made by
the Debian package). The server gets a parent-death signal (set after the switch of user, which
would clear it), so a killed test cannot leave a server behind; start the cluster from the main
thread, since the signal follows the thread that started it. It listens on 127.0.0.1 and on a
socket in its folder only.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: ask for SIGINT (fast shutdown) when the parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)


def server_bindir() -> Path:
    """Return the newest installed PostgreSQL server's bin folder."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL server not found under /usr/lib/postgresql: install the Debian package"
            " postgresql (`make test` does)"
        )
    return found[-1].parent


def _free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class TempCluster:
    """A running throw-away cluster; `dsn` reaches its `edge` database."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes]
    owned_folder: bool

    @property
    def dsn(self) -> str:
        """Return the connection string (TCP on 127.0.0.1, trust authentication)."""
        return f"postgresql://edge@127.0.0.1:{self.port}/edge"

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove the folder if we made it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        if self.owned_folder:
            shutil.rmtree(self.folder, ignore_errors=True)


def start_cluster(
    folder: Path | None = None, *, durable: bool = False, settings: dict[str, str] | None = None
) -> TempCluster:
    """Make a cluster in `folder` (a new temp folder by default) and start it.

    `durable=False` turns fsync off (tests); the benchmark keeps PostgreSQL's defaults.
    """
    bindir = server_bindir()
    owned = folder is None
    folder = Path(tempfile.mkdtemp(prefix="edge-pg-")) if folder is None else folder
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data"
    run_as: dict[str, object] = {}
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "TZ": "UTC"}
    made = subprocess.run(  # noqa: S603 - fixed argv
        [str(bindir / "initdb"), "-D", str(data), "-U", "edge", "-A", "trust",
         "-E", "UTF8", "--no-sync", "--locale=C.UTF-8"],
        check=False, capture_output=True, env=env, cwd=folder, **run_as,  # type: ignore[call-overload]
    )  # fmt: skip
    if made.returncode != 0:
        raise RuntimeError(f"initdb failed in {folder}: {made.stderr.decode(errors='replace')}")
    port = _free_port()
    options = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": str(folder),
        "max_connections": "60",
        "shared_buffers": "128MB",
        "logging_collector": "off",
    }
    if not durable:
        options |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
    options |= settings or {}
    argv = [str(bindir / "postgres"), "-D", str(data)]
    for name, value in options.items():
        argv += ["-c", f"{name}={value}"]
    log = (folder / "server.log").open("ab")
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        env=env,
        cwd=folder,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a prctl before exec
        **run_as,  # type: ignore[call-overload]
    )
    log.close()
    cluster = TempCluster(folder, port, process, owned)
    try:
        _wait_ready(cluster, bindir, run_as, env)
        subprocess.run(  # noqa: S603 - fixed argv
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "edge", "edge"],
            check=True, capture_output=True, env=env, cwd=folder, **run_as,  # type: ignore[call-overload]
        )  # fmt: skip
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _wait_ready(
    cluster: TempCluster, bindir: Path, run_as: dict[str, object], env: dict[str, str]
) -> None:
    """Wait until the server accepts connections (or fail with its log)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if cluster.process.poll() is not None:
            break
        probe = subprocess.run(  # noqa: S603 - fixed argv
            [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(cluster.port)],
            check=False, env=env, cwd=cluster.folder, **run_as,  # type: ignore[call-overload]
        )  # fmt: skip
        if probe.returncode == 0:
            return
        time.sleep(0.1)
    text = ""
    with contextlib.suppress(OSError):
        text = (cluster.folder / "server.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"PostgreSQL did not start on port {cluster.port}:\n{text}")
