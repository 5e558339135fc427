"""The application factory: one store server, resources opened in cleanup_ctx in start order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from edge.ledger.ledger import Ledger, utc_clock
from edge.settings import Settings
from edge.web import catalog, health, openapi
from edge.web.errors import error_middleware
from edge.web.keys import APIS, LEDGER, READINESS, SETTINGS
from edge.web.readiness import Readiness

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


def create_app(settings: Settings, *, clock: Callable[[], datetime] = utc_clock) -> web.Application:
    """Build the store server's web application (nothing is opened until it starts)."""
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    readiness = Readiness()
    readiness.require("ledger")
    app[READINESS] = readiness

    async def ledger_ctx(app: web.Application) -> AsyncIterator[None]:
        ledger = Ledger(
            settings.ledger_path,
            store_id=settings.store.id,
            clock=clock,
            max_group=settings.ledger.max_group,
            readers=settings.ledger.readers,
        )
        await ledger.start()
        app[LEDGER] = ledger
        verifier = asyncio.create_task(_verify_at_start(ledger, readiness), name="verify")
        yield
        verifier.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await verifier
        await ledger.stop()

    app.cleanup_ctx.append(ledger_ctx)
    apis = [health.api, openapi.api, catalog.api]
    app[APIS] = apis
    for api in apis:
        app.add_routes(api.routes)
    return app


async def _verify_at_start(ledger: Ledger, readiness: Readiness) -> None:
    """Verify the whole chain once at start; readiness follows the result."""
    readiness.set("ledger", ok=False, detail="verifying the hash chain")
    result = await ledger.verify()
    if result.ok:
        readiness.set("ledger", ok=True, detail=f"verified up to seq {result.head_seq}")
    else:
        log.critical("ledger chain broken at seq %s: %s", result.bad_seq, result.reason)
        readiness.set(
            "ledger", ok=False, detail=f"chain broken at seq {result.bad_seq}: {result.reason}"
        )
