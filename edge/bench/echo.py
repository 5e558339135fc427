"""`python -m edge.bench.echo`: the checkout benchmark's ceiling, an aiohttp POST echo.

It does what every request to the store server costs before any checkout work: aiohttp
reads the body, `json.loads` parses it and `web.json_response` serialises it back with a 201,
in the same compact JSON the store's API answers with.
One process, access log off, like `edge serve`; it listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from aiohttp import web

from edge.web.api import compact_json


async def echo(request: web.Request) -> web.Response:
    """Answer the posted JSON document with itself and a 201."""
    body = json.loads(await request.read())
    return web.json_response(body, status=201, dumps=compact_json)


async def ready(_request: web.Request) -> web.Response:
    """Answer 200 once the server listens."""
    return web.json_response({"ready": True})


def make_app() -> web.Application:
    """Build the echo application."""
    app = web.Application()
    app.router.add_post("/echo", echo)
    app.router.add_get("/readyz", ready)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the echo application on 127.0.0.1:PORT until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m edge.bench.echo", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    web.run_app(make_app(), host="127.0.0.1", port=args.port, access_log=None, print=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
