"""The HQ contract's pure parts: canonical bytes, signatures, Retry-After, batch checks."""

from __future__ import annotations

import gzip
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.hq.forwarder import WIRE_SELECT
from edge.ledger.journal import COLUMNS
from edge.protocol.chain import GENESIS_HASH, MAX_SAFE_INT, Event, canonical_bytes, dumps_canonical
from edge.protocol.hq import (
    BatchError,
    check_signature,
    decode_batch,
    idempotency_key,
    inflate,
    retry_after_seconds,
    sign,
    verify_batch,
)
from tests.hq.conftest import JournalRow, batch_json, make_rows

# every JSON value event data may hold: no floats, integers within ±2^53, any text
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INT, MAX_SAFE_INT)
    | st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(st.characters(exclude_categories=("Cs",)), max_size=8), inner,
                      max_size=4),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=400)
@given(values)
def test_the_fast_canonical_form_is_byte_for_byte_the_chains(value: object) -> None:
    assert canonical_bytes(value) == dumps_canonical(value).encode("utf-8")


def test_control_characters_and_unicode_keep_the_chains_escapes() -> None:
    value = {"z": '\x00\x1f\x7f\u2028\U0001f600"\\\n\t', "é": 2**53, "A": [-(2**53), None]}
    assert canonical_bytes(value) == dumps_canonical(value).encode("utf-8")


def test_wire_events_are_the_events_objects_with_their_hash() -> None:
    # the forwarder's SQL builds each event's JSON from the stored row: it must be the event
    rows = [
        *make_rows(2),
        JournalRow(
            3,
            "e-3",
            "note.added",
            "2026-11-23T02:00:00.000+00:00",
            None,
            None,
            '{"text":"a\\"b\\n中"}',
            "0" * 64,
            "f" * 64,
        ),
    ]
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE TABLE journal({COLUMNS})")
    conn.executemany(
        "INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(r.seq, r.id, r.type, r.ts, r.till, r.staff, r.data_json, r.prev_hash, r.hash)
         for r in rows],
    )  # fmt: skip
    wire = [text for *_, text in conn.execute(WIRE_SELECT, (1, 10))]
    for row, text in zip(rows, wire, strict=True):
        event = Event(
            row.seq, row.id, row.type, row.ts, row.till, row.staff, json.loads(row.data_json),
            row.prev_hash, row.hash,
        )  # fmt: skip
        assert json.loads(text) == event.to_wire()
    first = rows[0]
    assert Event(first.seq, first.id, first.type, first.ts, first.till, first.staff,
                 json.loads(first.data_json), first.prev_hash, first.hash
                 ).computed_hash() == first.hash  # fmt: skip


def test_signatures_cover_time_and_body_and_expire() -> None:
    body = b"\x1f\x8b payload"
    header = sign(" key-with-spaces \n", 1_700_000_000, body)
    assert check_signature("key-with-spaces", header, body, 1_700_000_100) == ""
    assert "stale" in check_signature("key-with-spaces", header, body, 1_700_000_301)
    assert "stale" in check_signature("key-with-spaces", header, body, 1_699_999_699)
    assert check_signature("key-with-spaces", header, body + b"x", 1_700_000_000)
    assert check_signature("other-key", header, body, 1_700_000_000)
    for bad in (None, "", "v1=abc", "t=soon,v1=ab", "t=1700000000"):
        assert check_signature("key-with-spaces", bad, body, 1_700_000_000)


def test_retry_after_takes_seconds_or_an_http_date() -> None:
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert retry_after_seconds(format_datetime(now - timedelta(hours=1), usegmt=True), now) == 0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("-5") is None


def test_inflate_refuses_what_is_not_gzip_truncated_or_too_big() -> None:
    assert inflate(gzip.compress(b"{}")) == b"{}"
    for body in (b"{}", gzip.compress(b"{}" * 100)[:-9]):
        with pytest.raises(BatchError) as refused:
            inflate(body)
        assert (refused.value.status, refused.value.code) == (400, "not_gzip")
    with pytest.raises(BatchError) as refused:
        inflate(gzip.compress(b"0" * 2000), limit=1000)
    assert refused.value.code == "too_large"


def test_a_batch_decodes_and_its_chain_verifies() -> None:
    rows = make_rows(20)
    batch = decode_batch(batch_json("S-TEST", rows), store="S-TEST",
                         idempotency=idempotency_key("S-TEST", 1, 20))  # fmt: skip
    texts = verify_batch(batch)
    assert texts == [r.data_json for r in rows]
    assert batch.prev_hash == GENESIS_HASH


def test_a_forged_chain_is_named_at_its_first_bad_seq() -> None:
    rows = make_rows(6)
    doc = json.loads(batch_json("S-TEST", rows))
    doc["events"][2]["data"]["total"] = 1
    batch = decode_batch(json.dumps(doc).encode(), store="S-TEST",
                         idempotency=idempotency_key("S-TEST", 1, 6))  # fmt: skip
    with pytest.raises(BatchError) as refused:
        verify_batch(batch)
    assert (refused.value.status, refused.value.code) == (422, "chain_broken")
    assert refused.value.message.startswith("seq 3:")
    later = make_rows(3, start=4)  # seq 4.. claiming to follow the genesis hash
    batch = decode_batch(batch_json("S-TEST", later), store="S-TEST",
                         idempotency=idempotency_key("S-TEST", 4, 6))  # fmt: skip
    verify_batch(batch)  # self-consistent: only HQ's head can tell it does not continue
    with pytest.raises(BatchError):
        verify_batch(decode_batch(batch_json("S-TEST", [*rows[:1], *later[:1]]),
                                  store="S-TEST", idempotency="S-TEST:1-2"))  # fmt: skip


def test_rows_in_a_batch_must_be_consecutive() -> None:
    rows: list[JournalRow] = make_rows(3)
    with pytest.raises(BatchError) as refused:
        decode_batch(batch_json("S-TEST", [rows[0], rows[2]]), store="S-TEST",
                     idempotency="S-TEST:1-2")  # fmt: skip
    assert refused.value.code == "bad_range"
