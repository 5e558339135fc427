"""Running the server in the foreground until SIGINT/SIGTERM (`edge serve`, `edge demo`).

With `[http] workers = N` (N > 1) the process that starts is the primary: it holds the store's
writer lock, opens the ledger in shared mode and serves HTTP, then starts N-1 worker processes
(`edge serve --worker`) that accept from the primary's listening sockets (the connections
spread evenly, see `edge.listen`) and write to the same ledger file in turns, group by group.
The primary restarts a worker that dies and stops them all when it stops; a worker whose
primary is gone stops too.
Anything that must run once per store (devices, the HQ link) belongs in the primary.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from edge.app import create_app
from edge.discovery import Advertiser
from edge.ledger.ledger import utc_clock
from edge.listen import (
    ABSENT,
    LISTEN_FDS_ENV,
    TABLE_ENV,
    BalancedSite,
    ConnectionTable,
    inherited_sockets,
    listen_sockets,
)
from edge.sd_notify import keep_watchdog, notify
from edge.settings import FieldError, Settings, SettingsError
from edge.tls import TlsError, check_ca_file, describe, read_certs, server_context
from edge.web.keys import BUS, READINESS

log = logging.getLogger(__name__)

OnReady = Callable[[web.Application, str], Awaitable[None]]
READY_FD_ENV = "EDGE_WORKER_READY_FD"  # a worker writes one line there once it serves
WORKER_STOP_TIMEOUT_S = 15.0
RESTART_DELAY_S = 1.0
CERT_WARN_DAYS = 30
# a request allocates a few thousand objects that almost all die with it: collecting the young
# generation every 700 allocations (Python's default) traversed them again and again for
# nothing (about 2% of the server's CPU under the checkout bench)
GC_YOUNG_THRESHOLD = 10_000


async def run_server(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_clock,
    on_ready: OnReady | None = None,
    stop: asyncio.Event | None = None,
    worker: bool = False,
) -> None:
    """Serve until a signal (or `stop`) arrives; call `on_ready(app, base_url)` once ready."""
    ssl_context = tls_context(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    workers = settings.http.workers
    if workers > 1 and not worker and settings.source is None:
        raise RuntimeError("http.workers > 1 needs the settings file the workers can read")
    app = create_app(settings, clock=clock, shared=workers > 1, worker=worker)
    serving: set[int] = set()
    if workers > 1 and not worker:
        app[READINESS].require("workers")
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    tasks: list[asyncio.Task[None]] = []
    advertiser: Advertiser | None = None
    shared: SharedPort | None = None
    try:
        shared = _shared_port(settings, worker)  # sockets and connection table (workers > 1)
        if shared is None:
            site: web.BaseSite = web.TCPSite(
                runner, settings.http.host, settings.http.port, ssl_context=ssl_context
            )
            await site.start()
        else:
            for sock in shared.sockets:
                site = BalancedSite(
                    runner, sock, shared.table, shared.slot, ssl_context=ssl_context
                )
                await site.start()
        host, port = runner.addresses[0][:2]
        shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104
        scheme = "https" if ssl_context is not None else "http"
        base_url = (
            f"{scheme}://{shown}:{port}" if ":" not in shown else f"{scheme}://[{shown}]:{port}"
        )
        if worker:
            log.info("worker %d serving store %s on %s", os.getpid(), settings.store.id, base_url)
            tasks.append(asyncio.create_task(_orphan_watch(stop)))
            tasks.append(asyncio.create_task(_when_ready(app, base_url, _tell_primary, stop)))
        else:
            log.info("serving store %s on %s", settings.store.id, base_url)
            notify(f"READY=1\nSTATUS=serving store {settings.store.id} on {base_url}")
            advertiser = Advertiser(settings, port, getattr(app.get(BUS), "broker_port", None))
            advertiser.start()  # in the background: READY never waits for multicast
            tasks.append(asyncio.create_task(keep_watchdog()))
            tasks.append(asyncio.create_task(_when_ready(app, base_url, on_ready, stop)))
            tasks.extend(
                asyncio.create_task(
                    _keep_worker(app, settings, port, number, shared, serving=serving, stop=stop)
                )
                for number in range(1, workers)
                if shared is not None
            )
        await stop.wait()
        if not worker:
            notify("STOPPING=1\nSTATUS=stopping")
    finally:
        if advertiser is not None:
            await advertiser.stop()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await runner.cleanup()
        if shared is not None:
            shared.close()


@dataclass
class SharedPort:
    """The listening sockets all the server's processes accept from, and their table."""

    sockets: list[socket.socket]
    table: ConnectionTable
    slot: int  # this process's place in the table (the primary's is 0)

    def close(self) -> None:
        """Close this process's descriptors (the others keep theirs)."""
        for sock in self.sockets:
            sock.close()
        self.table.close()


def _shared_port(settings: Settings, worker: bool) -> SharedPort | None:
    """Open (primary) or take over (worker) the shared port; None with one process."""
    if worker:
        listen, table = os.environ.get(LISTEN_FDS_ENV), os.environ.get(TABLE_ENV)
        if not listen or not table:
            raise RuntimeError(f"a worker needs {LISTEN_FDS_ENV} and {TABLE_ENV} from its primary")
        inherited, slot = ConnectionTable.inherited(table)
        return SharedPort(inherited_sockets(listen), inherited, slot)
    if settings.http.workers <= 1:
        return None
    sockets = listen_sockets(settings.http.host, settings.http.port)
    try:
        return SharedPort(sockets, ConnectionTable.create(settings.http.workers), 0)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise


def tls_context(settings: Settings, now: datetime | None = None) -> ssl.SSLContext | None:
    """Return the HTTPS context of [tls] (None: plain HTTP); raise SettingsError on bad files."""
    tls = settings.tls
    if not tls.enabled:
        return None
    try:
        context = server_context(Path(tls.cert), Path(tls.key))
        if tls.ca:
            check_ca_file(Path(tls.ca))
    except TlsError as err:
        raise SettingsError([FieldError(f"tls.{err.field or 'cert'}", err.message)]) from err
    leaf = describe(read_certs(Path(tls.cert))[0])
    days = leaf.days_left(now or datetime.now(UTC))
    if days < 0:
        log.error("the server certificate %s expired on %s: tills refuse it; renew it with "
                  "`edge tls init --renew`", tls.cert, leaf.not_after.date())  # fmt: skip
    elif days < CERT_WARN_DAYS:
        log.warning("the server certificate %s expires in %d days: renew it with "
                    "`edge tls init --renew`", tls.cert, days)  # fmt: skip
    return context


# what systemd hands the main process only: a worker must not speak for the service
SYSTEMD_ONLY = frozenset({"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"})


async def _tell_primary(_app: web.Application, _base_url: str) -> None:
    """In a worker: tell the primary this worker serves (one line on the ready pipe)."""
    fd = os.environ.get(READY_FD_ENV)
    if fd is not None and fd.isdigit():
        with contextlib.suppress(OSError):
            os.write(int(fd), b"ready\n")
            os.close(int(fd))


def _workers_state(app: web.Application, serving: set[int], wanted: int) -> None:
    """Set the primary's `workers` readiness check from the workers serving now."""
    app[READINESS].set(
        "workers", ok=len(serving) == wanted, detail=f"{len(serving)} of {wanted} workers serving"
    )


async def _keep_worker(
    app: web.Application,
    settings: Settings,
    port: int,
    number: int,
    shared: SharedPort,
    *,
    serving: set[int],
    stop: asyncio.Event,
) -> None:
    """Run worker `number` on the primary's sockets; start it again if it dies."""
    argv = [sys.executable, "-m", "edge", "serve", "--config", str(settings.source), "--worker"]
    wanted = settings.http.workers - 1
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        read_end, write_end = os.pipe()
        listening = [sock.fileno() for sock in shared.sockets]
        env = {k: v for k, v in os.environ.items() if k not in SYSTEMD_ONLY} | {
            "EDGE_HTTP_PORT": str(port),  # the port the primary really got
            READY_FD_ENV: str(write_end),
            LISTEN_FDS_ENV: ",".join(map(str, listening)),
            TABLE_ENV: shared.table.env(number),
        }
        try:
            child = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.DEVNULL,
                env=env,
                pass_fds=(write_end, shared.table.fd, *listening),
            )
        finally:
            os.close(write_end)
        log.info("started worker %d (pid %d)", number, child.pid)
        reader = asyncio.StreamReader()
        pipe, _ = await loop.connect_read_pipe(
            lambda reader=reader: asyncio.StreamReaderProtocol(reader),  # type: ignore[misc]
            os.fdopen(read_end, "rb", buffering=0),
        )
        try:
            if await reader.readline():  # empty: it exited before serving
                serving.add(number)
                _workers_state(app, serving, wanted)
            code = await child.wait()
        except asyncio.CancelledError:
            await _stop_child(child)
            raise
        finally:
            pipe.close()
            shared.table.set(number, ABSENT)  # a dead worker takes no connections
            serving.discard(number)
            if not stop.is_set():
                _workers_state(app, serving, wanted)
        if stop.is_set():
            return
        log.error("worker %d (pid %d) exited with %s; starting it again", number, child.pid, code)
        await asyncio.sleep(RESTART_DELAY_S)


async def _stop_child(child: asyncio.subprocess.Process) -> None:
    """SIGTERM a worker we started, then SIGKILL it if it does not stop in time."""
    if child.returncode is not None:
        return
    child.terminate()
    try:
        await asyncio.wait_for(child.wait(), WORKER_STOP_TIMEOUT_S)
    except TimeoutError:
        log.warning("worker pid %d did not stop; killing it", child.pid)
        child.kill()
        await child.wait()


async def _orphan_watch(stop: asyncio.Event) -> None:
    """Stop this worker when its primary is gone (it was re-parented)."""
    parent = os.getppid()
    while not stop.is_set():
        await asyncio.sleep(1.0)
        if os.getppid() != parent:
            log.error("primary process %d is gone; worker %d stops", parent, os.getpid())
            stop.set()


async def _when_ready(
    app: web.Application, base_url: str, on_ready: OnReady | None, stop: asyncio.Event
) -> None:
    """Wait until /readyz would answer 200, then call on_ready."""
    ready = asyncio.ensure_future(app[READINESS].wait_ready())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait((ready, stopped), return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    stopped.cancel()
    if not stop.is_set():
        # what start-up built lives as long as the server: keep the collector off it, so full
        # collections stay short pauses under load
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        if on_ready is not None:
            await on_ready(app, base_url)
