"""The one scale protocol engine: request bytes, frame boundaries and reply parsing, no I/O.

Every supported protocol is a ScaleProtocol (read from a profile); these pure functions turn its
reply bytes into a Reading or reject them as unreadable. Each status bit and letter is decoded on
its own, so a motion bit never reads as "under zero". A weight is only ever taken from a frame
that matches a profile pattern completely (and passes its block check, where it has one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from drivers.base import DeviceError
from drivers.scale.protocol import ERRORS, Checksum, Command, Frame, ScaleProtocol

NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


class Unreadable(DeviceError):
    """A reply that is not a valid frame: noise, a half frame, a bad block check, a refusal."""

    def __init__(self, message: str) -> None:
        """Keep the reason; the machine code is always `unreadable`."""
        super().__init__("unreadable", message)


@dataclass(frozen=True)
class Reading:
    """What one reply frame says."""

    grams: int | None  # the weight shown, None when the frame carries none (status frames)
    conditions: frozenset[str] = frozenset()
    tare_grams: int | None = None  # a tare value the frame reports (MT-SICS `T S`)
    net: bool | None = None  # None when the frame does not say net or gross

    @property
    def errors(self) -> tuple[str, ...]:
        """Return the conditions that forbid pricing with this reading, most serious first."""
        return tuple(code for code in ERRORS if code in self.conditions)

    @property
    def error(self) -> str | None:
        """Return the most serious error condition, if any."""
        errors = self.errors
        return errors[0] if errors else None


def command(protocol: ScaleProtocol, verb: str) -> Command:
    """Return the command for a verb (raises DeviceError("unsupported"))."""
    spec = protocol.commands.get(verb)
    if spec is None:
        raise DeviceError("unsupported", f"this scale has no {verb} command")
    return spec


def frame_length(buffer: bytes, end: bytes) -> int | None:
    """Return the length of the first complete frame in `buffer`, None if it has not ended."""
    index = buffer.find(end)
    return None if index < 0 else index + len(end)


def xor_ok(frame: bytes, check: Checksum) -> bool:
    """Tell whether a frame's block check byte is the XOR of its covered bytes."""
    try:
        expected = frame[check.at]
    except IndexError:
        return False
    value = 0
    for byte in frame[check.start : check.end]:
        value ^= byte
    return value == expected


def to_grams(text: str, unit: str, protocol: ScaleProtocol) -> int:
    """Convert a weight field and its unit to integer grams (raises Unreadable)."""
    digits = text.replace(" ", "")
    if not NUMBER.fullmatch(digits):
        raise Unreadable(f"weight field {text!r} is not a number")
    scale = protocol.units.get(unit.strip())
    if scale is None:
        raise Unreadable(f"unknown unit {unit!r}")
    try:
        value = Decimal(digits)
    except InvalidOperation as err:  # pragma: no cover - NUMBER admits only decimals
        raise Unreadable(f"weight field {text!r} is not a number") from err
    if "." not in digits and protocol.decimals:
        value = value.scaleb(-protocol.decimals)
    return int((value * scale).to_integral_value(rounding=ROUND_HALF_UP))


def _conditions(protocol: ScaleProtocol, groups: dict[str, str | None]) -> set[str]:
    """Decode every status field of a frame into conditions, each bit and letter on its own."""
    found = set()
    for rule in protocol.status:
        value = groups.get(rule.group)
        if value is None:
            continue
        if rule.bits:
            if len(value) != 1:
                raise Unreadable(f"status field {value!r} is not one byte")
            byte = ord(value)
            found |= {name for name, bit in rule.bits.items() if byte >> bit & 1}
        letter = value.strip() or value
        if letter in rule.letters:
            found.add(rule.letters[letter])
    return found


def _match(protocol: ScaleProtocol, raw: bytes) -> tuple[Frame, re.Match[str]]:
    """Find the frame kind a reply matches completely (raises Unreadable)."""
    if not raw:
        raise Unreadable("no reply")
    length = frame_length(raw, protocol.end)
    if length is None:
        raise Unreadable(f"half frame {raw!r}")
    text = raw[:length].decode("latin-1")
    for frame in protocol.frames:
        match = frame.pattern.fullmatch(text)
        if match is None:
            continue
        if frame.checksum is not None and not xor_ok(raw[:length], frame.checksum):
            raise Unreadable(f"bad block check in {raw!r}")
        if frame.refused:
            raise Unreadable(f"the scale refused the command: {raw!r}")
        return frame, match
    raise Unreadable(f"not a frame of this protocol: {raw!r}")


def _value(
    protocol: ScaleProtocol, frame: Frame, groups: dict[str, str | None], name: str
) -> int | None:
    """Return a value group in grams, None when the frame has no such group."""
    text = groups.get(name)
    if text is None:
        return None
    unit = groups.get("unit") or frame.unit or protocol.unit
    grams = to_grams(text, unit, protocol)
    if (groups.get("sign") or "").strip() == "-":
        grams = -abs(grams)
    return grams


def parse_reply(protocol: ScaleProtocol, raw: bytes) -> Reading:
    """Parse one reply frame into a Reading (raises Unreadable)."""
    frame, match = _match(protocol, raw)
    groups = match.groupdict()
    conditions = _conditions(protocol, groups)
    net_rules = [
        r for r in protocol.status if r.group in groups and "net" in (*r.bits, *r.letters.values())
    ]
    net = ("net" in conditions) if net_rules else None
    invalid = conditions & {"overload", "under_zero"}
    try:
        grams = _value(protocol, frame, groups, "weight")
        tare = _value(protocol, frame, groups, "tare")
    except Unreadable:
        if not invalid:  # an overloaded or under-zero scale may fill the field with ^, _ or F
            raise
        grams = tare = None
    if grams is not None:
        if grams < 0:
            conditions.add("under_zero")
        if grams > protocol.capacity_grams:
            conditions.add("overload")
    return Reading(grams, frozenset(conditions), tare, net)


def parse_probe(protocol: ScaleProtocol, raw: bytes) -> str:
    """Return the firmware text of a probe reply ("" when it names none; raises Unreadable)."""
    probe = protocol.probe
    if probe is None:
        return ""
    match = probe.pattern.fullmatch(raw.decode("latin-1"))
    if match is None:
        raise Unreadable(f"unexpected probe reply {raw!r}")
    return (match.groupdict().get("fw") or "").strip()


class Stability:
    """Stability by repetition, for scales that report none: N equal readings in a row."""

    def __init__(self, needed: int) -> None:
        """Require `needed` equal readings."""
        self.needed = needed
        self.last: int | None = None
        self.count = 0
        self.moving = False

    def feed(self, grams: int | None) -> bool:
        """Take the next reading (None clears the run) and tell whether it is stable."""
        if grams is None:
            self.last, self.count, self.moving = None, 0, False
            return False
        self.moving = self.last is not None and grams != self.last
        self.count = self.count + 1 if grams == self.last else 1
        self.last = grams
        return self.count >= self.needed
