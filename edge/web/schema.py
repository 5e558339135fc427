"""A small JSON Schema subset used both to document the API and to check request bodies.

One schema serves the OpenAPI document and the validation, so the two cannot drift.
Supported keywords: type (incl. lists), properties, required, additionalProperties (bool),
items, minItems, maxItems, minimum, maximum, minLength, maxLength, pattern, enum, nullable
via a type list with "null". Integers exclude booleans; floats are refused where an integer is
expected (money is in minor units).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

Schema = dict[str, Any]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


@cache
def _pattern(text: str) -> re.Pattern[str]:
    """Compile a schema pattern once."""
    return re.compile(text)


def _is_type(value: Any, name: str) -> bool:
    """Return True if `value` is of the JSON type `name`."""
    if name in {"integer", "number"} and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[name])


def validate(value: Any, schema: Schema, path: str = "$") -> list[tuple[str, str]]:
    """Return every (path, problem) of `value` against `schema`; empty when valid."""
    problems: list[tuple[str, str]] = []
    kinds = schema.get("type")
    if kinds is not None:
        names = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_is_type(value, n) for n in names):
            problems.append((path, f"must be {' or '.join(names)}, got {_json_type(value)}"))
            return problems
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(map(str, schema["enum"]))
        problems.append((path, f"must be one of {choices}"))
    if isinstance(value, str):
        _check_string(value, schema, path, problems)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append((path, f"must be at least {schema['minimum']}"))
        if "maximum" in schema and value > schema["maximum"]:
            problems.append((path, f"must be at most {schema['maximum']}"))
    elif isinstance(value, list):
        _check_array(value, schema, path, problems)
    elif isinstance(value, dict):
        _check_object(value, schema, path, problems)
    return problems


def _check_string(value: str, schema: Schema, path: str, out: list[tuple[str, str]]) -> None:
    """Check string length and pattern."""
    if "minLength" in schema and len(value) < schema["minLength"]:
        out.append((path, f"must have at least {schema['minLength']} characters"))
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        out.append((path, f"must have at most {schema['maxLength']} characters"))
    if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
        out.append((path, f"does not match {schema['pattern']}"))


def _check_array(value: list[Any], schema: Schema, path: str, out: list[tuple[str, str]]) -> None:
    """Check array size and items."""
    if "minItems" in schema and len(value) < schema["minItems"]:
        out.append((path, f"must have at least {schema['minItems']} items"))
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        out.append((path, f"must have at most {schema['maxItems']} items"))
        return
    items = schema.get("items")
    if items is not None:
        for index, item in enumerate(value):
            out.extend(validate(item, items, f"{path}[{index}]"))


def _check_object(
    value: dict[str, Any], schema: Schema, path: str, out: list[tuple[str, str]]
) -> None:
    """Check required, known and nested properties."""
    properties: dict[str, Schema] = schema.get("properties", {})
    out.extend(
        (f"{path}.{name}", "is required")
        for name in schema.get("required", ())
        if name not in value
    )
    for name, item in value.items():
        if name in properties:
            out.extend(validate(item, properties[name], f"{path}.{name}"))
        elif schema.get("additionalProperties", True) is False:
            out.append((f"{path}.{name}", "is not a known field"))


def _json_type(value: Any) -> str:
    """Name the JSON type of a Python value."""
    for name in ("boolean", "integer", "number", "string", "array", "object", "null"):
        if _is_type(value, name):
            return name
    return type(value).__name__
