"""Scale profiles: read a `firmware-config/scales/*.toml` table into a checked ScaleProtocol.

A profile is data: serial settings, the bytes of each command, how a reply frame ends, regular
expressions that recognise each kind of frame (named groups carry the weight, its sign and unit,
and the status fields), and how status fields decode into conditions. Byte strings are TOML
strings with one character per byte (Latin-1: STX is the TOML escape for U+0002); patterns
are Python regular expressions over the frame decoded as Latin-1, matching the whole frame.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from drivers.base import ProfileError
from drivers.scale.protocol import (
    CONDITIONS,
    REPLY_MODES,
    VALUE_GROUPS,
    VERBS,
    Checksum,
    Command,
    Frame,
    Probe,
    ScaleProtocol,
    StatusRule,
)
from drivers.transports import check_serial_settings
from edge.protocol.mqtt import MAX_GRAMS


class _Reader:
    """Collect a profile's problems while reading it."""

    def __init__(self) -> None:
        """Start with no problems."""
        self.problems: list[str] = []

    def table(
        self, parent: Mapping[str, Any], key: str, required: bool = True
    ) -> Mapping[str, Any]:
        """Return a sub-table (empty when absent or wrong)."""
        value = parent.get(key)
        if value is None:
            if required:
                self.problems.append(f"[{key}] table missing")
            return {}
        if not isinstance(value, Mapping):
            self.problems.append(f"{key} must be a table")
            return {}
        return value

    def raw(self, table: Mapping[str, Any], key: str, where: str, required: bool = True) -> bytes:
        """Return a byte string written as Latin-1 text."""
        value = table.get(key)
        if value is None:
            if required:
                self.problems.append(f"{where}.{key} missing")
            return b""
        if not isinstance(value, str) or not value:
            self.problems.append(f"{where}.{key} must be a non-empty string of bytes")
            return b""
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            self.problems.append(f"{where}.{key} has characters above \\u00ff (one per byte)")
            return b""

    def number(self, table: Mapping[str, Any], key: str, where: str, default: float) -> float:
        """Return a positive number."""
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self.problems.append(f"{where}.{key} must be a positive number of seconds")
            return default
        return float(value)

    def integer(
        self, table: Mapping[str, Any], key: str, where: str, default: int, low: int
    ) -> int:
        """Return an integer of at least `low`."""
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            self.problems.append(f"{where}.{key} must be an integer >= {low}")
            return default
        return value

    def pattern(self, text: Any, where: str) -> re.Pattern[str] | None:
        """Compile a frame pattern."""
        if not isinstance(text, str) or not text:
            self.problems.append(f"{where}.pattern must be a regular expression")
            return None
        try:
            return re.compile(text, re.DOTALL)
        except re.error as err:
            self.problems.append(f"{where}.pattern is not a valid regular expression: {err}")
            return None


def _commands(reader: _Reader, profile: Mapping[str, Any]) -> dict[str, Command]:
    """Read `[commands.<verb>]`."""
    table = reader.table(profile, "commands")
    if table and "weigh" not in table:
        reader.problems.append("commands.weigh missing")
    commands = {}
    for verb, spec in table.items():
        where = f"commands.{verb}"
        if verb not in VERBS:
            reader.problems.append(f"{where}: unknown command (known: {', '.join(VERBS)})")
            continue
        if not isinstance(spec, Mapping):
            reader.problems.append(f"{where} must be a table")
            continue
        reply = spec.get("reply", "frame")
        if reply not in REPLY_MODES or (verb == "weigh" and reply != "frame"):
            reader.problems.append(f"{where}.reply must be one of {', '.join(REPLY_MODES)}")
        handshake = reader.raw(spec, "handshake", where, required=False)
        answer = reader.raw(spec, "handshake_reply", where, required=bool(handshake))
        send = reader.raw(spec, "send", where)
        commands[verb] = Command(send, str(reply), handshake, answer)
    return commands


def _frames(
    reader: _Reader, profile: Mapping[str, Any], units: Mapping[str, Decimal]
) -> tuple[Frame, ...]:
    """Read `[[frames]]`."""
    entries = profile.get("frames")
    if not isinstance(entries, list) or not entries:
        reader.problems.append("[[frames]] missing: at least one reply pattern is needed")
        return ()
    frames = []
    for index, entry in enumerate(entries):
        where = f"frames[{index}]"
        if not isinstance(entry, Mapping):
            reader.problems.append(f"{where} must be a table")
            continue
        pattern = reader.pattern(entry.get("pattern"), where)
        unit = entry.get("unit", "")
        if unit and unit not in units:
            reader.problems.append(f"{where}.unit {unit!r} is not in [units]")
        checksum = None
        if "checksum" in entry:
            check = reader.table(entry, "checksum")
            start, end, at = (check.get(key) for key in ("start", "end", "at"))
            if check.get("kind") == "xor" and type(start) is type(end) is type(at) is int:
                checksum = Checksum(start, end, at)
            else:
                reader.problems.append(
                    f"{where}.checksum needs kind 'xor' and integer start, end, at"
                )
        if pattern is not None:
            if entry.get("refused") is not True:
                _check_groups(reader, pattern, where)
            frames.append(Frame(pattern, entry.get("refused") is True, str(unit), checksum))
    return tuple(frames)


def _check_groups(reader: _Reader, pattern: re.Pattern[str], where: str) -> None:
    """Require a frame to carry a value or a status field, so it can say something."""
    groups = set(pattern.groupindex)
    if not groups:
        return  # a plain acknowledgement such as MT-SICS `Z A`
    if "unit" in groups and not groups & set(VALUE_GROUPS):
        reader.problems.append(f"{where}.pattern has a unit group but no weight or tare group")


def _status(
    reader: _Reader, profile: Mapping[str, Any], frames: tuple[Frame, ...]
) -> tuple[StatusRule, ...]:
    """Read `[[status]]` rules and check they name groups that frames have."""
    entries = profile.get("status", [])
    if not isinstance(entries, list):
        reader.problems.append("status must be an array of tables ([[status]])")
        return ()
    groups = {name for frame in frames for name in frame.pattern.groupindex}
    rules = []
    for index, entry in enumerate(entries):
        where = f"status[{index}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("group"), str):
            reader.problems.append(f"{where} needs a group name")
            continue
        group = entry["group"]
        if group not in groups:
            reader.problems.append(f"{where}: no frame pattern has a named group {group!r}")
        bits = entry.get("bits", {})
        letters = entry.get("letters", {})
        if (
            not isinstance(bits, Mapping)
            or not isinstance(letters, Mapping)
            or not (bits or letters)
        ):
            reader.problems.append(f"{where} needs a bits or letters table")
            continue
        for condition, bit in bits.items():
            if condition not in CONDITIONS:
                reader.problems.append(f"{where}.bits: unknown condition {condition!r}")
            if isinstance(bit, bool) or not isinstance(bit, int) or not 0 <= bit <= 7:
                reader.problems.append(f"{where}.bits.{condition} must be a bit position 0..7")
        for letter, condition in letters.items():
            if len(letter) != 1:
                reader.problems.append(f"{where}.letters: {letter!r} is not one character")
            if condition not in CONDITIONS:
                reader.problems.append(f"{where}.letters: unknown condition {condition!r}")
        rules.append(StatusRule(group, dict(bits), dict(letters)))
    return tuple(rules)


def _units(reader: _Reader, profile: Mapping[str, Any]) -> dict[str, Decimal]:
    """Read `[units]`: unit text -> grams per unit."""
    units = {}
    for name, scale in reader.table(profile, "units").items():
        try:
            value = Decimal(str(scale))
        except InvalidOperation:
            value = Decimal(0)
        if isinstance(scale, bool) or not isinstance(scale, int | float) or value <= 0:
            reader.problems.append(f"units.{name} must be a positive number of grams")
            continue
        units[name] = value
    return units


def _probe(reader: _Reader, profile: Mapping[str, Any], end: bytes) -> Probe | None:
    """Read the optional `[probe]`."""
    table = reader.table(profile, "probe", required=False)
    if not table:
        return None
    pattern = reader.pattern(table.get("pattern"), "probe")
    send = reader.raw(table, "send", "probe")
    own_end = reader.raw(table, "end", "probe", required=False) or end
    after = reader.raw(table, "after", "probe", required=False)
    return Probe(send, own_end, pattern, after) if pattern is not None else None


def read_profile(profile: Mapping[str, Any]) -> tuple[ScaleProtocol | None, list[str]]:
    """Return the protocol a profile describes and every problem found (protocol None if any)."""
    reader = _Reader()
    if not isinstance(profile.get("model"), str) or not profile["model"]:
        reader.problems.append("model missing")
    serial = reader.table(profile, "serial")
    reader.problems += check_serial_settings(serial) if serial else []
    timing = reader.table(profile, "timing")
    poll = reader.number(timing, "poll_interval", "timing", 0.3)
    timeout = reader.number(timing, "reply_timeout", "timing", 0.5)
    commands = _commands(reader, profile)
    reply = reader.table(profile, "reply")
    end = reader.raw(reply, "end", "reply")
    max_length = reader.integer(reply, "max_length", "reply", 64, 2)
    decimals = reader.integer(reply, "decimals", "reply", 0, 0)
    units = _units(reader, profile)
    unit = reply.get("unit", "")
    if unit and unit not in units:
        reader.problems.append(f"reply.unit {unit!r} is not in [units]")
    frames = _frames(reader, profile, units)
    status = _status(reader, profile, frames)
    groups = {name for frame in frames if not frame.refused for name in frame.pattern.groupindex}
    if frames and "weight" not in groups:
        reader.problems.append("no frame pattern has a named group 'weight'")
    if (
        frames
        and not unit
        and "unit" not in groups
        and not all(f.unit for f in frames if not f.refused)
    ):
        reader.problems.append("no unit: set reply.unit or give the frames a 'unit' group")
    stability = reader.table(profile, "stability", required=False)
    equal = reader.integer(stability, "equal_readings", "stability", 1, 1)
    silence = stability.get("silence_means_unchanged", False)
    if not isinstance(silence, bool):
        reader.problems.append("stability.silence_means_unchanged must be true or false")
    motion_known = any("motion" in (*r.bits, *r.letters.values()) for r in status)
    if not motion_known and equal < 2:
        reader.problems.append(
            "the profile decodes no motion status: set stability.equal_readings >= 2"
        )
    limits = reader.table(profile, "limits", required=False)
    capacity = reader.integer(limits, "capacity_grams", "limits", MAX_GRAMS, 1)
    probe = _probe(reader, profile, end)
    if reader.problems:
        return None, reader.problems
    protocol = ScaleProtocol(
        model=str(profile["model"]),
        serial=serial,
        commands=commands,
        end=end,
        max_length=max_length,
        frames=frames,
        units=units,
        unit=str(unit),
        decimals=decimals,
        status=status,
        probe=probe,
        poll_interval=poll,
        reply_timeout=timeout,
        equal_readings=equal,
        silence_unchanged=bool(silence),
        capacity_grams=min(capacity, MAX_GRAMS),
    )
    return protocol, []


def check_profile(profile: Mapping[str, Any]) -> list[str]:
    """Return every problem of a scale profile (empty when usable)."""
    return read_profile(profile)[1]


def compile_profile(profile: Mapping[str, Any]) -> ScaleProtocol:
    """Return the protocol of a usable profile (raises ProfileError listing every problem)."""
    protocol, problems = read_profile(profile)
    if protocol is None:
        raise ProfileError("; ".join(problems))
    return protocol
