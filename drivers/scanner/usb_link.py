"""A USB scanner's interrupt-IN reports as a Transport: pyusb behind one typed wrapper.

Identity: a scanner is found by vendor/product id AND its USB serial number (or, for the cheap
scanners that have none, the physical port path such as `1-1.4`), never by enumeration order,
so two identical scanners on one till keep their roles across reboots and re-plugging.

`open()` detaches the kernel driver from the interface (usbhid: for a keyboard wedge this is
what keeps scanned keystrokes out of the kiosk UI; it needs write access to the device node,
given by the gateway's udev rule), claims it, and optionally sends the HID class requests the
profile asks for: SET_PROTOCOL(boot) so a keyboard sends 8-byte boot reports, SET_IDLE(0) so it
reports only changes, and a feature report that switches a scanner into HID POS mode. The
kernel driver is not re-attached on close: a wedge scanner must never start typing into the UI.
`read()` returns one report, b"" when none came in time. Tests pass a fake pyusb `backend`.
"""

from __future__ import annotations

import contextlib
from typing import Any

import usb.core
import usb.util

from drivers.base import TransportError
from drivers.scanner.profile import UsbSettings
from drivers.usb import USB_FAILURES, active_configuration, claim, find_device
from drivers.usb import endpoint as find_endpoint

HID_SET_REPORT = 0x09
HID_SET_IDLE = 0x0A
HID_SET_PROTOCOL = 0x0B
CLASS_INTERFACE_OUT = 0x21  # host to device, class request, to an interface
REPORT_OUTPUT = 0x02
REPORT_FEATURE = 0x03


class UsbReportLink:
    """A USB scanner found by identity; `read` returns its interrupt-IN reports."""

    def __init__(
        self,
        vendor_id: int,
        product_id: int,
        settings: UsbSettings,
        *,
        serial_number: str | None = None,
        path: str | None = None,
        backend: Any = None,
    ) -> None:
        """Remember which scanner to find and how; no I/O until `open()`."""
        self.vendor_id = vendor_id
        self.product_id = product_id
        self.settings = settings
        self.serial_number = serial_number
        self.path = path
        self.backend = backend
        self._device: Any = None
        self._endpoint = 0

    def __str__(self) -> str:
        """Name the scanner by identity for logs and errors."""
        who = f"serial {self.serial_number!r}" if self.serial_number else f"port {self.path}"
        return f"USB scanner {self.vendor_id:04x}:{self.product_id:04x} {who}"

    def _find(self) -> Any:
        """Return the scanner's pyusb device (raises TransportError)."""
        if self.serial_number is None and self.path is None:
            raise TransportError(f"{self}: needs a serial number or port path to be found")
        return find_device(
            self.vendor_id, self.product_id, serial=self.serial_number, path=self.path,
            backend=self.backend, what=str(self),
        )  # fmt: skip

    def open(self) -> UsbReportLink:
        """Find the scanner, take its interface from the kernel, prepare its reports."""
        device = self._find()
        number = self.settings.interface
        try:
            interface = usb.util.find_descriptor(
                active_configuration(device), bInterfaceNumber=number
            )
            if interface is None:
                raise TransportError(f"{self} has no interface {number}")
            claim(device, number, detach=self.settings.detach_kernel_driver)
            endpoint = self.settings.endpoint or getattr(
                find_endpoint(interface, usb.util.ENDPOINT_IN, usb.util.ENDPOINT_TYPE_INTR),
                "bEndpointAddress",
                None,
            )
            if endpoint is None:
                raise TransportError(f"{self} has no interrupt-IN endpoint")
            self._class_requests(device, number)
        except USB_FAILURES as err:
            usb.util.dispose_resources(device)
            raise TransportError(f"{self}: {err}") from err
        except TransportError:
            usb.util.dispose_resources(device)
            raise
        self._device, self._endpoint = device, int(endpoint)
        return self

    def _class_requests(self, device: Any, number: int) -> None:
        """Send the HID class requests the profile asks for."""
        if self.settings.boot_protocol:
            device.ctrl_transfer(CLASS_INTERFACE_OUT, HID_SET_PROTOCOL, 0, number)
        if self.settings.set_idle:
            device.ctrl_transfer(CLASS_INTERFACE_OUT, HID_SET_IDLE, 0, number)
        feature = self.settings.mode_switch
        if feature:
            value = REPORT_FEATURE << 8 | feature[0]
            device.ctrl_transfer(CLASS_INTERFACE_OUT, HID_SET_REPORT, value, number, feature)

    def read(self, size: int, timeout: float) -> bytes:
        """Return one input report of up to `size` bytes, b"" when none came within `timeout`."""
        if self._device is None:
            raise TransportError(f"{self} is not open")
        try:
            data = self._device.read(self._endpoint, size, timeout=max(1, int(timeout * 1000)))
        except usb.core.USBTimeoutError:
            return b""
        except usb.core.USBError as err:
            raise TransportError(f"{self}: read failed: {err}") from err
        return bytes(data)

    def write(self, data: bytes) -> None:
        """Send an output report (report id first) with SET_REPORT."""
        if self._device is None:
            raise TransportError(f"{self} is not open")
        if not data:
            return
        value = REPORT_OUTPUT << 8 | data[0]
        try:
            self._device.ctrl_transfer(
                CLASS_INTERFACE_OUT, HID_SET_REPORT, value, self.settings.interface, data
            )
        except usb.core.USBError as err:
            raise TransportError(f"{self}: write failed: {err}") from err

    def close(self) -> None:
        """Release the interface and the device handle (idempotent)."""
        if self._device is not None:
            with contextlib.suppress(usb.core.USBError):  # the device may be gone already
                usb.util.dispose_resources(self._device)
            self._device = None
