"""The `edge_toml` filter: render a mapping as TOML for edge.toml and the gateway configs.

Tables of scalars become `[section]` tables (or `[[name]]` for a list of tables); lists and
nested mappings inside a table become TOML arrays and inline tables. Strings are written as
basic strings with every character TOML forbids escaped. Anything TOML cannot say (None, NaN,
sets, objects) is refused with the dotted name of the key, so a wrong inventory value fails the
template instead of writing a file the server cannot read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _string(text: str) -> str:
    """Return a TOML basic string for `text`."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _key(key: object, where: str) -> str:
    """Return a TOML key (bare when it can be)."""
    if not isinstance(key, str) or not key:
        raise AnsibleFilterError(f"edge_toml: {where}: keys must be non-empty strings, got {key!r}")
    return key if _BARE_KEY.match(key) else _string(key)


def _value(value: Any, where: str) -> str:
    """Return a TOML value (string, integer, float, boolean, array or inline table)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise AnsibleFilterError(f"edge_toml: {where}: {value!r} is not a usable number")
        return repr(value)
    if isinstance(value, str):
        return _string(str(value))
    if isinstance(value, Mapping):
        pairs = [f"{_key(k, where)} = {_value(v, f'{where}.{k}')}" for k, v in value.items()]
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, list | tuple):
        items = [_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return "[" + ", ".join(items) + "]"
    raise AnsibleFilterError(f"edge_toml: {where}: cannot write {value!r} ({type(value).__name__})")


def _table(lines: list[str], header: str, table: Mapping[str, Any], where: str) -> None:
    """Append one `[table]` or `[[table]]` with its key/value lines."""
    lines.append(header)
    for key, value in table.items():
        lines.append(f"{_key(key, where)} = {_value(value, f'{where}.{key}')}")
    lines.append("")


def to_toml(document: Any) -> str:
    """Render {section: {key: value}} or {name: [{key: value}, ...]} as TOML text."""
    if not isinstance(document, Mapping):
        raise AnsibleFilterError(f"edge_toml: expected a mapping of tables, got {document!r}")
    lines: list[str] = []
    for name, table in document.items():
        if isinstance(table, Mapping):
            _table(lines, f"[{_key(name, name)}]", table, name)
        elif isinstance(table, list) and all(isinstance(t, Mapping) for t in table):
            for index, item in enumerate(table):
                _table(lines, f"[[{_key(name, name)}]]", item, f"{name}[{index}]")
        else:
            raise AnsibleFilterError(
                f"edge_toml: {name} must be a table or a list of tables, got {table!r}"
            )
    return "\n".join(lines)


class FilterModule:
    """The filters of this directory."""

    def filters(self) -> dict[str, Callable[[Any], str]]:
        """Return the filters by name."""
        return {"edge_toml": to_toml}
