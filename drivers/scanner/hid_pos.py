"""USB HID POS scanners (usage page 0x8C): scanned-data input reports into frames.

A scanned-data report is `[report id, length, AIM id (3 bytes), data…, more]`: byte 1 counts
the data bytes (some firmware counts the AIM id too: `length_includes_aim`), data starts at
byte 5, and a non-zero last byte says more chunks of the same code follow. Chunks are joined
until a report with the last byte zero; a code whose next chunk does not come within the
timeout is half a code and rejected. Reports with another report id (status, vendor) are not
scanned data and are skipped. Pure: the caller passes the time.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.scanner.codes import Frame, Outcome, Rejected

AIM_BYTES = 3


@dataclass(frozen=True)
class HidPosFormat:
    """Where the fields sit in a scanned-data report (the profile's `[hid_pos]` table)."""

    report_id: int = 0x02
    length_offset: int = 1
    aim_offset: int = 2
    data_offset: int = 5
    length_includes_aim: bool = False
    timeout: float = 0.3  # seconds allowed between two chunks of one code


class HidPosDecoder:
    """Turn HID POS input reports into frames, joining multi-chunk codes."""

    def __init__(self, layout: HidPosFormat, max_length: int, encoding: str) -> None:
        """Remember the report layout; no chunk is pending yet."""
        self.layout = layout
        self.encoding = encoding
        self.limit = max_length * 4
        self._aim = b""
        self._data = bytearray()
        self._pending = False
        self._skipping = False  # the rest of a code already rejected as overlong
        self._last = 0.0

    def feed(self, report: bytes, now: float) -> list[Outcome]:
        """Take one input report read at `now`; return the frame it completes, if any."""
        out = self.expire(now)
        layout = self.layout
        if not report or report[0] != layout.report_id:
            return out
        if len(report) <= layout.data_offset:
            return [*out, *self.reset(), Rejected("format", len(report))]
        length = report[layout.length_offset] - (AIM_BYTES if layout.length_includes_aim else 0)
        end = layout.data_offset + length
        if length < 0 or end > len(report) - 1:
            return [*out, *self.reset(), Rejected("format", len(report))]
        self._last = now
        if self._skipping:
            self._skipping = bool(report[-1])
            return out
        if not self._pending:
            self._aim = report[layout.aim_offset : layout.aim_offset + AIM_BYTES]
            self._pending = True
        self._data += report[layout.data_offset : end]
        if len(self._data) > self.limit:
            size = len(self._data)
            self._clear()
            self._skipping = bool(report[-1])
            return [*out, Rejected("overlong", size)]
        if report[-1]:
            return out  # more chunks follow
        return [*out, self._finish()]

    def expire(self, now: float) -> list[Outcome]:
        """Reject a code whose next chunk is overdue."""
        if (self._pending or self._skipping) and now - self._last > self.layout.timeout:
            self._skipping = False
            return self.reset()
        return []

    def reset(self) -> list[Outcome]:
        """Drop a pending code (the link went away); return it as rejected."""
        self._skipping = False
        if not self._pending:
            return []
        size = len(self._data)
        self._clear()
        return [Rejected("incomplete", size)]

    def _clear(self) -> None:
        """Forget the pending chunks."""
        self._aim = b""
        self._data.clear()
        self._pending = False

    def _finish(self) -> Outcome:
        """Decode the joined chunks into a frame."""
        aim, data = self._aim, bytes(self._data)
        self._clear()
        try:
            text = data.decode(self.encoding)
        except UnicodeDecodeError:
            return Rejected("encoding", len(data))
        if not aim.strip(b"\0 "):
            return Frame(text)  # the scanner is set not to send symbology ids
        try:
            return Frame(text, aim.decode("ascii"))
        except UnicodeDecodeError:
            return Rejected("format", len(data))
