"""The hash chain exactly as SPEC §3 defines it: known answers and canonical-form properties."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.protocol.chain import (
    GENESIS_HASH,
    Event,
    EventDataError,
    _check_node,
    _plainly_json,
    canonical_event,
    chain_hash,
    check_data,
    dumps_canonical,
    prepare_data,
)

# Known answers computed once with nothing but json.dumps and hashlib (see SPEC §3).
CANONICAL_1 = (
    '{"data":{"currency":"CNY","name":"测试店","store":"S-TEST","timezone":"Asia/Shanghai"},'
    '"id":"00000000-0000-4000-8000-000000000001",'
    '"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000",'
    '"seq":1,"staff":null,"till":null,"ts":"2026-11-22T09:00:00.000+08:00",'
    '"type":"store.initialized"}'
)
HASH_1 = "809efe0f1c7dcce9871c82ab0073b50d0a77ae17e4307c607dc0088cfb3898f2"
CANONICAL_2 = (
    '{"data":{"lines":[{"amount":1250,"note":"\\"quoted\\" é ☃","qty":2,"sku":"6901234567892"}],'
    '"member":null,"neg":-5,"paid":true,"total":1250},'
    '"id":"00000000-0000-4000-8000-000000000002",'
    '"prev_hash":"809efe0f1c7dcce9871c82ab0073b50d0a77ae17e4307c607dc0088cfb3898f2",'
    '"seq":2,"staff":"E007","till":"T01","ts":"2026-11-22T09:05:30.250+08:00",'
    '"type":"sale.completed"}'
)
HASH_2 = "c4cc240f23f446ee95707627b158b65c9b727722cdb4e7b453551ee7b4f03a27"

EVENT_1 = Event(
    seq=1,
    id="00000000-0000-4000-8000-000000000001",
    type="store.initialized",
    ts="2026-11-22T09:00:00.000+08:00",
    till=None,
    staff=None,
    data={"store": "S-TEST", "name": "测试店", "currency": "CNY", "timezone": "Asia/Shanghai"},
    prev_hash=GENESIS_HASH,
    hash=HASH_1,
)
EVENT_2 = Event(
    seq=2,
    id="00000000-0000-4000-8000-000000000002",
    type="sale.completed",
    ts="2026-11-22T09:05:30.250+08:00",
    till="T01",
    staff="E007",
    data={
        "total": 1250,
        "lines": [{"sku": "6901234567892", "qty": 2, "amount": 1250, "note": '"quoted" é ☃'}],
        "paid": True,
        "member": None,
        "neg": -5,
    },
    prev_hash=HASH_1,
    hash=HASH_2,
)


def test_genesis_is_64_zeros() -> None:
    assert GENESIS_HASH == "0" * 64


@pytest.mark.parametrize(
    ("event", "canonical", "expected"),
    [(EVENT_1, CANONICAL_1, HASH_1), (EVENT_2, CANONICAL_2, HASH_2)],
)
def test_known_answer_vectors(event: Event, canonical: str, expected: str) -> None:
    assert event.canonical() == canonical
    assert event.computed_hash() == expected
    assert chain_hash(event.prev_hash, canonical) == expected


def test_wire_form_hash_recomputes_like_hq_would() -> None:
    wire = EVENT_2.to_wire()
    claimed = wire.pop("hash")
    text = json.dumps(wire, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert chain_hash(wire["prev_hash"], text) == claimed


json_leaf = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
json_data = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(
    seq=st.integers(1, 2**53),
    event_id=st.text(max_size=40),
    event_type=st.from_regex(r"[a-z]{1,8}\.[a-z_]{1,12}", fullmatch=True),
    ts=st.text(max_size=32),
    till=st.none() | st.text(max_size=8),
    staff=st.none() | st.text(max_size=8),
    data=st.dictionaries(st.text(max_size=8), json_data, max_size=5),
    prev=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
)
def test_canonical_event_equals_json_dumps(
    seq: int,
    event_id: str,
    event_type: str,
    ts: str,
    till: str | None,
    staff: str | None,
    data: dict[str, object],
    prev: str,
) -> None:
    check_data(data)
    obj = {
        "seq": seq,
        "id": event_id,
        "type": event_type,
        "ts": ts,
        "till": till,
        "staff": staff,
        "data": data,
        "prev_hash": prev,
    }
    expected = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    built = canonical_event(
        seq=seq,
        event_id=event_id,
        event_type=event_type,
        ts=ts,
        till=till,
        staff=staff,
        data_json=dumps_canonical(data),
        prev_hash=prev,
    )
    assert built == expected


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"amount": 1.5}, "data.amount: floats"),
        ({"lines": [{"qty": 0.5}]}, "data.lines[0].qty: floats"),
        ({"big": 2**53 + 1}, "outside"),
        ({"small": -(2**53) - 1}, "outside"),
        ({"nested": {1: "x"}}, "keys must be strings"),
        ({"when": object()}, "not a JSON value"),
        ({"nan": float("nan")}, "floats"),
    ],
)
def test_check_data_refuses(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(EventDataError, match=re.escape(fragment)):
        check_data(data)


class _Code(str):
    """A str subclass: JSON-safe, but only the slow walk looks at it closely."""


ANY_DATA = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**54), max_value=2**54)
    | st.floats()
    | st.text(max_size=4)
    | st.builds(_Code, st.text(max_size=4))
    | st.just(object()),
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=4) | st.integers(0, 3), children, max_size=4)
    ),
    max_leaves=12,
)


@given(ANY_DATA)
def test_the_quick_check_passes_only_what_the_walk_accepts(value: object) -> None:
    """check_data's quick pass must never let through what the path-naming walk refuses."""
    try:
        _check_node(value, "data")
    except EventDataError:
        walk_refuses = True
    else:
        walk_refuses = False
    if _plainly_json(value):
        assert not walk_refuses
    try:
        check_data(value)
    except EventDataError:
        assert walk_refuses
    else:
        assert not walk_refuses


def test_check_data_accepts_every_json_kind() -> None:
    check_data({"a": None, "b": True, "c": 2**53, "d": "文字", "e": [1, [2, {"f": -(2**53)}]]})


@given(
    data=st.dictionaries(st.text(max_size=8), json_data, max_size=8),
    extra=st.dictionaries(st.text(max_size=8), json_data, max_size=4),
    later=st.lists(st.text(max_size=8), max_size=4),
    split=st.integers(min_value=0, max_value=4),
)
def test_prepared_data_is_the_canonical_form(
    data: dict[str, object], extra: dict[str, object], later: list[str], split: int
) -> None:
    """Joining prepared runs, with fields added later in steps, gives json.dumps's text.

    The later fields may have been announced or not, may already be in the data, and may come
    in two calls: the text is the canonical form every time.
    """
    whole = data | extra
    announced = later + list(extra)[: split % (len(extra) + 1)]
    first = dict(list(extra.items())[:split])
    second = dict(list(extra.items())[split:])
    prepared = prepare_data(data, later=announced).with_fields(**first).with_fields(**second)
    assert prepared.data == whole
    expected = json.dumps(whole, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert prepared.canonical() == expected
    assert prepare_data(data).canonical() == json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def test_text_the_fast_serialiser_refuses_still_gets_the_canonical_form() -> None:
    # a lone surrogate is not UTF-8: orjson refuses it and the json module writes the text
    data = {"note": "\ud800", "lines": [{"b": 1, "a": "x"}]}
    expected = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert prepare_data(data, later=["m"]).with_fields(m="\udfff").canonical() == json.dumps(
        data | {"m": "\udfff"}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert prepare_data(data).canonical() == expected


def test_prepared_data_is_checked_like_any_event_data() -> None:
    with pytest.raises(EventDataError):
        prepare_data({"price": 1.5})
    with pytest.raises(EventDataError):
        prepare_data({"ok": 1}).with_fields(big=2**60)
