"""Simulated barcode scanners: a serial scanner on a pty, and USB report streams.

`ScannerSimulator` owns a pseudo-terminal whose slave path a driver opens like any serial
port. Like a real serial scanner it only talks: each `scan(code)` sends prefix + code + suffix
(CR or CR LF, from the profile), at the line's pace when `char_delay` is set; `send_raw` sends
anything else (half a code, line noise); `unplug()` hangs up the line as a pulled cable does.

For USB scanners, `hid_pos_reports` and `keyboard_reports` turn a code into the input reports a
HID POS scanner or a keyboard-wedge scanner sends, and `ReportPlayer` is a report reader (a
Transport) that hands them to a driver one `read` at a time and can be unplugged and plugged
back. Threads, not asyncio, so sync and async tests use them alike.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
import time
import tty
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from drivers.base import TransportError, load_profile
from drivers.scanner import keyboard_layout

HID_POS_HEADER = 5  # report id, length, 3 bytes of AIM id
RELEASE = bytes(8)
ENTER = 0x28


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte to a file descriptor."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class ScannerSimulator:
    """A serial scanner on a pty: start(), open `.port` in the driver, `scan()` codes."""

    def __init__(
        self,
        suffix: bytes = b"\r",
        prefix: bytes = b"",
        *,
        char_delay: float = 0.0,
        encoding: str = "utf-8",
    ) -> None:
        """Remember how the scanner frames codes; the pty opens in start()."""
        self.suffix = suffix
        self.prefix = prefix
        self.char_delay = char_delay
        self.encoding = encoding
        self.port = ""
        self._master: int | None = None
        self._slave: int | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_profile(
        cls, profile: Mapping[str, Any], *, char_delay: float = 0.0
    ) -> ScannerSimulator:
        """Return a simulator that frames codes as a serial scanner profile says."""
        framing = profile.get("framing", {})
        encoding = str(profile.get("codes", {}).get("encoding", "utf-8"))
        return cls(
            str(framing.get("suffix", "\r")).encode(encoding),
            str(framing.get("prefix", "")).encode(encoding),
            char_delay=char_delay,
            encoding=encoding,
        )

    def start(self) -> str:
        """Open the pty (raw, so CR stays CR) and return the port path a driver opens."""
        master, slave = os.openpty()
        tty.setraw(slave)
        self._master, self._slave = master, slave
        self.port = os.ttyname(slave)
        return self.port

    def scan(self, code: str, aim: str = "") -> None:
        """Send one read: prefix, the AIM id when given, the code and the suffix."""
        self.send_raw(self.prefix + (aim + code).encode(self.encoding) + self.suffix)

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are (half codes, line noise)."""
        with self._lock:
            master = self._master
            if master is None:
                raise OSError("the scanner is not plugged in")
            if self.char_delay <= 0:
                _write_all(master, data)
                return
            for byte in data:
                _write_all(master, bytes([byte]))
                time.sleep(self.char_delay)

    def unplug(self) -> None:
        """Hang up: the reading side gets an error, as when the cable is pulled."""
        with self._lock:
            for fd in (self._master, self._slave):
                if fd is not None:
                    os.close(fd)
            self._master = self._slave = None

    def stop(self) -> None:
        """Close the pty (idempotent)."""
        self.unplug()

    def __enter__(self) -> ScannerSimulator:
        """Start the simulator."""
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Stop the simulator."""
        self.stop()


def hid_pos_reports(
    code: str,
    aim: str = "]E0",
    *,
    report_id: int = 0x02,
    report_size: int = 64,
    length_includes_aim: bool = False,
    encoding: str = "utf-8",
) -> list[bytes]:
    """Return the HID POS scanned-data reports a scanner sends for one code."""
    aim_bytes = aim.encode("ascii").ljust(3, b"\0")[:3] if aim else bytes(3)
    data = code.encode(encoding)
    capacity = report_size - HID_POS_HEADER - 1  # the last byte is the more-chunks flag
    chunks = [data[start : start + capacity] for start in range(0, len(data), capacity)] or [b""]
    reports = []
    for index, chunk in enumerate(chunks):
        length = len(chunk) + (3 if length_includes_aim else 0)
        more = 1 if index < len(chunks) - 1 else 0
        body = bytes([report_id, length]) + aim_bytes + chunk
        reports.append(body.ljust(report_size - 1, b"\0") + bytes([more]))
    return reports


@functools.cache
def _us_keys() -> dict[str, tuple[int, bool]]:
    """Return how to type each character on the US layout of the usb_keyboard profile."""
    return typing_table(keyboard_layout(load_profile("scanner", "usb_keyboard")).keys)


def typing_table(keys: Mapping[int, tuple[str, str]]) -> dict[str, tuple[int, bool]]:
    """Invert a layout table: character -> (usage, shift), preferring unshifted keys."""
    table: dict[str, tuple[int, bool]] = {}
    for shifted in (False, True):
        for usage in sorted(keys):
            table.setdefault(keys[usage][shifted], (usage, shifted))
    return table


def keyboard_reports(
    code: str,
    keys: Mapping[int, tuple[str, str]] | None = None,
    *,
    end: bool = True,
    shift: int = 0x02,
) -> list[bytes]:
    """Return the boot keyboard reports a wedge scanner sends to type `code` (and Enter)."""
    table = typing_table(keys) if keys is not None else _us_keys()
    reports = []
    for char in code:
        if char not in table:
            raise ValueError(f"{char!r} cannot be typed on this layout")
        usage, shifted = table[char]
        reports += [bytes([shift if shifted else 0, 0, usage, 0, 0, 0, 0, 0]), RELEASE]
    if end:
        reports += [bytes([0, 0, ENTER, 0, 0, 0, 0, 0]), RELEASE]
    return reports


class ReportPlayer:
    """A USB report reader for a driver: `push` reports, `unplug` and `plug` the scanner."""

    def __init__(self, reports: Iterable[bytes] = ()) -> None:
        """Queue the first reports; the scanner starts plugged in."""
        self._reports: queue.Queue[bytes] = queue.Queue()
        for report in reports:
            self._reports.put(report)
        self._plugged = True
        self.opened = 0
        self.is_open = False
        self.written: list[bytes] = []

    def push(self, *reports: bytes) -> None:
        """Queue reports as if the scanner sent them."""
        for report in reports:
            self._reports.put(report)

    def unplug(self) -> None:
        """Pull the scanner: reads and opens fail until `plug()`."""
        self._plugged = False

    def plug(self) -> None:
        """Plug the scanner back in."""
        self._plugged = True

    def open(self) -> ReportPlayer:
        """Open the link (raises TransportError while unplugged)."""
        if not self._plugged:
            raise TransportError("simulated USB scanner is not plugged in")
        self.opened += 1
        self.is_open = True
        return self

    def read(self, size: int, timeout: float) -> bytes:
        """Return the next report (at most `size` bytes), b"" when none within `timeout`."""
        if not self._plugged or not self.is_open:
            self.is_open = False
            raise TransportError("simulated USB scanner: No such device")
        try:
            return self._reports.get(timeout=timeout)[:size]
        except queue.Empty:
            return b""

    def write(self, data: bytes) -> None:
        """Record an output report."""
        self.written.append(data)

    def close(self) -> None:
        """Close the link."""
        self.is_open = False
