"""The reference HQ receiver on a real PostgreSQL: SPEC §2.2 answers, chain, once per seq."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from dataclasses import replace
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from edge.hq.receiver import create_receiver
from edge.protocol.chain import canonical_event, chain_hash
from edge.protocol.hq import SIGNATURE_HEADER, sign
from tests.hq.conftest import (
    STORE_ID,
    STORE_KEY,
    batch_json,
    make_rows,
    post_rows,
    signed_headers,
    stored,
)


def base(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def test_batches_are_stored_once_and_resends_answer_the_head(
    receiver: TestServer, db: asyncpg.Pool
) -> None:
    rows = make_rows(30)
    async with aiohttp.ClientSession() as http:
        assert await post_rows(http, base(receiver), rows[:10]) == (200, {"acked_seq": 10})
        # an exact resend (the answer was lost): same head, nothing twice
        assert await post_rows(http, base(receiver), rows[:10]) == (200, {"acked_seq": 10})
        assert await post_rows(http, base(receiver), rows[10:30]) == (200, {"acked_seq": 30})
        # an old range inside what HQ has is a resend too
        assert await post_rows(http, base(receiver), rows[4:8]) == (200, {"acked_seq": 30})
    assert await stored(db) == [(r.seq, r.hash) for r in rows]
    head = await db.fetchrow("SELECT seq, hash, batches FROM hq_heads WHERE store = $1", STORE_ID)
    assert (head["seq"], head["hash"], head["batches"]) == (30, rows[-1].hash, 2)


async def test_hq_keeps_enough_to_recompute_every_hash(
    receiver: TestServer, db: asyncpg.Pool
) -> None:
    rows = make_rows(5)
    async with aiohttp.ClientSession() as http:
        assert (await post_rows(http, base(receiver), rows))[0] == 200
    for r in await db.fetch("SELECT * FROM hq_events ORDER BY seq"):
        canonical = canonical_event(
            seq=r["seq"], event_id=r["id"], event_type=r["type"], ts=r["ts"], till=r["till"],
            staff=r["staff"], data_json=r["data"], prev_hash=r["prev_hash"],
        )  # fmt: skip
        assert chain_hash(r["prev_hash"], canonical) == r["hash"]


async def test_gaps_and_overlaps_get_409_with_the_expected_seq(
    receiver: TestServer, db: asyncpg.Pool
) -> None:
    rows = make_rows(30)
    async with aiohttp.ClientSession() as http:
        assert (await post_rows(http, base(receiver), rows[:10]))[0] == 200
        status, answer = await post_rows(http, base(receiver), rows[20:30])
        assert (status, answer["expected_seq"], answer["error"]["code"]) == (409, 11, "gap")
        status, answer = await post_rows(http, base(receiver), rows[5:15])
        assert (status, answer["expected_seq"], answer["error"]["code"]) == (409, 11, "overlap")
    assert len(await stored(db)) == 10


async def test_a_tampered_amount_is_refused_and_nothing_is_stored(
    receiver: TestServer, db: asyncpg.Pool
) -> None:
    rows = make_rows(10)
    forged = rows[3].data_json.replace('"total":1004', '"total":4')
    assert forged != rows[3].data_json
    tampered = [*rows[:3], replace(rows[3], data_json=forged), *rows[4:]]
    async with aiohttp.ClientSession() as http:
        status, answer = await post_rows(http, base(receiver), tampered)
    assert status == 422
    assert answer["error"]["code"] == "chain_broken"
    assert "seq 4" in answer["error"]["message"]
    assert await stored(db) == []


async def test_a_different_history_for_stored_seqs_is_a_conflict(
    receiver: TestServer, db: asyncpg.Pool
) -> None:
    rows = make_rows(10)
    other = make_rows(10, flavour="b")  # a valid chain, but not the one HQ holds
    async with aiohttp.ClientSession() as http:
        assert (await post_rows(http, base(receiver), rows))[0] == 200
        status, answer = await post_rows(http, base(receiver), other[:5])
        assert (status, answer["error"]["code"]) == (422, "conflict")
        # the next range must continue HQ's chain: a forked continuation is refused
        fork = make_rows(5, start=11, prev=other[-1].hash)
        status, answer = await post_rows(http, base(receiver), fork)
        assert (status, answer["error"]["code"]) == (422, "chain_broken")
    assert await stored(db) == [(r.seq, r.hash) for r in rows]


async def test_signatures_bad_stale_replayed_or_of_unknown_stores_get_401(
    receiver: TestServer, db: asyncpg.Pool
) -> None:
    rows = make_rows(3)
    async with aiohttp.ClientSession() as http:
        status, answer = await post_rows(http, base(receiver), rows, key="not-the-store-key-at-all")
        assert (status, answer["error"]["code"]) == (401, "bad_signature")
        status, answer = await post_rows(http, base(receiver), rows, t=int(time.time()) - 301)
        assert (status, answer["error"]["code"]) == (401, "bad_signature")
        assert "stale" in answer["error"]["message"]
        # a request captured earlier and replayed later: its signature has gone stale
        body = gzip.compress(batch_json(STORE_ID, rows))
        headers = signed_headers(body, 1, 3, t=int(time.time()) - 600)
        url = f"{base(receiver)}/v1/stores/{STORE_ID}/batches"
        async with http.post(url, data=body, headers=headers) as replay:
            assert replay.status == 401
        # a signature of another body does not carry over
        headers = signed_headers(gzip.compress(b"{}"), 1, 3)
        async with http.post(url, data=body, headers=headers) as swapped:
            assert swapped.status == 401
        headers.pop(SIGNATURE_HEADER)
        async with http.post(url, data=body, headers=headers) as unsigned:
            assert unsigned.status == 401
        async with http.post(
            f"{base(receiver)}/v1/stores/NOPE/batches",
            data=body,
            headers=signed_headers(body, 1, 3),
        ) as unknown:
            assert (unknown.status, (await unknown.json())["error"]["code"]) == (
                401,
                "unknown_store",
            )
    assert await stored(db) == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"plain json, not gzip", "not_gzip"),
        (gzip.compress(b"{not json"), "bad_json"),
        (gzip.compress(b"[1, 2]"), "bad_batch"),
        (gzip.compress(gzip.compress(b"x"))[:20], "not_gzip"),
    ],
)
async def test_malformed_bodies_get_400(
    receiver: TestServer, db: asyncpg.Pool, body: bytes, code: str
) -> None:
    url = f"{base(receiver)}/v1/stores/{STORE_ID}/batches"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers=signed_headers(body, 1, 1)) as answer,
    ):
        assert answer.status == 400
        assert (await answer.json())["error"]["code"] == code
    assert await stored(db) == []


async def test_header_and_body_must_agree(receiver: TestServer, db: asyncpg.Pool) -> None:
    rows = make_rows(4)
    url = f"{base(receiver)}/v1/stores/{STORE_ID}/batches"
    doc = json.loads(batch_json(STORE_ID, rows))
    cases: list[tuple[dict[str, Any], str, tuple[int, int]]] = [
        (doc, "bad_idempotency_key", (1, 3)),
        ({**doc, "store": "OTHER"}, "wrong_store", (1, 4)),
        ({**doc, "last_seq": 9}, "bad_range", (1, 9)),
        ({**doc, "events": [doc["events"][0], doc["events"][2]]}, "bad_range", (1, 2)),
        ({**doc, "events": [{**doc["events"][0], "extra": 1}], "last_seq": 1}, "bad_event", (1, 1)),
        (
            {**doc, "events": [{**doc["events"][0], "data": [1]}], "last_seq": 1},
            "bad_event",
            (1, 1),
        ),
    ]
    async with aiohttp.ClientSession() as http:
        for shape, code, (first, last) in cases:
            body = gzip.compress(json.dumps(shape).encode())
            async with http.post(
                url, data=body, headers=signed_headers(body, first, last)
            ) as answer:
                assert answer.status == 400, code
                assert (await answer.json())["error"]["code"] == code
    assert await stored(db) == []


async def test_a_gzip_bomb_is_refused(receiver: TestServer) -> None:
    body = gzip.compress(b" " * (300 * 1024 * 1024), compresslevel=9)
    assert len(body) < 1024 * 1024
    url = f"{base(receiver)}/v1/stores/{STORE_ID}/batches"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers=signed_headers(body, 1, 1)) as answer,
    ):
        assert (answer.status, (await answer.json())["error"]["code"]) == (400, "too_large")


async def test_two_receivers_given_the_same_batch_store_it_once(
    aiohttp_server: Any, hq_dsn: str, db: asyncpg.Pool
) -> None:
    one = await aiohttp_server(create_receiver(hq_dsn), auto_decompress=False)
    two = await aiohttp_server(create_receiver(hq_dsn), auto_decompress=False)
    rows = make_rows(2000)
    async with aiohttp.ClientSession() as http:
        answers = await asyncio.gather(
            *(post_rows(http, base(server), rows) for server in (one, two, one, two))
        )
    assert answers == [(200, {"acked_seq": 2000})] * 4
    assert await stored(db) == [(r.seq, r.hash) for r in rows]


async def test_the_catalog_downlink_is_signed_and_paged(
    receiver: TestServer, db: asyncpg.Pool
) -> None:
    await db.execute(
        "INSERT INTO hq_catalog(store, kind, body) VALUES (NULL, 'product', '{\"id\": \"MILK\"}'),"
        ' ($1, \'price\', \'{"id": "MILK", "list_price": 700}\'),'
        " ('OTHER', 'price', '{\"id\": \"MILK\", \"list_price\": 1}')",
        STORE_ID,
    )
    path = f"/v1/stores/{STORE_ID}/catalog?since=0"
    async with aiohttp.ClientSession() as http:
        headers = {SIGNATURE_HEADER: sign(STORE_KEY, int(time.time()), path.encode())}
        async with http.get(base(receiver) + path, headers=headers) as answer:
            assert answer.status == 200
            doc = await answer.json()
        assert [c["kind"] for c in doc["changes"]] == ["product", "price"]
        assert doc["changes"][1]["body"] == {"id": "MILK", "list_price": 700}
        assert doc["more"] is False
        headers = {SIGNATURE_HEADER: sign(STORE_KEY, int(time.time()), b"/other/path")}
        async with http.get(base(receiver) + path, headers=headers) as answer:
            assert answer.status == 401
        later = f"/v1/stores/{STORE_ID}/catalog?since={doc['version']}"
        headers = {SIGNATURE_HEADER: sign(STORE_KEY, int(time.time()), later.encode())}
        async with http.get(base(receiver) + later, headers=headers) as answer:
            assert (await answer.json())["changes"] == []
