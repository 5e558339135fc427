"""A USB printer as a byte Transport: pyusb behind one typed wrapper.

The printer is found by vendor/product id and its USB serial number (or, without one, its
port path), which stay the same whichever order it is plugged in (bus addresses do not). Jobs
go to the bulk-OUT endpoint of its printer-class interface; status replies come back on bulk-IN.

`Resource busy`: the kernel's usblp driver binds to every printer-class interface and holds
it, so claiming the interface fails with EBUSY. `open()` detaches the kernel driver from the
interface first (`detach_kernel_driver`, which needs write access to the device node, given
by the gateway's udev rule); installations can also blacklist usblp so it never binds.
"""

from __future__ import annotations

from typing import Any

import usb.core
import usb.util

from drivers.base import TransportError
from drivers.usb import USB_FAILURES, active_configuration, claim, endpoint, find_device

PRINTER_CLASS = 7


class UsbTransport:
    """A USB printer found by vid/pid and serial number, written through its bulk-OUT endpoint."""

    def __init__(
        self,
        vid: int,
        pid: int,
        serial_number: str | None = None,
        *,
        path: str | None = None,
        backend: Any = None,
        write_timeout: float = 10.0,
    ) -> None:
        """Remember which printer to find (and through which pyusb backend); no I/O yet."""
        self.vid = vid
        self.pid = pid
        self.serial_number = serial_number
        self.path = path
        self.backend = backend
        self.write_timeout = write_timeout
        self._device: Any = None
        self._out: Any = None
        self._in: Any = None
        self._pending = b""

    def _find(self) -> Any:
        """Return the matching device (raises TransportError)."""
        who = f"serial {self.serial_number!r}" if self.path is None else f"port {self.path}"
        return find_device(
            self.vid, self.pid, serial=self.serial_number, path=self.path, backend=self.backend,
            what=f"USB printer {self.vid:04x}:{self.pid:04x} {who}",
        )  # fmt: skip

    def open(self) -> UsbTransport:
        """Find the printer, take its printer interface from usblp, find its endpoints."""
        device = self._find()
        try:
            config = active_configuration(device)
            interface = (
                usb.util.find_descriptor(
                    config, custom_match=lambda i: i.bInterfaceClass == PRINTER_CLASS
                )
                or config[(0, 0)]
            )
            claim(device, interface.bInterfaceNumber)
        except USB_FAILURES as err:
            usb.util.dispose_resources(device)
            raise TransportError(f"USB printer {self.serial_number!r}: {err}") from err
        self._out = endpoint(interface, usb.util.ENDPOINT_OUT, usb.util.ENDPOINT_TYPE_BULK)
        self._in = endpoint(interface, usb.util.ENDPOINT_IN, usb.util.ENDPOINT_TYPE_BULK)
        self._device = device
        if self._out is None:
            self.close()
            raise TransportError(f"USB printer {self.serial_number!r} has no bulk-OUT endpoint")
        return self

    def write(self, data: bytes) -> None:
        """Send bytes to the bulk-OUT endpoint."""
        if self._out is None:
            raise TransportError("USB printer is not open")
        try:
            written = self._out.write(data, timeout=int(self.write_timeout * 1000))
        except usb.core.USBError as err:
            raise TransportError(f"USB write failed: {err}") from err
        if written != len(data):
            raise TransportError(f"USB write sent {written} of {len(data)} bytes")

    def read(self, size: int, timeout: float) -> bytes:
        """Return up to `size` bytes from bulk-IN within `timeout` seconds (b"" when none)."""
        if self._device is None:
            raise TransportError("USB printer is not open")
        if not self._pending and self._in is not None:
            # Ask for whole packets: a shorter request can overflow and lose the reply.
            packet = int(self._in.wMaxPacketSize)
            try:
                self._pending = bytes(self._in.read(packet, timeout=max(1, int(timeout * 1000))))
            except usb.core.USBTimeoutError:
                return b""
            except usb.core.USBError as err:
                raise TransportError(f"USB read failed: {err}") from err
        data, self._pending = self._pending[:size], self._pending[size:]
        return data

    def close(self) -> None:
        """Release the interface and the device."""
        if self._device is not None:
            usb.util.dispose_resources(self._device)
        self._device = self._out = self._in = None
        self._pending = b""
