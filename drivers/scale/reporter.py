"""Turn the stream of poll outcomes into the few events a till needs, without I/O.

- `weight` only for a stable, in-range, non-negative weight, and only when it differs from the
  last one reported; after any reported error the next stable weight is reported again, since
  the error told listeners to stop trusting the previous one.
- `error` once per change of condition (motion, overload, under_zero, zero_error, tare_error,
  unreadable, timeout, disconnected), not on every poll; a run of garbage reports once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drivers.scale.engine import Reading, Stability

OK = "ok"
PENDING = "pending"  # a scale without status has not yet repeated a reading often enough


@dataclass(frozen=True)
class Problem:
    """A poll that produced no reading."""

    code: str  # unreadable | timeout | disconnected
    detail: str = ""


Outcome = Reading | Problem | None  # None: silence that means "unchanged" (Adam)
Event = tuple[str, dict[str, Any]]


class Reporter:
    """Remember the scale's condition and last reported weight; say only what changed."""

    def __init__(self, equal_readings: int = 1) -> None:
        """Judge stability by the scale's status, or by `equal_readings` (>1) equal readings."""
        self.stability = Stability(equal_readings) if equal_readings > 1 else None
        self.condition: str | None = None
        self.reported: int | None = None  # last weight sent in a `weight` event
        self.last: Reading | None = None  # last reading the scale actually sent
        self.stable = False
        self.tare_grams = 0
        self.unreadable = 0  # how many unreadable replies, in total

    @property
    def moving(self) -> bool:
        """Tell whether a scale without status sent a different weight last time."""
        return self.stability is not None and self.stability.moving

    def judge(self, outcome: Outcome) -> tuple[str, Reading | None]:
        """Return the condition an outcome shows and the reading it stands for."""
        if isinstance(outcome, Problem):
            self.stable = False
            if outcome.code == "unreadable":
                self.unreadable += 1
            return outcome.code, None
        reading = self.last if outcome is None else outcome
        if reading is None:
            return PENDING, None
        self.last = reading
        if reading.error is not None:
            if self.stability is not None:
                self.stability.feed(None)
            self.stable = False
            return reading.error, reading
        if reading.grams is None:
            return "unreadable", reading  # a status frame where a weight was due
        if self.stability is None:
            self.stable = True
            return OK, reading
        self.stable = self.stability.feed(reading.grams)
        if self.stable:
            return OK, reading
        return ("motion" if self.stability.moving else PENDING), reading

    def observe(self, outcome: Outcome) -> list[Event]:
        """Take one poll outcome; return the events it causes."""
        condition, reading = self.judge(outcome)
        if condition == "unreadable" and isinstance(outcome, Reading):
            self.unreadable += 1
        if reading is not None and reading.net is False:
            self.tare_grams = 0  # the scale says gross: no tare is active
        events: list[Event] = []
        if condition == PENDING:
            return events
        if condition == OK and reading is not None and reading.grams is not None:
            if reading.grams != self.reported:
                self.reported = reading.grams
                events.append(
                    (
                        "weight",
                        {"grams": reading.grams, "stable": True, "tare_grams": self.tare_grams},
                    )
                )
        elif condition != OK:
            self.reported = None
            if condition != self.condition:
                detail = outcome.detail if isinstance(outcome, Problem) else ""
                events.append(
                    ("error", {"code": condition} | ({"detail": detail} if detail else {}))
                )
        self.condition = condition
        return events
