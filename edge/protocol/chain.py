"""The ledger event as sent to HQ and its hash chain (SPEC §3), exact to the byte.

`canonical` is the event object without its `hash`, serialised as
`json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`, UTF-8;
`hash = sha256(prev_hash_hex + canonical).hexdigest()`; the first event's `prev_hash` is 64
zeros. Event data holds only integers within ±2^53, strings, booleans, null, lists and objects
with string keys, so any language reproduces the canonical form exactly.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any, TypeAlias

import orjson

GENESIS_HASH = "0" * 64
MAX_SAFE_INT = 2**53
EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

JsonValue: TypeAlias = bool | int | str | list["JsonValue"] | dict[str, "JsonValue"] | None


class EventDataError(ValueError):
    """Raise when event data holds something the canonical form cannot carry exactly."""


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dumps_canonical(value: object) -> str:
    """Serialise a JSON value in the canonical form (sorted keys, compact, UTF-8 text)."""
    return _ENCODER.encode(value)


def _sorted_by_orjson(value: Any) -> bytes | None:
    """Return orjson's sorted, compact UTF-8 output of `value`, or None where orjson refuses.

    For data `check_data` accepts (no floats, integers within ±2^53) it is exactly what
    `dumps_canonical` writes, several times faster (a property test holds the two together);
    orjson refuses only what has no UTF-8 form (lone surrogates) or is not JSON at all.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None


def canonical_bytes(value: Any) -> bytes:
    """Return the canonical form of checked event data as UTF-8 bytes."""
    fast = _sorted_by_orjson(value)
    return fast if fast is not None else dumps_canonical(value).encode("utf-8")


def canonical_text(value: Any) -> str:
    """Return the canonical text of checked event data.

    Not `canonical_bytes(...).decode()`: text with a lone surrogate has a canonical text (the
    json module writes it as is) but no UTF-8 bytes.
    """
    fast = _sorted_by_orjson(value)
    return fast.decode("utf-8") if fast is not None else dumps_canonical(value)


@dataclass(frozen=True)
class PreparedData:
    """Event data checked and serialised ahead of its transaction.

    A command that knows most of an event's data before it runs (a sale priced and paid
    outside the writer) prepares it here, naming the few top-level fields only the transaction
    will know (`later`), and adds them with `with_fields`; `canonical()` then only joins text,
    the same text `dumps_canonical(data)` gives, so the writer's turn stays short. The text is
    kept as runs of sorted `"key":value` pairs cut where a later field will fall.
    """

    data: dict[str, Any]
    blocks: tuple[tuple[str, str], ...]  # (first key, its run's text), in key order
    later: frozenset[str] = frozenset()

    def with_fields(self, **fields: Any) -> PreparedData:
        """Return a copy with more top-level fields (checked and serialised now)."""
        check_data(fields)
        data = self.data | fields
        if not fields.keys() <= self.later or fields.keys() & self.data.keys():
            return prepare_data(data)  # not a field kept a place for: serialise it all again
        added = tuple(
            (key, encode_basestring(key) + ":" + canonical_text(value))
            for key, value in fields.items()
        )
        return PreparedData(data, tuple(sorted(self.blocks + added)), self.later - fields.keys())

    def canonical(self) -> str:
        """Return the canonical text of the whole data object."""
        return "{" + ",".join(text for _, text in self.blocks) + "}"


def prepare_data(data: Mapping[str, Any], later: Iterable[str] = ()) -> PreparedData:
    """Check and serialise event data ahead of the transaction that appends it.

    `later`: top-level fields `with_fields` will add (their places are kept in the text).
    """
    payload = dict(data)
    check_data(payload)
    missing = sorted(key for key in later if key not in payload)
    runs: list[list[str]] = [[]]
    place = 0
    for key in sorted(payload):
        while place < len(missing) and missing[place] < key:
            if runs[-1]:
                runs.append([])
            place += 1
        runs[-1].append(key)
    blocks = tuple(
        (run[0], canonical_text({key: payload[key] for key in run})[1:-1]) for run in runs if run
    )
    return PreparedData(payload, blocks, frozenset(missing))


def json_strings(values: Iterable[str]) -> str:
    """Return the JSON array of `values` (strings), e.g. for SQLite's json_each()."""
    return "[" + ",".join(map(encode_basestring, values)) + "]"


def _quote(value: str | None) -> str:
    """Return the canonical JSON text of a string or null (same as dumps_canonical)."""
    return "null" if value is None else encode_basestring(value)


_PLAIN_LEAVES = frozenset({str, bool, type(None)})
_CONTAINERS = frozenset({dict, list, tuple})


def _plainly_json(value: Any) -> bool:
    """Tell quickly whether `value` holds only exact JSON types, safe integers and string keys.

    No paths are built: nearly all data passes. False sends it to the walk that names the
    problem, or that accepts what this one does not look at closely (subclasses).
    """
    low, high, leaves, containers = -MAX_SAFE_INT, MAX_SAFE_INT, _PLAIN_LEAVES, _CONTAINERS
    pending = [value]
    while pending:
        node = pending.pop()
        kind = type(node)
        if kind is dict:
            for key in node:
                if type(key) is not str:
                    return False
            items = node.values()
        elif kind is list or kind is tuple:
            items = node
        else:
            return False
        for item in items:
            item_kind = type(item)
            if item_kind in leaves or (item_kind is int and low <= item <= high):
                continue
            if item_kind not in containers:
                return False
            pending.append(item)
    return True


def check_data(value: Any, path: str = "data") -> None:
    """Refuse floats, huge integers, non-string keys and non-JSON types anywhere in `value`."""
    if _plainly_json(value):
        return
    _check_node(value, path)


def _check_node(value: Any, path: str) -> None:
    """Walk `value` naming where a problem is (the slow path, after `_plainly_json` said no)."""
    kind = type(value)
    if kind is dict:
        pairs: Iterable[tuple[Any, Any]] = value.items()
    elif kind is list or kind is tuple:
        pairs = enumerate(value)
    else:
        _check_scalar(value, path)
        return
    for key, item in pairs:
        if kind is dict and type(key) is not str:
            raise EventDataError(f"{path}: object keys must be strings, got {key!r}")
        item_kind = type(item)
        if item_kind is str or item_kind is bool or item is None:
            continue
        if item_kind is int and -MAX_SAFE_INT <= item <= MAX_SAFE_INT:
            continue
        _check_node(item, f"{path}.{key}" if kind is dict else f"{path}[{key}]")


def _check_scalar(value: object, path: str) -> None:
    """Check one non-container value (the slow path, subclasses included)."""
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise EventDataError(f"{path}: integer {value} is outside ±2^53")
        return
    if isinstance(value, float):
        raise EventDataError(f"{path}: floats are not allowed in event data (use minor units)")
    if isinstance(value, (list, tuple, dict)):
        _check_node(dict(value) if isinstance(value, dict) else list(value), path)
        return
    raise EventDataError(f"{path}: {type(value).__name__} is not a JSON value")


def canonical_event(
    *,
    seq: int,
    event_id: str,
    event_type: str,
    ts: str,
    till: str | None,
    staff: str | None,
    data_json: str,
    prev_hash: str,
) -> str:
    """Return the canonical text of an event whose data is already canonical JSON text.

    Keys in sorted order: data, id, prev_hash, seq, staff, till, ts, type — the same text
    `dumps_canonical` gives for the whole object, built without serialising `data` twice.
    """
    # one f-string builds the text in one go; chained `+` would copy the data text each time
    return (
        f'{{"data":{data_json},"id":{_quote(event_id)},"prev_hash":{_quote(prev_hash)},'
        f'"seq":{seq},"staff":{_quote(staff)},"till":{_quote(till)},"ts":{_quote(ts)},'
        f'"type":{_quote(event_type)}}}'
    )


def chain_hash(prev_hash: str, canonical: str) -> str:
    """Return sha256(prev_hash_hex + canonical) as lowercase hex."""
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Event:
    """One journal entry exactly as HQ receives it."""

    seq: int
    id: str
    type: str
    ts: str
    till: str | None
    staff: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str

    def canonical(self) -> str:
        """Return the canonical text the hash covers."""
        return canonical_event(
            seq=self.seq,
            event_id=self.id,
            event_type=self.type,
            ts=self.ts,
            till=self.till,
            staff=self.staff,
            data_json=dumps_canonical(self.data),
            prev_hash=self.prev_hash,
        )

    def computed_hash(self) -> str:
        """Return the hash this event's content and prev_hash give."""
        return chain_hash(self.prev_hash, self.canonical())

    def to_wire(self) -> dict[str, Any]:
        """Return the event object sent to HQ (with its hash)."""
        return {
            "seq": self.seq,
            "id": self.id,
            "type": self.type,
            "ts": self.ts,
            "till": self.till,
            "staff": self.staff,
            "data": self.data,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }
