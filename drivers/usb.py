"""What the USB drivers share: finding a device by identity, claiming an interface, endpoints.

A device is found by vendor/product id and, to tell identical devices apart, its USB serial
number or its physical port path (`1-1.4`, as in /sys/bus/usb/devices) — never by bus address
or enumeration order, which change when something is re-plugged. pyusb backends raise
NotImplementedError for requests they cannot make (reading a string descriptor, asking about
the kernel driver on some platforms); that is a link failure here like any USBError.
"""

from __future__ import annotations

from typing import Any

import usb.core
import usb.util

from drivers.base import TransportError

# what pyusb raises when a device or its backend cannot do what was asked
USB_FAILURES = (usb.core.USBError, NotImplementedError, ValueError)


def port_path(device: Any) -> str:
    """Return a device's physical position as `bus-port.port…` (as in /sys/bus/usb/devices)."""
    ports = getattr(device, "port_numbers", None) or ()
    return f"{device.bus}-{'.'.join(str(port) for port in ports)}"


def serial_number(device: Any) -> str | None:
    """Return a device's USB serial number (None when it has none or it cannot be read)."""
    try:
        value = device.serial_number
    except USB_FAILURES:
        return None
    return value if isinstance(value, str) else None


def find_device(
    vid: int,
    pid: int,
    *,
    serial: str | None,
    path: str | None,
    backend: Any,
    what: str,
) -> Any:
    """Return the device with these ids, serial number and port path (those given).

    Raises TransportError naming `what` when it is not plugged in or USB cannot be asked.
    """

    def matches(device: Any) -> bool:
        """Tell whether a device with the right ids is the one configured."""
        if path is not None and port_path(device) != path:
            return False
        return serial is None or serial_number(device) == serial

    try:
        device = usb.core.find(idVendor=vid, idProduct=pid, custom_match=matches, backend=backend)
    except (*USB_FAILURES, usb.core.NoBackendError) as err:
        raise TransportError(f"{what}: {err}") from err
    if device is None:
        raise TransportError(f"{what} is not plugged in")
    return device


def active_configuration(device: Any) -> Any:
    """Return the device's configuration, setting the first one if none is active."""
    try:
        return device.get_active_configuration()
    except usb.core.USBError:
        device.set_configuration()
        return device.get_active_configuration()


def claim(device: Any, number: int, *, detach: bool = True) -> None:
    """Take interface `number` from the kernel driver (usblp, usbhid) and claim it."""
    if detach and device.is_kernel_driver_active(number):
        device.detach_kernel_driver(number)
    usb.util.claim_interface(device, number)


def endpoint(interface: Any, direction: int, kind: int) -> Any:
    """Return the interface's first endpoint of a direction and transfer type (or None)."""

    def match(candidate: Any) -> bool:
        """Tell whether an endpoint has the wanted direction and type."""
        return bool(
            usb.util.endpoint_direction(candidate.bEndpointAddress) == direction
            and usb.util.endpoint_type(candidate.bmAttributes) == kind
        )

    return usb.util.find_descriptor(interface, custom_match=match)
