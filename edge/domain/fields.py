"""Reading a JSON record field by field while collecting every problem with its path.

A validator reads all fields, notes each problem as (path, problem) and raises one
ValidationFailed at the end, so a client learns everything wrong with a record at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time
from typing import Any

from edge.domain.errors import ValidationFailed

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
HH_MM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
MAX_NAMES = 1000


class FieldReader:
    """Read a record's fields, noting every problem under `prefix` + the field name."""

    def __init__(self, raw: Mapping[str, Any], prefix: str = "") -> None:
        """Keep the record and where its fields sit in the request."""
        self.raw = raw
        self.prefix = prefix
        self.problems: list[tuple[str, str]] = []

    def problem(self, name: str, text: str) -> None:
        """Note a problem with a field."""
        self.problems.append((f"{self.prefix}{name}", text))

    def unknown(self, known: tuple[str, ...], what: str) -> None:
        """Note every field that is not one of `known`."""
        for name in sorted(set(self.raw) - set(known)):
            self.problem(name, f"is not a {what} field")

    def text(self, name: str, *, required: bool = True, max_len: int = 120) -> str:
        """Read a text field, stripped ("" when absent)."""
        value = self.raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(name, "is required")
            return ""
        if not isinstance(value, str):
            self.problem(name, "must be text")
            return ""
        value = value.strip()
        if len(value) > max_len:
            self.problem(name, f"must have at most {max_len} characters")
        if any(ord(c) < 32 for c in value):
            self.problem(name, "must not contain control characters")
        return value

    def integer(self, name: str, least: int, most: int) -> int | None:
        """Read an integer field within [least, most] (None when absent or wrong)."""
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(name, "must be an integer")
            return None
        if not least <= value <= most:
            self.problem(name, f"must be between {least} and {most}")
            return None
        return value

    def flag(self, name: str, default: bool) -> bool:
        """Read a JSON boolean field."""
        value = self.raw.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(name, "must be true or false")
            return default
        return value

    def moment(self, name: str) -> datetime | None:
        """Read an ISO 8601 date and time with a UTC offset (naive ones are refused)."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None:
            self.problem(name, "must be an ISO 8601 date and time")
        elif moment.utcoffset() is None:
            self.problem(name, "must include a UTC offset (e.g. +08:00)")
            moment = None
        return moment

    def clock(self, name: str) -> time | None:
        """Read a time of day written HH:MM."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not HH_MM.match(value):
            self.problem(name, "must be a time of day HH:MM")
            return None
        return time.fromisoformat(value)

    def names(self, name: str) -> tuple[str, ...]:
        """Read a list of ids (letters, digits, '.', '_', '-'), duplicates dropped."""
        value = self.raw.get(name)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem(name, "must be a list of ids")
            return ()
        if len(value) > MAX_NAMES:
            self.problem(name, f"must have at most {MAX_NAMES} ids")
            return ()
        found: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not NAME.match(item):
                self.problem(f"{name}[{index}]", "must be 1-40 letters, digits, '.', '_' or '-'")
            elif item not in found:
                found.append(item)
        return tuple(found)

    def section(self, name: str) -> FieldReader:
        """Return a reader of a nested object (empty when absent); absorb() it when done."""
        value = self.raw.get(name)
        if value is not None and not isinstance(value, Mapping):
            self.problem(name, "must be an object")
        return FieldReader(value if isinstance(value, Mapping) else {}, f"{self.prefix}{name}.")

    def absorb(self, other: FieldReader) -> None:
        """Take over the problems a nested reader found."""
        self.problems.extend(other.problems)

    def check(self) -> None:
        """Raise ValidationFailed with every problem noted, if any."""
        if self.problems:
            raise ValidationFailed(self.problems)
