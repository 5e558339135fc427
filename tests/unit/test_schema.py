"""The request schema checker: every problem with its path, booleans never pass as numbers."""

from __future__ import annotations

from edge.web.schema import Schema, validate

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
