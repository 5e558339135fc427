"""Byte links shared by the driver families: serial (pyserial) and TCP.

Serial line settings come from the device profile's `[serial]` table; the port is a stable
name (`/dev/serial/by-path/…`, `/dev/serial/by-id/…`, a udev symlink) or any pyserial URL
(`socket://host:port`, `loop://`) — never `/dev/ttyUSB0`-style enumeration order in production
configs (see `stable_port`).
"""

from __future__ import annotations

import select
import socket
import termios
import time
from collections.abc import Mapping
from typing import Any

import serial

from drivers.base import ProfileError, TransportError

PARITIES = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}
BYTESIZES = {7: serial.SEVENBITS, 8: serial.EIGHTBITS}
STOPBITS = {1: serial.STOPBITS_ONE, 2: serial.STOPBITS_TWO}
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
UNSTABLE_PREFIXES = ("/dev/ttyUSB", "/dev/ttyACM")


def _choice(value: Any, choices: Any) -> bool:
    """Tell whether a profile value is one of `choices` (lists and tables never are)."""
    return isinstance(value, (int, str)) and not isinstance(value, bool) and value in choices


def check_serial_settings(table: Any) -> list[str]:
    """Return the problems of a profile's `[serial]` table (empty when usable)."""
    if not isinstance(table, Mapping):
        return ["[serial] table missing"]
    problems = []
    if not _choice(table.get("baudrate"), BAUDRATES):
        problems.append(f"serial.baudrate must be one of {BAUDRATES}")
    if not _choice(table.get("bytesize", 8), BYTESIZES):
        problems.append("serial.bytesize must be 7 or 8")
    if not _choice(table.get("parity", "N"), PARITIES):
        problems.append("serial.parity must be N, E or O")
    if not _choice(table.get("stopbits", 1), STOPBITS):
        problems.append("serial.stopbits must be 1 or 2")
    return problems


def stable_port(port: str) -> bool:
    """Tell whether a port name survives re-plugging (not an enumeration-order name)."""
    return not port.startswith(UNSTABLE_PREFIXES)


def _descriptor(port: serial.SerialBase) -> int | None:
    """Return the port's file descriptor, None for URL ports that have none (loop://)."""
    try:
        fd = port.fileno()
    except (AttributeError, OSError, ValueError, serial.SerialException):
        return None
    return fd if isinstance(fd, int) else None


class SerialTransport:
    """A serial port (or pyserial URL) opened once with a profile's line settings.

    The line settings are applied once, at open: pyserial re-applies all of them (tcsetattr)
    whenever its `timeout` is assigned, which some kernels refuse for 7-bit or parity settings
    on a pseudo-terminal (EINVAL as `termios.error`, not an OSError). Reads therefore wait on
    the port's descriptor with `select` (URL ports without one wait in pyserial's 0.1 s steps)
    and return as soon as bytes arrive.
    """

    def __init__(self, port: str, settings: Mapping[str, Any]) -> None:
        """Remember the port and line settings; nothing opens until `open()`."""
        self.port = port
        self.settings = settings
        self._serial: serial.Serial | None = None

    def open(self) -> SerialTransport:
        """Open the port (raises TransportError)."""
        problems = check_serial_settings(self.settings)
        if problems:
            raise ProfileError("; ".join(problems))
        try:
            self._serial = serial.serial_for_url(
                self.port,
                baudrate=self.settings["baudrate"],
                bytesize=BYTESIZES[self.settings.get("bytesize", 8)],
                parity=PARITIES[self.settings.get("parity", "N")],
                stopbits=STOPBITS[self.settings.get("stopbits", 1)],
                timeout=0.1,
                write_timeout=2.0,
            )
        except (serial.SerialException, OSError, ValueError, termios.error) as err:
            raise TransportError(f"cannot open {self.port}: {err}") from err
        return self

    def _port(self) -> serial.Serial:
        """Return the open port."""
        if self._serial is None:
            raise TransportError(f"{self.port} is not open")
        return self._serial

    def write(self, data: bytes) -> None:
        """Send bytes."""
        try:
            self._port().write(data)
            self._port().flush()
        except (serial.SerialException, OSError, termios.error) as err:
            raise TransportError(f"write to {self.port} failed: {err}") from err

    def read(self, size: int, timeout: float) -> bytes:
        """Return the bytes that arrive first (up to `size`), b"" after `timeout` seconds."""
        port = self._port()
        deadline = time.monotonic() + timeout
        try:
            fd = _descriptor(port)
            while (left := deadline - time.monotonic()) > 0:
                if fd is None:
                    first = port.read(1)  # waits up to the 0.1 s set at open
                    if first:
                        return first + port.read(min(port.in_waiting, size - 1))
                elif select.select([fd], [], [], left)[0]:
                    return bytes(port.read(min(max(port.in_waiting, 1), size)))
        except (serial.SerialException, OSError, termios.error) as err:
            raise TransportError(f"read from {self.port} failed: {err}") from err
        return b""

    def reset_input(self) -> None:
        """Drop whatever the device sent that nobody read."""
        try:
            self._port().reset_input_buffer()
        except (serial.SerialException, OSError, termios.error) as err:
            raise TransportError(f"{self.port}: {err}") from err

    def close(self) -> None:
        """Close the port."""
        if self._serial is not None:
            self._serial.close()
            self._serial = None


class TcpTransport:
    """A raw TCP link (network printers on port 9100)."""

    def __init__(self, host: str, port: int, connect_timeout: float = 3.0) -> None:
        """Remember where the device listens."""
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self._sock: socket.socket | None = None

    def open(self) -> TcpTransport:
        """Connect (raises TransportError)."""
        try:
            self._sock = socket.create_connection((self.host, self.port), self.connect_timeout)
        except OSError as err:
            raise TransportError(f"cannot reach {self.host}:{self.port}: {err}") from err
        return self

    def _socket(self) -> socket.socket:
        """Return the connected socket."""
        if self._sock is None:
            raise TransportError(f"{self.host}:{self.port} is not connected")
        return self._sock

    def write(self, data: bytes) -> None:
        """Send bytes."""
        sock = self._socket()
        try:
            sock.settimeout(10.0)
            sock.sendall(data)
        except OSError as err:
            self._drop(sock)
            raise TransportError(f"send to {self.host}:{self.port} failed: {err}") from err

    def read(self, size: int, timeout: float) -> bytes:
        """Return up to `size` bytes within `timeout` seconds (b"" on timeout)."""
        sock = self._socket()
        try:
            sock.settimeout(timeout)
            data = sock.recv(size)
        except TimeoutError:
            return b""
        except OSError as err:
            self._drop(sock)
            raise TransportError(f"read from {self.host}:{self.port} failed: {err}") from err
        if not data:
            self._drop(sock)
            raise TransportError(f"{self.host}:{self.port} closed the connection")
        return data

    def _drop(self, sock: socket.socket) -> None:
        """Close the socket a call failed on (never a newer one opened meanwhile)."""
        sock.close()
        if self._sock is sock:
            self._sock = None

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
