"""A fault proxy in front of the HQ receiver: the failures a WAN and an HQ really produce.

Each request takes the next planned action (or the cycle's next one): pass it through, answer
a status of its own (with Retry-After), hang past the client's timeout, reset the connection
before HQ sees the request, or pass it to HQ and reset the connection after HQ committed (the
answer is lost). It records what it saw, so tests can check ranges and timing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

PASS = "pass"
HANG = "hang"
RESET = "reset"
DROP_AFTER_COMMIT = "drop_after_commit"
HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


@dataclass
class Seen:
    """One request the proxy handled."""

    action: str
    path: str
    idempotency: str | None
    at: float  # monotonic
    upstream_status: int | None = None
    size: int = 0  # request body bytes


@dataclass
class FaultProxy:
    """Forward to `upstream`, injecting the planned faults."""

    upstream: str
    plan: list[str] = field(default_factory=list)  # used first, one per request
    cycle: Iterable[str] | None = None  # then this, round and round (default: pass)
    hang_s: float = 3.0
    seen: list[Seen] = field(default_factory=list)
    _cycle: Iterator[str] | None = None
    _session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        """Return the proxy's application."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)

        async def session_ctx(_app: web.Application):  # type: ignore[no-untyped-def]
            self._session = aiohttp.ClientSession(auto_decompress=False)
            yield
            await self._session.close()

        app.cleanup_ctx.append(session_ctx)
        return app

    def next_action(self) -> str:
        """Return the action for the next request."""
        if self.plan:
            return self.plan.pop(0)
        if self.cycle is None:
            return PASS
        if self._cycle is None:
            self._cycle = itertools.cycle(list(self.cycle))
        return next(self._cycle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Apply the next action to one request."""
        action = self.next_action()
        seen = Seen(action, request.path, request.headers.get("Idempotency-Key"), time.monotonic())
        self.seen.append(seen)
        body = await request.read()
        seen.size = len(body)
        if action == HANG:
            await asyncio.sleep(self.hang_s)
            return web.Response(status=504)
        if action == RESET:
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=599)
        if action in (PASS, DROP_AFTER_COMMIT):
            status, headers, answer = await self._forward(request, body)
            seen.upstream_status = status
            if action == DROP_AFTER_COMMIT:
                assert request.transport is not None
                request.transport.abort()
                return web.Response(status=599)
            return web.Response(status=status, body=answer, headers=headers)
        status_text, _, retry_after = action.partition(":")
        headers = {"Retry-After": retry_after} if retry_after else {}
        error = {"error": {"code": f"proxy_{status_text}", "message": "injected by the proxy"}}
        return web.Response(
            status=int(status_text),
            text=json.dumps(error),
            content_type="application/json",
            headers=headers,
        )

    async def _forward(
        self, request: web.Request, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Send the request on to HQ; return its status, headers worth keeping and body."""
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers
        ) as answer:
            kept = {
                k: v
                for k, v in answer.headers.items()
                if k.lower() in {"content-type", "retry-after", "date"}
            }
            return answer.status, kept, await answer.read()
