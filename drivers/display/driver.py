"""A customer pole display: its profile (firmware-config/displays/*.toml) and its driver.

The display shows `rows` lines of `columns` cells; lines are clipped or padded to exactly
that (a CJK character takes two cells on a display with a double-byte font). The bytes are
the profile's ESC/POS display commands: overwrite mode, clear, cursor to each row, text.
Behind a receipt printer the whole update goes through the printer's link in one write,
framed by ESC = 2 (to the display) … ESC = 1 (back to the printer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from drivers.base import DeviceError, Driver, Transport, TransportError
from drivers.printer import PrinterDriver
from drivers.printer.fields import Fields
from drivers.printer.link import Link, PeerTransport
from drivers.printer.text import Charset, codec_name, pad
from drivers.transports import check_serial_settings

WRITE_TIMEOUT = 5.0


@dataclass(frozen=True)
class DisplaySettings:
    """What the display driver needs from a profile, typed."""

    model: str
    columns: int
    rows: int
    charset: Charset
    init: bytes
    overwrite: bytes
    clear: bytes
    row_start: tuple[bytes, ...]
    select_display: bytes
    select_printer: bytes
    serial: Mapping[str, Any]


def read_profile(profile: Mapping[str, Any]) -> tuple[DisplaySettings, list[str]]:
    """Return a display profile's settings and every problem found reading it."""
    fields = Fields(profile)
    model = fields.text(profile, "", "model", None)
    columns = fields.integer(profile, "", "columns", None, (1, 40))
    rows = fields.integer(profile, "", "rows", None, (1, 4))
    encoding = fields.text(profile, "", "encoding", "cp437")
    codec = codec_name(encoding)
    if codec is None:
        fields.problems.append(f"encoding {encoding!r} is not a known encoding")
    commands = fields.table("commands")
    starts = commands.get("row_start")
    row_start: list[bytes] = []
    if not isinstance(starts, list) or len(starts) != rows:
        fields.problems.append(f"commands.row_start must list one command per row ({rows})")
    else:
        for index, value in enumerate(starts):
            row_start.append(
                fields.hex_bytes({"row": value}, f"commands.row_start[{index}].", "row", None)
            )
    serial = profile.get("serial")
    if serial is not None:
        fields.problems.extend(check_serial_settings(serial))
    where = "commands."
    settings = DisplaySettings(
        model=model,
        columns=columns,
        rows=rows,
        charset=Charset(codec or "ascii", fields.flag(profile, "", "kanji_mode", False)),
        init=fields.hex_bytes(commands, where, "init", ""),
        overwrite=fields.hex_bytes(commands, where, "overwrite", ""),
        clear=fields.hex_bytes(commands, where, "clear", None),
        row_start=tuple(row_start),
        select_display=fields.hex_bytes(commands, where, "select_display", "1B 3D 02"),
        select_printer=fields.hex_bytes(commands, where, "select_printer", "1B 3D 01"),
        serial=serial if isinstance(serial, Mapping) else {},
    )
    return settings, fields.problems


class DisplayDriver(Driver):
    """A 2×20-style customer display on its own serial port or behind a printer."""

    family: ClassVar[str] = "display"

    def __init__(
        self,
        device_id: str,
        profile: Mapping[str, Any],
        settings: DisplaySettings,
        *,
        printer: PrinterDriver | None = None,
        factory: Callable[[], Transport] | None = None,
    ) -> None:
        """Keep the settings and the way out: a printer peer, or how to open an own port."""
        own = factory() if factory is not None else None
        super().__init__(
            device_id, profile, own or PeerTransport(printer.device_id if printer else "")
        )
        self.settings = settings
        self.printer = printer
        self.link = None if factory is None else Link(device_id, factory, first=own)
        self.shown: list[str] = []

    async def start(self) -> None:
        """Open an own port and initialise the display (raises TransportError)."""
        if self.link is not None:
            await self.link.run(lambda link: link.write(self.settings.init), WRITE_TIMEOUT)

    async def stop(self) -> None:
        """Close an own port (a printer's link stays with the printer)."""
        if self.link is not None:
            await self.link.close()

    def frame(self, lines: list[str]) -> bytes:
        """Return the bytes that show `lines` (clipped or padded to the display)."""
        settings = self.settings
        rows = [*lines[: settings.rows], *[""] * (settings.rows - len(lines))]
        shown = [pad(line, settings.columns, settings.charset) for line in rows]
        body = settings.overwrite + settings.clear
        for start, line in zip(settings.row_start, shown, strict=True):
            body += start + settings.charset.encode(line)
        self.shown = shown
        if self.printer is not None:
            return settings.select_display + body + settings.select_printer
        return body

    async def command(self, verb: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """Carry out `show` {"lines": [...]} or `clear`."""
        if verb == "clear":
            lines: list[str] = []
        elif verb == "show":
            raw = payload.get("lines")
            if not isinstance(raw, list) or not all(isinstance(line, str) for line in raw):
                raise DeviceError("invalid_payload", "lines must be a list of text")
            lines = raw
        else:
            raise DeviceError("unsupported", f"a display cannot {verb!r}")
        data = self.frame(lines)
        await self._write(data)
        return {"lines": self.shown}

    async def _write(self, data: bytes) -> None:
        """Send one update through the printer or the own port."""
        if self.printer is not None:
            await self.printer.send(data)
            return
        if self.link is None:
            raise DeviceError("offline", f"{self.device_id} has no link")
        try:
            await self.link.run(lambda link: link.write(data), WRITE_TIMEOUT)
        except TransportError as err:
            raise DeviceError("offline", str(err)) from err
