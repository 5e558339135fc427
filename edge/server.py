"""Running the server in the foreground until SIGINT/SIGTERM (`edge serve`, `edge demo`)."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime

from aiohttp import web

from edge.app import create_app
from edge.ledger.ledger import utc_clock
from edge.settings import Settings
from edge.web.keys import READINESS

log = logging.getLogger(__name__)

OnReady = Callable[[web.Application, str], Awaitable[None]]


async def run_server(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_clock,
    on_ready: OnReady | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until a signal (or `stop`) arrives; call `on_ready(app, base_url)` once ready."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    app = create_app(settings, clock=clock)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.http.host, settings.http.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104
        base_url = f"http://{shown}:{port}" if ":" not in shown else f"http://[{shown}]:{port}"
        log.info("serving store %s on %s", settings.store.id, base_url)
        waiter = asyncio.create_task(_when_ready(app, base_url, on_ready, stop))
        await stop.wait()
        waiter.cancel()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await runner.cleanup()


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
        if on_ready is not None:
            await on_ready(app, base_url)
