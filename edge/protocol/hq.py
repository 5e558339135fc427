"""The HQ uplink contract (SPEC §2.2): batch body, signature, idempotency key, answers.

Pure functions shared by the store's forwarder and the reference receiver, so both sides
agree byte for byte. A batch body is gzip-compressed JSON:
`{"store","first_seq","last_seq","prev_hash","events":[…]}`; each event is the journal's
event object with its `hash`. The signature header is
`X-Edge-Signature: t={unix},v1={hex hmac-sha256(key, t + "." + body)}` over the bytes sent
(the compressed body). A GET (the catalog downlink) signs `t + "." + path?query` instead, since
it has no body.
"""

from __future__ import annotations

import hashlib
import hmac
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from json.encoder import encode_basestring
from typing import Any

import orjson

from edge.protocol.chain import GENESIS_HASH, canonical_bytes, canonical_event, chain_hash

SIGNATURE_HEADER = "X-Edge-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_EVENTS = 5000
MAX_COMPRESSED_BYTES = 4 * 1024 * 1024
MAX_SKEW_S = 300
# a batch never inflates beyond this: 5,000 events of the largest the store writes fit easily
MAX_INFLATED_BYTES = 256 * 1024 * 1024
GZIP_LEVEL = 1  # journal JSON compresses ~8:1 at level 1; higher levels cost CPU for little
EVENT_FIELDS = ("seq", "id", "type", "ts", "till", "staff", "data", "prev_hash", "hash")
HEX64 = frozenset("0123456789abcdef")


class BatchError(ValueError):
    """A batch the receiver refuses: `status` 400 (malformed) or 422 (never acceptable)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        """Keep the HTTP status and the error code of the refusal."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Batch:
    """A decoded batch: its range, the chain head it continues and its events."""

    store: str
    first_seq: int
    last_seq: int
    prev_hash: str
    events: list[dict[str, Any]]


def idempotency_key(store: str, first_seq: int, last_seq: int) -> str:
    """Return the Idempotency-Key of a batch: `{store}:{first_seq}-{last_seq}`."""
    return f"{store}:{first_seq}-{last_seq}"


class BatchWriter:
    """Write a batch's JSON event by event, gzip-compressed as it goes (or plain).

    The store never holds a batch's JSON whole, only its compressed bytes: a 5,000-event batch
    is ~6 MB of JSON and ~0.7 MB compressed. `last_seq` is written after the events (JSON keys
    have no order), once it is known.
    """

    def __init__(
        self, store: str, first_seq: int, prev_hash: str, *, compressed: bool = True
    ) -> None:
        """Open the batch after the chain head `prev_hash`."""
        self.first_seq = first_seq
        self.count = 0
        self._gzip = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31) if compressed else None
        self._parts: list[bytes] = []
        self.size = 0  # bytes produced so far (compressed: what the compressor let out)
        self._put(
            '{"store":' + encode_basestring(store)
            + ',"first_seq":' + str(first_seq)
            + ',"prev_hash":' + encode_basestring(prev_hash)
            + ',"events":['
        )  # fmt: skip

    def _put(self, text: str) -> None:
        """Add text to the body."""
        data = text.encode("utf-8")
        if self._gzip is not None:
            data = self._gzip.compress(data)
        self._parts.append(data)
        self.size += len(data)

    def add(self, event_json: str) -> None:
        """Add the next event's JSON text."""
        self._put(event_json if self.count == 0 else "," + event_json)
        self.count += 1

    def finish(self) -> bytes:
        """Close the batch and return its body."""
        self._put('],"last_seq":' + str(self.first_seq + self.count - 1) + "}")
        if self._gzip is not None:
            self._parts.append(self._gzip.flush())
        return b"".join(self._parts)


def sign(key: str, t: int, payload: bytes) -> str:
    """Return the X-Edge-Signature value for `payload` signed at unix time `t`."""
    digest = hmac.new(_key_bytes(key), str(t).encode() + b"." + payload, hashlib.sha256)
    return f"t={t},v1={digest.hexdigest()}"


def _key_bytes(key: str) -> bytes:
    """Return the HMAC key: the UTF-8 bytes of the key string, surrounding whitespace trimmed."""
    return key.strip().encode("utf-8")


def check_signature(key: str, header: str | None, payload: bytes, now: float) -> str:
    """Return '' if the header signs `payload` with `key` within ±300 s of `now`, else why not."""
    if not header:
        return f"missing {SIGNATURE_HEADER}"
    parts: dict[str, str] = {}
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(name, value)
    t_text, given = parts.get("t", ""), parts.get("v1", "")
    if not t_text.isdigit() or len(t_text) > 12 or not given:
        return f"malformed {SIGNATURE_HEADER} (expected t=<unix>,v1=<hex>)"
    t = int(t_text)
    if abs(now - t) > MAX_SKEW_S:
        return f"stale signature: t={t} is {int(now - t)} s from HQ's clock (limit {MAX_SKEW_S})"
    expected = sign(key, t, payload).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, given.lower()):
        return "signature does not match"
    return ""


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Return the delay a Retry-After header asks for (seconds or an HTTP date), or None."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def inflate(body: bytes, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """Return the JSON bytes of a gzip body; BatchError 400 if it is not gzip or too large."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as err:
        raise BatchError(400, "not_gzip", f"the body is not gzip: {err}") from err
    if len(out) > limit:
        raise BatchError(400, "too_large", f"the batch inflates beyond {limit} bytes")
    if not inflater.eof:
        raise BatchError(400, "not_gzip", "the gzip body is truncated")
    return out


def decode_batch(raw: bytes, *, store: str, idempotency: str | bool | None) -> Batch:
    """Parse and check a batch's JSON (shape, range, headers agree); BatchError 400 if not.

    `idempotency` is the request's Idempotency-Key (None when it had none); False for a batch
    with no header to agree with (the events HQ gives back to a recovering store).
    """
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise BatchError(400, "bad_json", f"the batch is not JSON: {err}") from err
    if not isinstance(doc, dict):
        raise BatchError(400, "bad_batch", "the batch must be a JSON object")
    for name, kind in (("store", str), ("first_seq", int), ("last_seq", int), ("prev_hash", str)):
        value = doc.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise BatchError(400, "bad_batch", f"{name} must be a {kind.__name__}")
    events = doc.get("events")
    if not isinstance(events, list) or not events:
        raise BatchError(400, "bad_batch", "events must be a non-empty list")
    batch = Batch(doc["store"], doc["first_seq"], doc["last_seq"], doc["prev_hash"], events)
    if batch.store != store:
        raise BatchError(400, "wrong_store", f"the batch is of store {batch.store}, not {store}")
    if batch.first_seq < 1 or batch.last_seq - batch.first_seq + 1 != len(events):
        raise BatchError(400, "bad_range", "first_seq..last_seq does not match the events")
    if len(events) > MAX_EVENTS:
        raise BatchError(400, "too_many", f"at most {MAX_EVENTS} events per batch")
    expected_key = idempotency_key(store, batch.first_seq, batch.last_seq)
    if idempotency is not False and idempotency != expected_key:  # False: no header to agree
        raise BatchError(
            400, "bad_idempotency_key", f"{IDEMPOTENCY_HEADER} must be {expected_key!r}"
        )
    for offset, event in enumerate(events):
        _check_event_shape(event, batch.first_seq + offset)
    return batch


def _check_event_shape(event: object, seq: int) -> None:
    """Refuse an event object without the contract's fields and types."""
    if not isinstance(event, dict) or set(event) != set(EVENT_FIELDS):
        raise BatchError(400, "bad_event", f"event {seq} must have exactly {list(EVENT_FIELDS)}")
    if event["seq"] != seq or isinstance(event["seq"], bool):
        raise BatchError(400, "bad_range", f"event at position of seq {seq} says {event['seq']}")
    for name in ("id", "type", "ts", "prev_hash", "hash"):
        if not isinstance(event[name], str):
            raise BatchError(400, "bad_event", f"event {seq}: {name} must be a string")
    for name in ("till", "staff"):
        if event[name] is not None and not isinstance(event[name], str):
            raise BatchError(400, "bad_event", f"event {seq}: {name} must be a string or null")
    if not isinstance(event["data"], dict):
        raise BatchError(400, "bad_event", f"event {seq}: data must be an object")


def verify_batch(batch: Batch) -> list[str]:
    """Check the batch's own hash chain; return each event's canonical data text.

    Raises BatchError 422 `chain_broken` naming the first bad seq. The receiver keeps the
    returned data texts (the exact canonical form) so it never serialises them twice.
    """
    check_prev_hash(batch)
    return verify_events(batch.events, batch.prev_hash)


def check_prev_hash(batch: Batch) -> None:
    """Refuse a malformed prev_hash, and one at seq 1 that is not the genesis hash."""
    prev = batch.prev_hash
    if len(prev) != 64 or not HEX64.issuperset(prev):
        raise BatchError(400, "bad_batch", "prev_hash must be 64 lowercase hex digits")
    if batch.first_seq == 1 and prev != GENESIS_HASH:
        raise BatchError(422, "chain_broken", "seq 1 must follow the genesis hash")


def verify_events(events: Sequence[dict[str, Any]], prev: str) -> list[str]:
    """Check that `events` chain on from hash `prev`; return their canonical data texts."""
    texts: list[str] = []
    for event in events:
        seq = event["seq"]
        if event["prev_hash"] != prev:
            raise BatchError(422, "chain_broken", f"seq {seq}: prev_hash does not follow the chain")
        data = canonical_bytes(event["data"]).decode("utf-8")
        canonical = canonical_event(
            seq=seq, event_id=event["id"], event_type=event["type"], ts=event["ts"],
            till=event["till"], staff=event["staff"], data_json=data, prev_hash=prev,
        )  # fmt: skip
        if chain_hash(prev, canonical) != event["hash"]:
            raise BatchError(422, "chain_broken", f"seq {seq}: hash does not match its content")
        texts.append(data)
        prev = event["hash"]
    return texts


def error_body(code: str, message: str) -> dict[str, Any]:
    """Return the contract's error body."""
    return {"error": {"code": code, "message": message}}
