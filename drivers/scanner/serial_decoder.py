"""Serial scanners: a byte stream split into codes on the profile's suffix (CR or CR LF).

A scanner sends `prefix + code + suffix` for each read. Bytes that arrive without their suffix
are held; if the next byte does not come within the inter-character timeout the fragment is
half a code (a scanner unplugged mid-code, line noise) and is rejected, never passed on. A
fragment that grows past any possible code is rejected and the rest of it, up to the next
suffix, thrown away. Pure: the caller passes the time (`time.monotonic()`).
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.scanner.codes import Frame, Outcome, Rejected

AIM_LENGTH = 3
BYTES_PER_CHARACTER = 4  # the most a UTF-8 character takes


@dataclass(frozen=True)
class SerialFraming:
    """How a serial scanner frames a code (the profile's `[framing]` table)."""

    suffix: bytes = b"\r"
    prefix: bytes = b""
    aim_prefix: bool = False  # the scanner is set to send the AIM id before each code
    timeout: float = 0.3  # seconds between two bytes of one code


class SerialDecoder:
    """Turn the bytes a serial scanner sends into frames, holding partial codes."""

    def __init__(self, framing: SerialFraming, max_length: int, encoding: str) -> None:
        """Remember the framing; nothing is held yet."""
        self.framing = framing
        self.encoding = encoding
        self.limit = (
            len(framing.prefix)
            + AIM_LENGTH
            + max_length * BYTES_PER_CHARACTER
            + len(framing.suffix)
        )
        self._held = bytearray()
        self._last = 0.0
        self._skipping = False

    def feed(self, data: bytes, now: float) -> list[Outcome]:
        """Take bytes read at `now`; return the frames (and rejects) they complete."""
        out = self.expire(now)
        if not data:
            return out
        self._held += data
        self._last = now
        suffix = self.framing.suffix
        while (end := self._held.find(suffix)) >= 0:
            raw = bytes(self._held[:end])
            del self._held[: end + len(suffix)]
            if self._skipping:
                self._skipping = False
            elif raw:
                out.append(self._frame(raw))
        if len(self._held) > self.limit:
            if not self._skipping:
                out.append(Rejected("overlong", len(self._held)))
            self._skipping = True
            self._held.clear()
        return out

    def expire(self, now: float) -> list[Outcome]:
        """Reject a held fragment when no byte came for longer than the timeout."""
        if (self._held or self._skipping) and now - self._last > self.framing.timeout:
            return self.reset()
        return []

    def reset(self) -> list[Outcome]:
        """Drop what is held (the link went away); return it as rejected."""
        held, skipping = len(self._held), self._skipping
        self._held.clear()
        self._skipping = False
        return [Rejected("incomplete", held)] if held and not skipping else []

    def _frame(self, raw: bytes) -> Outcome:
        """Strip the prefix and AIM id from one suffix-terminated chunk and decode it."""
        prefix = self.framing.prefix
        if not raw.startswith(prefix):
            return Rejected("prefix", len(raw))
        raw = raw[len(prefix) :]
        try:
            text = raw.decode(self.encoding)
        except UnicodeDecodeError:
            return Rejected("encoding", len(raw))
        if not self.framing.aim_prefix:
            return Frame(text)
        if len(text) <= AIM_LENGTH or not text.startswith("]"):
            return Rejected("format", len(raw))
        return Frame(text[AIM_LENGTH:], text[:AIM_LENGTH])
