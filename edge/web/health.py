"""Liveness, readiness, the landing page and the store summary."""

from __future__ import annotations

import html
import os

from aiohttp import web

from edge.metrics import CONTENT_TYPE, METRICS
from edge.services.store import store_info
from edge.web.api import Api, json_response
from edge.web.keys import LEDGER, READINESS, SETTINGS

api = Api("health")

STORE_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "currency": {"type": "string"},
        "timezone": {"type": "string"},
        "locale": {"type": "string"},
        "initialized_at": {"type": "string"},
        "ledger": {
            "type": "object",
            "properties": {"head_seq": {"type": "integer"}, "head_hash": {"type": "string"}},
        },
    },
}


@api.route("GET", "/healthz", summary="Liveness: 200 while the server runs", permission="public")
async def healthz(request: web.Request) -> web.Response:
    """Answer while the event loop runs (with the process id: which worker answered)."""
    return json_response({"status": "ok", "pid": os.getpid()})


@api.route(
    "GET",
    "/readyz",
    summary="Readiness: 200 once the ledger is verified (503 with each check otherwise)",
    permission="public",
    errors={503: "not ready"},
)
async def readyz(request: web.Request) -> web.Response:
    """Answer 200 when the ledger is open and verified (and later: the broker connected)."""
    readiness = request.app[READINESS]
    return json_response(readiness.report(), status=200 if readiness.ready else 503)


@api.route(
    "GET",
    "/metrics",
    summary="Prometheus metrics (text format): sales, sign-ins, ledger, devices, the process",
    permission="public",
)
async def metrics(request: web.Request) -> web.Response:
    """Return the metrics in Prometheus's text format."""
    body = await request.app[METRICS].scrape()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


@api.route(
    "GET",
    "/api/v1/store",
    summary="The store's identity and ledger head",
    permission="public",
    response=STORE_SCHEMA,
    errors={404: "no store yet"},
)
async def get_store(request: web.Request) -> web.Response:
    """Return the store's identity and the ledger head."""
    ledger = request.app[LEDGER]
    info = await store_info(ledger)
    if info is None:
        raise web.HTTPNotFound(text="this ledger has no store yet: run `edge init`")
    seq, hash_ = ledger.head
    return json_response(
        {
            "id": info.id,
            "name": info.name,
            "currency": info.currency,
            "timezone": info.timezone,
            "locale": request.app[SETTINGS].store.locale,
            "initialized_at": info.initialized_at,
            "ledger": {"head_seq": seq, "head_hash": hash_},
        }
    )


@api.route("GET", "/", summary="Landing page (HTML)", permission="public")
async def landing(request: web.Request) -> web.Response:
    """Show which store this is and where to go."""
    ledger = request.app[LEDGER]
    info = await store_info(ledger)
    name = html.escape(info.name if info else "store-edge")
    store_id = html.escape(info.id if info else "-")
    seq, _ = ledger.head
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{name} · store-edge</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; margin: 2rem">
<h1>{name}</h1>
<p>门店 Store <strong>{store_id}</strong> · 账本序号 ledger seq <strong>{seq}</strong></p>
<ul>
<li><a href="/readyz">/readyz</a> — 就绪检查 readiness</li>
<li><a href="/healthz">/healthz</a> — 存活检查 liveness</li>
<li><a href="/api/v1/store">/api/v1/store</a> — 门店信息 store summary (JSON)</li>
</ul></body></html>"""
    return web.Response(text=page, content_type="text/html")
