"""A small JSON Schema subset used both to document the API and to check request bodies.

One schema serves the OpenAPI document and the validation, so the two cannot drift.
Supported keywords: type (incl. lists), properties, required, additionalProperties (bool),
items, minItems, maxItems, minimum, maximum, minLength, maxLength, pattern, enum, nullable
via a type list with "null". Integers exclude booleans; floats are refused where an integer is
expected (money is in minor units).

Each schema compiles twice: a yes/no screen that a valid body (nearly every request) passes
without naming anything, and the checker that walks a refused body again to name each problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

Schema = dict[str, Any]
F = TypeVar("F")

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


Problems = list[tuple[str, str]]
Checker = Callable[[Any, str, Problems], None]
_COMPILED: dict[int, tuple[Schema, Checker]] = {}


def validate(value: Any, schema: Schema, path: str = "$") -> Problems:
    """Return every (path, problem) of `value` against `schema`; empty when valid.

    A valid value (nearly every request) passes one quick test that names nothing; only a
    value that fails it is walked again to name each problem with its path.
    """
    if screen(schema)(value):
        return []
    problems: Problems = []
    checker(schema)(value, path, problems)
    return problems


def _once(cache: dict[int, tuple[Schema, F]], schema: Schema, build: Callable[[Schema], F]) -> F:
    """Return `build(schema)`, built once per schema and kept in `cache`."""
    known = cache.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    built = build(schema)
    cache[id(schema)] = (schema, built)  # keeps the schema alive: its id stays unique
    return built


def checker(schema: Schema) -> Checker:
    """Return the schema compiled into a checking function (compiled once per schema)."""
    return _once(_COMPILED, schema, _compile)


Screen = Callable[[Any], bool]
_SCREENS: dict[int, tuple[Schema, Screen]] = {}


def screen(schema: Schema) -> Screen:
    """Return the schema compiled into a yes/no screen: True exactly when `checker` finds none."""
    return _once(_SCREENS, schema, _compile_screen)


def _node_types(
    schema: Schema,
) -> tuple[list[str] | None, tuple[type, ...] | None, bool, list[Any] | None]:
    """Return a node's type names, admitted Python types, no-booleans flag and enum.

    Booleans are refused where a number or integer is asked for; None: no type or no enum.
    """
    kinds = schema.get("type")
    names = None if kinds is None else ([kinds] if isinstance(kinds, str) else list(kinds))
    allowed = tuple(t for n in names for t in _TYPES[n]) if names else None
    return names, allowed, names is not None and "boolean" not in names, schema.get("enum")


def _always(_value: Any) -> bool:
    """Pass anything (a node without constraints for this type)."""
    return True


def _compile_screen(schema: Schema) -> Screen:
    """Build the yes/no screen of one schema node: the rules of `_compile`, in the same order."""
    names, allowed, numeric_only, enum = _node_types(schema)
    string, number = _string_screen(schema), _number_screen(schema)
    array, obj = _array_screen(schema), _object_screen(schema)

    def passes(value: Any) -> bool:
        if allowed is not None and (
            not isinstance(value, allowed) or (numeric_only and isinstance(value, bool))
        ):
            return False
        if enum is not None and value not in enum:
            return False
        kind = type(value)
        if kind is str:
            return string(value)
        if kind is int or kind is float:
            return number(value)
        if kind is list:
            return array(value)
        if kind is dict:
            return obj(value)
        return True

    if enum is None and names == ["string"]:  # the common leaves: their own type goes straight
        return lambda value: string(value) if type(value) is str else passes(value)
    if enum is None and names == ["integer"]:
        return lambda value: number(value) if type(value) is int else passes(value)
    return passes


def _string_screen(schema: Schema) -> Screen:
    """Screen a string's length and pattern."""
    least, most, pattern = schema.get("minLength"), schema.get("maxLength"), schema.get("pattern")
    if least is None and most is None and pattern is None:
        return _always
    low, high = least or 0, most
    search = None if pattern is None else _pattern(pattern).search

    def passes(value: str) -> bool:
        size = len(value)
        return (
            size >= low
            and (high is None or size <= high)
            and (search is None or search(value) is not None)
        )

    return passes


def _number_screen(schema: Schema) -> Screen:
    """Screen a number's range."""
    least, most = schema.get("minimum"), schema.get("maximum")
    if least is None and most is None:
        return _always

    def passes(value: float) -> bool:
        return (least is None or not value < least) and (most is None or not value > most)

    return passes


def _array_screen(schema: Schema) -> Screen:
    """Screen an array's size and items (its item screen is built on first use)."""
    least, most, items = schema.get("minItems"), schema.get("maxItems"), schema.get("items")
    low = least or 0
    item_screen: Screen | None = None

    def passes(value: list[Any]) -> bool:
        nonlocal item_screen
        size = len(value)
        if size < low or (most is not None and size > most):
            return False
        if items is None:
            return True
        if item_screen is None:
            item_screen = screen(items)
        return all(map(item_screen, value))

    return passes


def _object_screen(schema: Schema) -> Screen:
    """Screen an object's required, known and nested properties (children built on first use)."""
    properties: dict[str, Schema] = schema.get("properties", {})
    required = tuple(schema.get("required", ()))
    closed = schema.get("additionalProperties", True) is False
    screens: dict[str, Screen] | None = None

    def passes(value: dict[str, Any]) -> bool:
        nonlocal screens
        if screens is None:
            screens = {name: screen(sub) for name, sub in properties.items()}
        for name in required:
            if name not in value:
                return False
        for name, item in value.items():
            sub = screens.get(name)
            if sub is None:
                if closed:
                    return False
            elif not sub(item):
                return False
        return True

    return passes


def _compile(schema: Schema) -> Checker:
    """Build the checking function of one schema node and, lazily, of its children."""
    names, allowed, numeric_only, enum = _node_types(schema)
    rest = _value_checks(schema)

    def check(value: Any, path: str, out: Problems) -> None:
        if allowed is not None and (
            not isinstance(value, allowed) or (numeric_only and isinstance(value, bool))
        ):
            assert names is not None  # noqa: S101 - allowed implies names
            out.append((path, f"must be {' or '.join(names)}, got {_json_type(value)}"))
            return
        if enum is not None and value not in enum:
            out.append((path, f"must be one of {', '.join(map(str, enum))}"))
        rest(value, path, out)

    return check


def _value_checks(schema: Schema) -> Checker:
    """Build the checks that depend on the value's own type (length, range, items, fields)."""
    string = _string_checks(schema)
    number = _number_checks(schema)
    array = _array_checks(schema)
    obj = _object_checks(schema)

    def check(value: Any, path: str, out: Problems) -> None:
        kind = type(value)
        if kind is str:
            string(value, path, out)
        elif kind is int or kind is float:
            number(value, path, out)
        elif kind is list:
            array(value, path, out)
        elif kind is dict:
            obj(value, path, out)

    return check


def _nothing(value: Any, path: str, out: Problems) -> None:
    """Check nothing."""


def _string_checks(schema: Schema) -> Checker:
    """Build the length and pattern checks of a string."""
    least, most, pattern = schema.get("minLength"), schema.get("maxLength"), schema.get("pattern")
    if least is None and most is None and pattern is None:
        return _nothing
    compiled = None if pattern is None else _pattern(pattern)

    def check(value: str, path: str, out: Problems) -> None:
        if least is not None and len(value) < least:
            out.append((path, f"must have at least {least} characters"))
        if most is not None and len(value) > most:
            out.append((path, f"must have at most {most} characters"))
        if compiled is not None and not compiled.search(value):
            out.append((path, f"does not match {pattern}"))

    return check


def _number_checks(schema: Schema) -> Checker:
    """Build the range checks of a number."""
    least, most = schema.get("minimum"), schema.get("maximum")
    if least is None and most is None:
        return _nothing

    def check(value: float, path: str, out: Problems) -> None:
        if least is not None and value < least:
            out.append((path, f"must be at least {least}"))
        if most is not None and value > most:
            out.append((path, f"must be at most {most}"))

    return check


def _array_checks(schema: Schema) -> Checker:
    """Build the size and item checks of an array."""
    least, most, items = schema.get("minItems"), schema.get("maxItems"), schema.get("items")

    def check(value: list[Any], path: str, out: Problems) -> None:
        if least is not None and len(value) < least:
            out.append((path, f"must have at least {least} items"))
        if most is not None and len(value) > most:
            out.append((path, f"must have at most {most} items"))
            return
        if items is not None:
            item_check = checker(items)
            for index, item in enumerate(value):
                item_check(item, f"{path}[{index}]", out)

    return check


def _object_checks(schema: Schema) -> Checker:
    """Build the required, known and nested property checks of an object."""
    properties: dict[str, Schema] = schema.get("properties", {})
    required = tuple(schema.get("required", ()))
    closed = schema.get("additionalProperties", True) is False

    def check(value: dict[str, Any], path: str, out: Problems) -> None:
        for name in required:
            if name not in value:
                out.append((f"{path}.{name}", "is required"))
        for name, item in value.items():
            sub = properties.get(name)
            if sub is not None:
                checker(sub)(item, f"{path}.{name}", out)
            elif closed:
                out.append((f"{path}.{name}", "is not a known field"))

    return check


def _json_type(value: Any) -> str:
    """Name the JSON type of a Python value."""
    for name in ("boolean", "integer", "number", "string", "array", "object", "null"):
        if _is_type(value, name):
            return name
    return type(value).__name__
