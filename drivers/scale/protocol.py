"""The data a scale protocol is made of: commands, frame kinds, status rules, the protocol.

`drivers/scale/profile.py` builds these from a profile; the engine reads them. Conditions are
the words the engine and the events use: ERRORS keep a reading from pricing goods (the first
one present is reported), NOTES are reported by scales but do not invalidate a reading.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from edge.protocol.mqtt import MAX_GRAMS

# Conditions that keep a reading from pricing goods, most serious first.
ERRORS = ("overload", "under_zero", "zero_error", "tare_error", "tare_shown", "motion")
# Conditions a scale reports that do not invalidate a reading.
NOTES = ("net", "centre_zero")
CONDITIONS = ERRORS + NOTES
VERBS = ("weigh", "zero", "tare", "clear_tare")
REPLY_MODES = ("frame", "optional", "none")
VALUE_GROUPS = ("weight", "tare")


@dataclass(frozen=True)
class Command:
    """The bytes of one command and what answer it gets."""

    send: bytes
    reply: str = "frame"  # frame: must answer; optional: may answer; none: never answers
    handshake: bytes = b""  # sent first (CAS ENQ); the scale must answer handshake_reply
    handshake_reply: bytes = b""


@dataclass(frozen=True)
class Checksum:
    """An XOR block check: bytes [start:end] of the frame XOR to the byte at `at`."""

    start: int
    end: int
    at: int


@dataclass(frozen=True)
class Frame:
    """One kind of reply frame."""

    pattern: re.Pattern[str]
    refused: bool = False  # the scale's "unknown command" answer
    unit: str = ""
    checksum: Checksum | None = None


@dataclass(frozen=True)
class StatusRule:
    """How one status field decodes: bit positions of a byte, or letters."""

    group: str
    bits: Mapping[str, int] = field(default_factory=dict)  # condition -> bit
    letters: Mapping[str, str] = field(default_factory=dict)  # letter -> condition


@dataclass(frozen=True)
class Probe:
    """An identification exchange run once after the port opens."""

    send: bytes
    end: bytes
    pattern: re.Pattern[str]
    after: bytes = b""


@dataclass(frozen=True)
class ScaleProtocol:
    """A checked scale profile, ready for the engine."""

    model: str
    serial: Mapping[str, Any]
    commands: Mapping[str, Command]
    end: bytes
    max_length: int
    frames: tuple[Frame, ...]
    units: Mapping[str, Decimal]
    unit: str
    decimals: int
    status: tuple[StatusRule, ...]
    probe: Probe | None
    poll_interval: float
    reply_timeout: float
    equal_readings: int = 1  # >1: the scale reports no stability, N equal readings make it
    silence_unchanged: bool = False  # no answer to `weigh` means "same weight as before"
    capacity_grams: int = MAX_GRAMS
