"""USB keyboard-wedge scanners: 8-byte boot keyboard reports into frames.

A boot report is `[modifiers, reserved, k1..k6]`: the usages of the keys held down now. A
character is typed when its key appears in a report and was not held in the one before, so a
key held over several reports (or a report repeated by the idle timer) types once, and the
same character twice needs a release in between, as on a real keyboard. Shift is a modifier
bit (0x02 left, 0x20 right); the profile's layout table maps a usage to its plain and
shifted character. A key the layout does not know, or one typed with Ctrl, Alt or GUI held,
makes the code unprintable so it is rejected whole. An end key (Enter 0x28) finishes a code;
a code that stops without one is rejected after the timeout. Rollover error reports (usage
0x01 in the key slots) say nothing about the keys and are skipped. Pure: the caller passes
the time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from drivers.scanner.codes import Frame, Outcome, Rejected

REPORT_SIZE = 8
KEY_SLOTS = slice(2, 8)
ERROR_USAGES = frozenset({0x01, 0x02, 0x03})  # ErrorRollOver, POSTFail, ErrorUndefined
NOT_TYPABLE = "\x00"  # stands for a key the layout cannot type; never printable


@dataclass(frozen=True)
class KeyboardLayout:
    """A keyboard layout table and the keys that end a code (the profile's `[keyboard]`)."""

    keys: Mapping[int, tuple[str, str]]
    name: str = "us"
    shift_mask: int = 0x22
    end_keys: frozenset[int] = field(default_factory=lambda: frozenset({0x28, 0x58}))
    timeout: float = 0.3  # seconds allowed between two keystrokes of one code


class KeyboardDecoder:
    """Turn boot keyboard reports into frames, one per end key."""

    def __init__(self, layout: KeyboardLayout, max_length: int) -> None:
        """Remember the layout; no key is held yet."""
        self.layout = layout
        self.limit = max_length + 1
        self._typed: list[str] = []
        self._count = 0
        self._held: frozenset[int] = frozenset()
        self._last = 0.0

    def feed(self, report: bytes, now: float) -> list[Outcome]:
        """Take one boot report read at `now`; return the frame it completes, if any."""
        out = self.expire(now)
        if len(report) < REPORT_SIZE:
            return [*out, *self.reset(), Rejected("format", len(report))] if report else out
        keys = [usage for usage in report[KEY_SLOTS] if usage]
        if ERROR_USAGES.intersection(keys):
            return out
        pressed = [usage for usage in keys if usage not in self._held]
        self._held = frozenset(keys)
        for usage in pressed:
            self._last = now
            if usage in self.layout.end_keys:
                if self._count:
                    out.append(self._finish())
                continue
            self._type(usage, report[0])
        return out

    def expire(self, now: float) -> list[Outcome]:
        """Reject a code that stopped without an end key."""
        if self._count and now - self._last > self.layout.timeout:
            return self._drop()
        return []

    def reset(self) -> list[Outcome]:
        """Forget held keys and a half-typed code (the link went away); return it as rejected."""
        self._held = frozenset()
        return self._drop()

    def _drop(self) -> list[Outcome]:
        """Drop a half-typed code; return it as rejected."""
        count = self._count
        self._typed.clear()
        self._count = 0
        return [Rejected("incomplete", count)] if count else []

    def _type(self, usage: int, modifiers: int) -> None:
        """Add the character of one newly pressed key."""
        self._count += 1
        if self._count > self.limit:
            return  # too long already: `accept` rejects it by length, no need to keep it
        pair = self.layout.keys.get(usage)
        if pair is None or modifiers & ~self.layout.shift_mask:
            self._typed.append(NOT_TYPABLE)
        else:
            self._typed.append(pair[1] if modifiers & self.layout.shift_mask else pair[0])

    def _finish(self) -> Outcome:
        """Return the typed code and start the next one."""
        text, count = "".join(self._typed), self._count
        self._typed.clear()
        self._count = 0
        if count > len(text):
            return Rejected("overlong", count)
        return Frame(text)
