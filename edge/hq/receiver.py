"""The reference HQ receiver (`edge hq serve`): the uplink contract on PostgreSQL.

Stateless: everything lives in PostgreSQL, so several receivers may run behind a load balancer.
For each batch it checks the signature (key per store, ±300 s), inflates and checks the body,
verifies the batch's hash chain and that it continues HQ's head for the store, and stores the
events once per (store, seq) — the head row is locked for the transaction, so two receivers
given the same batch serialise and the second answers it as a resend. Answers per SPEC §2.2.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg
from aiohttp import web
from asyncpg.pool import PoolConnectionProxy

from edge.hq.schema import SCHEMA, SCHEMA_LOCK, SCHEMA_VERSION
from edge.protocol.chain import GENESIS_HASH
from edge.protocol.hq import (
    IDEMPOTENCY_HEADER,
    MAX_COMPRESSED_BYTES,
    MAX_EVENTS,
    SIGNATURE_HEADER,
    Batch,
    BatchError,
    BatchWriter,
    check_prev_hash,
    check_signature,
    decode_batch,
    error_body,
    inflate,
    verify_events,
)

log = logging.getLogger(__name__)

POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool", asyncpg.Pool)
KEYS: web.AppKey[KeyCache] = web.AppKey("keys", object)  # type: ignore[arg-type]
KEY_TTL_S = 30.0
CATALOG_PAGE = 1000
VERIFY_CHUNK = 1000  # events verified on a thread while the previous chunk is COPYed
COLUMNS = ("store", "seq", "id", "type", "ts", "till", "staff", "data", "prev_hash", "hash")


def refuse(status: int, code: str, message: str, **headers: str) -> web.Response:
    """Return the contract's JSON error."""
    return web.json_response(error_body(code, message), status=status, headers=headers or None)


def expect(seq: int, code: str, message: str) -> web.Response:
    """Return 409 with the seq HQ expects next."""
    return web.json_response({"expected_seq": seq, **error_body(code, message)}, status=409)


class KeyCache:
    """Store keys from `hq_stores`, cached briefly (a rotated key works within 30 s)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Keep the pool to read keys from."""
        self.pool = pool
        self.cache: dict[str, tuple[float, str | None]] = {}

    async def key(self, store: str) -> str | None:
        """Return the active key of `store`, or None for an unknown or inactive store."""
        now = time.monotonic()
        hit = self.cache.get(store)
        if hit is not None and now - hit[0] < KEY_TTL_S:
            return hit[1]
        row = await self.pool.fetchrow(
            "SELECT key FROM hq_stores WHERE store = $1 AND active", store
        )
        key = None if row is None else str(row["key"])
        self.cache[store] = (now, key)
        return key


async def create_schema(pool: asyncpg.Pool) -> None:
    """Create the tables if missing (idempotent; one receiver at a time)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
        for statement in SCHEMA:
            await conn.execute(statement)
        await conn.execute(
            "INSERT INTO hq_meta(key, value) VALUES ('schema_version', $1)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            str(SCHEMA_VERSION),
        )


def create_receiver(dsn: str, *, pool_size: int = 4) -> web.Application:
    """Build the receiver's web application (the pool opens when it starts)."""
    app = web.Application(client_max_size=MAX_COMPRESSED_BYTES + 64 * 1024)

    async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_size)
        await create_schema(pool)
        app[POOL] = pool
        app[KEYS] = KeyCache(pool)
        yield
        await pool.close()

    app.cleanup_ctx.append(pool_ctx)
    app.middlewares.append(_errors)
    app.router.add_post("/v1/stores/{store}/batches", post_batch)
    app.router.add_get("/v1/stores/{store}/catalog", get_catalog)
    app.router.add_get("/v1/stores/{store}/events", get_events)
    app.router.add_get("/healthz", healthz)
    return app


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Answer every failure in the contract's JSON shape."""
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        return refuse(err.status, f"http_{err.status}", err.reason)
    except (asyncpg.PostgresError, OSError) as err:
        log.exception("database trouble on %s", request.path)
        return refuse(
            503, "unavailable", f"HQ's database is unavailable: {err}", **{"Retry-After": "5"}
        )
    return response


async def healthz(request: web.Request) -> web.Response:
    """Answer 200 when the database answers."""
    await request.app[POOL].fetchval("SELECT 1")
    return web.json_response({"status": "ok"})


async def post_batch(request: web.Request) -> web.Response:
    """Receive one batch of a store's journal."""
    store = request.match_info["store"]
    body = await request.read()
    key = await request.app[KEYS].key(store)
    if key is None:
        return refuse(401, "unknown_store", f"no active key for store {store}")
    why = check_signature(key, request.headers.get(SIGNATURE_HEADER), body, time.time())
    if why:
        return refuse(401, "bad_signature", why)
    idempotency = request.headers.get(IDEMPOTENCY_HEADER)
    try:
        batch = await asyncio.to_thread(_decode, body, store, idempotency)
        return await _store_batch(request.app[POOL], batch)
    except BatchError as err:
        return refuse(err.status, err.code, err.message)


def _decode(body: bytes, store: str, idempotency: str | None) -> Batch:
    """Inflate and decode a batch and check its shape (on a thread: it is CPU work)."""
    batch = decode_batch(inflate(body), store=store, idempotency=idempotency)
    check_prev_hash(batch)
    return batch


async def _append(conn: PoolConnectionProxy[Any], batch: Batch) -> None:
    """Verify the batch's chain chunk by chunk while the previous chunk is COPYed.

    Verifying is Python work on a thread and COPY is PostgreSQL's work on its own process,
    so the two overlap. A chunk that fails raises BatchError and the transaction rolls back.
    """
    prev = batch.prev_hash
    copying: asyncio.Future[Any] | None = None
    for start in range(0, len(batch.events), VERIFY_CHUNK):
        chunk = batch.events[start : start + VERIFY_CHUNK]
        verifying = asyncio.ensure_future(asyncio.to_thread(verify_events, chunk, prev))
        done = await asyncio.gather(
            verifying, *([copying] if copying else []), return_exceptions=True
        )
        for result in done:
            if isinstance(result, BaseException):
                raise result
        texts = cast(list[str], done[0])
        copying = asyncio.ensure_future(
            conn.copy_records_to_table(
                "hq_events", records=_records(batch.store, chunk, texts), columns=COLUMNS
            )
        )
        prev = chunk[-1]["hash"]
    if copying is not None:
        await copying


async def _store_batch(pool: asyncpg.Pool, batch: Batch) -> web.Response:
    """Append the batch after HQ's head, or answer it as a resend, a gap or a conflict."""
    store = batch.store
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO hq_heads(store, seq, hash) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING",
            store,
            GENESIS_HASH,
        )
        head = await conn.fetchrow(
            "SELECT seq, hash FROM hq_heads WHERE store = $1 FOR UPDATE", store
        )
        if head is None:  # the row was inserted above in this very transaction
            raise asyncpg.PostgresError(f"no head row for store {store}")
        head_seq, head_hash = int(head["seq"]), str(head["hash"])
        if batch.first_seq == head_seq + 1:
            if batch.prev_hash != head_hash:
                return refuse(
                    422, "chain_broken",
                    f"seq {batch.first_seq} does not follow HQ's chain head at seq {head_seq}",
                )  # fmt: skip
            await _append(conn, batch)
            await _route_transfers(conn, batch)
            last = batch.events[-1]
            await conn.execute(
                "UPDATE hq_heads SET seq = $2, hash = $3, batches = batches + 1,"
                " updated_at = now() WHERE store = $1",
                store,
                batch.last_seq,
                last["hash"],
            )
            return web.json_response({"acked_seq": batch.last_seq})
        if batch.first_seq > head_seq + 1:
            return expect(head_seq + 1, "gap", f"HQ holds up to seq {head_seq}")
        # the batch starts at or before HQ's head: a resend, in whole or in part
        stored = await conn.fetch(
            "SELECT seq, hash FROM hq_events WHERE store = $1 AND seq BETWEEN $2 AND $3"
            " ORDER BY seq",
            store,
            batch.first_seq,
            min(batch.last_seq, head_seq),
        )
        for row in stored:
            event = batch.events[int(row["seq"]) - batch.first_seq]
            if event["hash"] != row["hash"]:
                return refuse(
                    422, "conflict", f"seq {row['seq']} differs from what HQ already holds"
                )
        if batch.last_seq <= head_seq:
            return web.json_response({"acked_seq": head_seq})
        return expect(head_seq + 1, "overlap", f"HQ holds up to seq {head_seq}")


async def _route_transfers(conn: PoolConnectionProxy[Any], batch: Batch) -> None:
    """Route the batch's transfers to the other store's downlink, exactly once.

    A transfer sent is announced to its destination; a receipt goes back to the store that
    sent it. This runs in the batch's transaction, so a resent batch routes nothing again.
    """
    for event in batch.events:
        kind = event["type"]
        if kind not in ("transfer.sent", "transfer.received"):
            continue
        data = event["data"]
        if not isinstance(data, dict) or not isinstance(data.get("transfer"), str):
            log.warning("%s at %s seq %d names no transfer", kind, batch.store, event["seq"])
            continue
        if kind == "transfer.sent":
            routed = await conn.fetchval(
                "INSERT INTO hq_transfers(to_store, id, from_store, lines, sent_seq)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING to_store",
                str(data.get("to_store")), data["transfer"], batch.store,
                json.dumps(data.get("lines")),
                event["seq"],
            )  # fmt: skip
            body = {
                "transfer": data["transfer"],
                "from_store": batch.store,
                "lines": data.get("lines"),
            }
            target, what = routed, "transfer"
        else:
            target = await conn.fetchval(
                "UPDATE hq_transfers SET received = $3, received_seq = $4, received_at = now()"
                " WHERE to_store = $1 AND id = $2 AND received IS NULL RETURNING from_store",
                batch.store, data["transfer"], json.dumps(data.get("lines")), event["seq"],
            )  # fmt: skip
            body = {
                "transfer": data["transfer"],
                "to_store": batch.store,
                "lines": data.get("lines"),
            }
            what = "transfer_receipt"
        if target is None:
            log.warning("%s of %s at %s seq %d not routed", kind, data.get("transfer"),
                        batch.store, event["seq"])  # fmt: skip
            continue
        await conn.execute(
            "INSERT INTO hq_catalog(store, kind, body) VALUES ($1, $2, $3)",
            target, what, json.dumps(body, ensure_ascii=False),
        )  # fmt: skip


def _records(store: str, events: list[dict[str, Any]], texts: list[str]) -> list[tuple[Any, ...]]:
    """Return the COPY rows of events."""
    return [
        (
            store,
            e["seq"],
            e["id"],
            e["type"],
            e["ts"],
            e["till"],
            e["staff"],
            text,
            e["prev_hash"],
            e["hash"],
        )
        for e, text in zip(events, texts, strict=True)
    ]


async def publish_changes(
    conn: asyncpg.Connection | PoolConnectionProxy[Any],
    store: str | None,
    changes: list[dict[str, Any]],
) -> list[int]:
    """Publish catalog changes (`{"kind", "body"}`) for one store, or all when `store` is None.

    One transaction: the changes get consecutive versions in the order given and stores see
    them all or none. Returns their versions.
    """
    versions: list[int] = []
    async with conn.transaction():
        for change in changes:
            body = json.dumps(change["body"], ensure_ascii=False)
            version = await conn.fetchval(
                "INSERT INTO hq_catalog(store, kind, body) VALUES ($1, $2, $3) RETURNING version",
                store, change["kind"], body,
            )  # fmt: skip
            versions.append(int(version))
    return versions


async def _signed_get(request: web.Request) -> web.Response | None:
    """Check a GET's signature over its path and query; return the refusal, or None if good."""
    store = request.match_info["store"]
    key = await request.app[KEYS].key(store)
    if key is None:
        return refuse(401, "unknown_store", f"no active key for store {store}")
    signed = request.raw_path.encode("utf-8")
    why = check_signature(key, request.headers.get(SIGNATURE_HEADER), signed, time.time())
    return refuse(401, "bad_signature", why) if why else None


async def get_events(request: web.Request) -> web.Response:
    """Give a store back the events HQ holds after `after` (a ledger restored from a backup).

    The answer is a batch document (gzip), the same the store sends, so the store checks it
    with the same code: it must continue the store's chain. 204 when HQ holds nothing more.
    """
    refused = await _signed_get(request)
    if refused is not None:
        return refused
    store = request.match_info["store"]
    after_text, limit_text = request.query.get("after", ""), request.query.get("limit", "5000")
    if not after_text.isdigit() or len(after_text) > 18 or not limit_text.isdigit():
        return refuse(400, "bad_after", "after must be a seq (0 for everything), limit a count")
    after, limit = int(after_text), max(1, min(int(limit_text), MAX_EVENTS))
    rows = await request.app[POOL].fetch(
        "SELECT seq, prev_hash, json_build_object('seq', seq, 'id', id, 'type', type, 'ts', ts,"
        " 'till', till, 'staff', staff, 'data', data, 'prev_hash', prev_hash, 'hash', hash)::text"
        " AS wire FROM hq_events WHERE store = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        store, after, limit,
    )  # fmt: skip
    if not rows:
        return web.Response(status=204)
    writer = BatchWriter(store, int(rows[0]["seq"]), str(rows[0]["prev_hash"]))
    for row in rows:
        writer.add(row["wire"])
    return web.Response(
        body=writer.finish(),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )


async def get_catalog(request: web.Request) -> web.Response:
    """Return the catalog changes for a store after version `since` (signed like a batch)."""
    refused = await _signed_get(request)
    if refused is not None:
        return refused
    store = request.match_info["store"]
    since_text = request.query.get("since", "0")
    if not since_text.isdigit() or len(since_text) > 18:
        return refuse(400, "bad_since", "since must be a version number (0 for everything)")
    rows = await request.app[POOL].fetch(
        "SELECT version, kind, body::text AS body FROM hq_catalog"
        " WHERE version > $1 AND (store IS NULL OR store = $2) ORDER BY version LIMIT $3",
        int(since_text),
        store,
        CATALOG_PAGE + 1,
    )
    more = len(rows) > CATALOG_PAGE
    rows = rows[:CATALOG_PAGE]
    changes = [
        {"version": int(r["version"]), "kind": r["kind"], "body": json.loads(r["body"])}
        for r in rows
    ]
    version = changes[-1]["version"] if changes else int(since_text)
    return web.json_response({"version": version, "changes": changes, "more": more})
