"""Read typed fields out of a TOML profile, collecting every problem instead of stopping at one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class Fields:
    """A profile being read: each getter returns a usable value and notes what was wrong."""

    def __init__(self, profile: Mapping[str, Any]) -> None:
        """Start reading `profile`."""
        self.profile = profile
        self.problems: list[str] = []

    def table(self, name: str, *, required: bool = True) -> Mapping[str, Any]:
        """Return a sub-table (empty, with a problem when required, if missing)."""
        value = self.profile.get(name)
        if isinstance(value, Mapping):
            return value
        if value is not None or required:
            self.problems.append(f"[{name}] table missing")
        return {}

    def _get(self, table: Mapping[str, Any], where: str, key: str, default: Any) -> Any:
        """Return a raw value, noting a missing required one (default None means required)."""
        if key in table:
            return table[key]
        if default is None:
            self.problems.append(f"{where}{key} is required")
        return default

    def text(self, table: Mapping[str, Any], where: str, key: str, default: str | None) -> str:
        """Return a string field."""
        value = self._get(table, where, key, default)
        if not isinstance(value, str):
            if value is not None:
                self.problems.append(f"{where}{key} must be text")
            return default or ""
        return value

    def integer(
        self,
        table: Mapping[str, Any],
        where: str,
        key: str,
        default: int | None,
        bounds: tuple[int, int],
    ) -> int:
        """Return an integer field within bounds (inclusive)."""
        low, high = bounds
        value = self._get(table, where, key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            if value is not None:
                self.problems.append(f"{where}{key} must be an integer in {low}..{high}")
            return default if default is not None else low
        return value

    def number(
        self,
        table: Mapping[str, Any],
        where: str,
        key: str,
        default: float,
        bounds: tuple[float, float],
    ) -> float:
        """Return a number of seconds (or the like) within bounds (inclusive)."""
        low, high = bounds
        value = table.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            self.problems.append(f"{where}{key} must be a number in {low}..{high}")
            return default
        return float(value)

    def flag(self, table: Mapping[str, Any], where: str, key: str, default: bool) -> bool:
        """Return a true/false field."""
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.problems.append(f"{where}{key} must be true or false")
            return default
        return value

    def choice(
        self, table: Mapping[str, Any], where: str, key: str, default: str, allowed: Sequence[str]
    ) -> str:
        """Return one of a few allowed strings."""
        value = table.get(key, default)
        if value not in allowed:
            self.problems.append(f"{where}{key} must be one of {', '.join(allowed)}")
            return default
        return str(value)

    def hex_bytes(
        self, table: Mapping[str, Any], where: str, key: str, default: str | None
    ) -> bytes:
        """Return a byte string written as hex pairs (`"1D 56 00"`)."""
        value = self.text(table, where, key, default)
        try:
            return bytes.fromhex(value)
        except ValueError:
            self.problems.append(f'{where}{key} must be hex bytes like "1D 56 00"')
            return b""
