"""The request schema checker: every problem with its path, booleans never pass as numbers.

The quick yes/no test that valid bodies take must pass exactly what the checker finds nothing in.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st

import edge.web
from edge.web.api import Api
from edge.web.sales import SALE_SCHEMA
from edge.web.schema import Problems, Schema, checker, screen, validate

FIELD_NAMES = ["id", "lines", "tenders", "code", "quantity", "kind", "amount", "grams", "member"]

LINE: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["code"],
    "properties": {
        "code": {"type": "string", "minLength": 1, "maxLength": 4, "pattern": "^[0-9]+$"},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 9},
        "note": {"type": ["string", "null"]},
        "kind": {"enum": ["a", "b"]},
    },
}
BODY: Schema = {
    "type": "object",
    "properties": {"lines": {"type": "array", "minItems": 1, "maxItems": 3, "items": LINE}},
}


def test_valid_body_has_no_problems() -> None:
    assert (
        validate({"lines": [{"code": "12", "quantity": 2, "note": None, "kind": "a"}]}, BODY) == []
    )


def test_every_problem_is_named_by_path() -> None:
    body = {
        "lines": [
            {"code": "12345", "quantity": True, "extra": 1},
            {"quantity": 2.0, "note": 5, "kind": "c"},
            {"code": "x", "quantity": 0},
        ]
    }
    assert validate(body, BODY) == [
        ("$.lines[0].code", "must have at most 4 characters"),
        ("$.lines[0].quantity", "must be integer, got boolean"),
        ("$.lines[0].extra", "is not a known field"),
        ("$.lines[1].code", "is required"),
        ("$.lines[1].quantity", "must be integer, got number"),
        ("$.lines[1].note", "must be string or null, got integer"),
        ("$.lines[1].kind", "must be one of a, b"),
        ("$.lines[2].code", "does not match ^[0-9]+$"),
        ("$.lines[2].quantity", "must be at least 1"),
    ]


def test_sizes_and_top_level_types() -> None:
    assert validate({"lines": []}, BODY) == [("$.lines", "must have at least 1 items")]
    too_many = validate({"lines": [{"code": "1"}] * 4}, BODY)
    assert too_many == [("$.lines", "must have at most 3 items")]
    assert validate([], BODY) == [("$", "must be object, got array")]
    assert validate({"lines": "no"}, BODY) == [("$.lines", "must be array, got string")]


def _request_schemas() -> list[Schema]:
    """Every request body and query schema the API declares (each web module's `api`)."""
    found: list[Schema] = [BODY, LINE]
    for info in pkgutil.iter_modules(edge.web.__path__):
        api = getattr(importlib.import_module(f"edge.web.{info.name}"), "api", None)
        if isinstance(api, Api):
            for operation in api.operations:
                found += [operation.request] if operation.request is not None else []
                found += operation.query.values()
    return found


SCHEMAS = _request_schemas()
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
    | st.sampled_from(["", "cash", "card", "12", "a", "0" * 13, "2024-01-01"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=20,
)


def test_the_quick_test_refuses_each_kind_of_problem() -> None:
    good = {"code": "12", "quantity": 2, "note": None, "kind": "a"}
    assert screen(LINE)(good)
    for change in (
        {"code": ""},  # too short
        {"code": "12345"},  # too long
        {"code": "1a"},  # pattern
        {"quantity": 0},  # minimum
        {"quantity": 10},  # maximum
        {"quantity": True},  # a boolean is no integer
        {"quantity": 2.0},  # nor is a float
        {"note": 5},  # neither of two types
        {"kind": "c"},  # enum
        {"extra": 1},  # unknown field
    ):
        assert not screen(LINE)(good | change), change
    assert not screen(LINE)({"quantity": 2})  # required
    assert not screen(BODY)({"lines": []})  # minItems
    assert not screen(BODY)({"lines": [good] * 4})  # maxItems
    assert not screen(BODY)({"lines": [good, {"code": "x"}]})  # a bad item
    assert not screen(BODY)([])  # top-level type


def test_the_api_declares_request_schemas() -> None:
    assert len(SCHEMAS) > 20  # the property below covers the real request bodies


@settings(max_examples=400, deadline=None)
@given(index=st.integers(min_value=0), value=JSON_VALUES)
def test_the_quick_test_passes_exactly_what_the_checker_finds_nothing_in(
    index: int, value: object
) -> None:
    schema = SCHEMAS[index % len(SCHEMAS)]
    problems: Problems = []
    checker(schema)(value, "$", problems)
    assert screen(schema)(value) is (not problems)
    assert validate(value, schema) == problems


@settings(max_examples=500, deadline=None)
@given(data=st.data())
def test_the_quick_test_agrees_on_near_valid_bodies(data: st.DataObject) -> None:
    """Start from a valid sale body and change one field: both must agree every time."""
    body: dict[str, object] = {
        "id": "6f1c2b0e-4a7d-4c1e-9d3a-2b5c8e7f9a10",
        "lines": [{"code": "4006381333931", "quantity": 2}, {"code": "12345670", "quantity": 1}],
        "tenders": [{"kind": "cash", "amount": 5000}],
    }
    assert screen(SALE_SCHEMA)(body) and validate(body, SALE_SCHEMA) == []
    where = data.draw(st.sampled_from(["top", "line", "tender"]))
    target = cast(
        dict[str, object],
        body
        if where == "top"
        else cast(list[object], body["lines" if where == "line" else "tenders"])[0],
    )
    key = data.draw(st.sampled_from([*target, *FIELD_NAMES]))
    if data.draw(st.booleans()):
        target.pop(key, None)
    else:
        target[key] = data.draw(st.integers(min_value=-2, max_value=10**10) | JSON_VALUES)
    problems: Problems = []
    checker(SALE_SCHEMA)(body, "$", problems)
    assert screen(SALE_SCHEMA)(body) is (not problems)
