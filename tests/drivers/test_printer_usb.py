"""A USB printer through a fake pyusb backend: found by serial number, written on bulk-OUT,
status read on bulk-IN, the kernel's usblp driver detached first."""

from __future__ import annotations

import array
import copy
from types import SimpleNamespace
from typing import Any

import pytest
import usb.backend
import usb.core

from drivers import printer
from drivers.base import DeviceError, TransportError, load_profile
from drivers.printer.usb_link import UsbTransport
from drivers.sim import escpos_reader as reader
from drivers.sim.printer import PrinterSimulator
from edge.protocol import receipt as r

EPSON, TM_T88V = 0x04B8, 0x0202
EP_OUT, EP_IN = 0x01, 0x82
LANGID_EN_US = 0x0409


class FakePrinter:
    """One USB printer: descriptors, a claimed flag, what bulk-OUT received, bulk-IN replies."""

    def __init__(self, serial: str, bus: int, address: int) -> None:
        """Describe a TM-T88V on a bus address, its status kept by a (not started) simulator."""
        self.serial, self.bus, self.address = serial, bus, address
        self.state = PrinterSimulator()  # only its status bytes are used
        self.received = bytearray()
        self.replies = bytearray()
        self.kernel_driver = True  # usblp bound, as after plugging in
        self.claimed = False
        self.configuration = 0


class FakeBackend(usb.backend.IBackend):  # type: ignore[misc]
    """Just enough of a libusb backend for pyusb's core to find and talk to fake printers."""

    def __init__(self, *printers: FakePrinter) -> None:
        """Plug in some printers."""
        self.printers = list(printers)
        self.calls: list[str] = []

    def enumerate_devices(self) -> list[FakePrinter]:
        """List the plugged printers."""
        return self.printers

    def get_device_descriptor(self, dev: FakePrinter) -> SimpleNamespace:
        """Describe a printer (string index 3 is its serial number)."""
        return SimpleNamespace(
            bLength=18, bDescriptorType=1, bcdUSB=0x0200, bDeviceClass=0, bDeviceSubClass=0,
            bDeviceProtocol=0, bMaxPacketSize0=64, idVendor=EPSON, idProduct=TM_T88V,
            bcdDevice=0x0100, iManufacturer=1, iProduct=2, iSerialNumber=3,
            bNumConfigurations=1, address=dev.address, bus=dev.bus, port_number=dev.address,
            port_numbers=(dev.address,), speed=3,
        )  # fmt: skip

    def get_configuration_descriptor(self, dev: FakePrinter, config: int) -> SimpleNamespace:
        """Describe the one configuration."""
        return SimpleNamespace(
            bLength=9, bDescriptorType=2, wTotalLength=32, bNumInterfaces=1,
            bConfigurationValue=1, iConfiguration=0, bmAttributes=0xC0, bMaxPower=1,
            extra_descriptors=[],
        )  # fmt: skip

    def get_interface_descriptor(
        self, dev: FakePrinter, intf: int, alt: int, config: int
    ) -> SimpleNamespace:
        """Describe the printer-class interface (bidirectional)."""
        return SimpleNamespace(
            bLength=9, bDescriptorType=4, bInterfaceNumber=0, bAlternateSetting=0,
            bNumEndpoints=2, bInterfaceClass=7, bInterfaceSubClass=1, bInterfaceProtocol=2,
            iInterface=0, extra_descriptors=[],
        )  # fmt: skip

    def get_endpoint_descriptor(
        self, dev: FakePrinter, ep: int, intf: int, alt: int, config: int
    ) -> SimpleNamespace:
        """Describe bulk-OUT (ep 0) and bulk-IN (ep 1)."""
        return SimpleNamespace(
            bLength=7, bDescriptorType=5, bEndpointAddress=(EP_OUT, EP_IN)[ep], bmAttributes=2,
            wMaxPacketSize=64, bInterval=0, bRefresh=0, bSynchAddress=0, extra_descriptors=[],
        )  # fmt: skip

    def open_device(self, dev: FakePrinter) -> FakePrinter:
        """Open: the handle is the printer."""
        return dev

    def close_device(self, dev_handle: FakePrinter) -> None:
        """Close."""

    def get_configuration(self, dev_handle: FakePrinter) -> int:
        """Return the active configuration (0: unconfigured)."""
        return dev_handle.configuration

    def set_configuration(self, dev_handle: FakePrinter, config_value: int) -> None:
        """Configure."""
        dev_handle.configuration = config_value

    def is_kernel_driver_active(self, dev_handle: FakePrinter, intf: int) -> bool:
        """Tell whether usblp holds the interface."""
        return dev_handle.kernel_driver

    def detach_kernel_driver(self, dev_handle: FakePrinter, intf: int) -> None:
        """Take the interface from usblp."""
        self.calls.append(f"detach {dev_handle.serial}")
        dev_handle.kernel_driver = False

    def claim_interface(self, dev_handle: FakePrinter, intf: int) -> None:
        """Claim: fails with Resource busy while usblp holds the interface."""
        if dev_handle.kernel_driver:
            raise usb.core.USBError("Resource busy", errno=16)
        self.calls.append(f"claim {dev_handle.serial}")
        dev_handle.claimed = True

    def release_interface(self, dev_handle: FakePrinter, intf: int) -> None:
        """Release."""
        dev_handle.claimed = False

    def ctrl_transfer(
        self, dev_handle: FakePrinter, bm_request_type: int, b_request: int, w_value: int,
        w_index: int, data: array.array[int], timeout: int,
    ) -> int:  # fmt: skip
        """Answer GET_DESCRIPTOR for strings: the language list and the serial number."""
        index = w_value & 0xFF
        if index == 0:
            payload = bytes([4, 3]) + LANGID_EN_US.to_bytes(2, "little")
        else:
            text = {1: "EPSON", 2: "TM-T88V", 3: dev_handle.serial}[index].encode("utf-16-le")
            payload = bytes([2 + len(text), 3]) + text
        size = min(len(payload), len(data))
        data[:size] = array.array("B", payload[:size])
        return size

    def bulk_write(
        self, dev_handle: FakePrinter, ep: int, intf: int, data: array.array[int], timeout: int
    ) -> int:
        """Take bytes on bulk-OUT; queue a status byte for each DLE EOT n."""
        assert dev_handle.claimed and ep == EP_OUT
        chunk = bytes(data)
        dev_handle.received += chunk
        for op in reader.read(chunk):
            if op.kind == "status":
                dev_handle.replies.append(dev_handle.state.status_byte(op.value))
        return len(chunk)

    def bulk_read(
        self, dev_handle: FakePrinter, ep: int, intf: int, buff: array.array[int], timeout: int
    ) -> int:
        """Give queued replies on bulk-IN, or time out."""
        assert ep == EP_IN
        if not dev_handle.replies:
            raise usb.core.USBTimeoutError("Operation timed out", errno=110)
        size = min(len(buff), len(dev_handle.replies))
        buff[:size] = array.array("B", dev_handle.replies[:size])
        del dev_handle.replies[:size]
        return size


def profile() -> dict[str, Any]:
    """Return the Epson profile with test-sized polling."""
    shipped = copy.deepcopy(load_profile("printer", "epson_tm_t88v"))
    shipped["status"].update(reply_timeout=0.2, poll_seconds=0.1)
    return shipped


async def test_the_printer_with_the_right_serial_number_gets_the_job() -> None:
    front, back = FakePrinter("X4RK012345", 1, 4), FakePrinter("X4RK067890", 1, 5)
    backend = FakeBackend(front, back)
    config = {"usb": {"serial": "X4RK067890"}}  # vid/pid from the profile
    driver = printer.create("printer-03", config, profile(), {}, usb_backend=backend)
    await driver.start()
    result = await driver.command("print", {"document": r.document([r.text("发票"), r.cut()])})
    await driver.stop()
    assert front.received == b""
    assert backend.calls[:2] == ["detach X4RK067890", "claim X4RK067890"]  # no Resource busy
    [job] = reader.jobs(bytes(back.received))
    assert result["bytes"] == len(job)
    ops = reader.read(job)
    assert reader.lines(ops) == ["发票"]
    assert reader.values(ops, "cut") == ["full"]


async def test_paper_out_is_read_over_bulk_in() -> None:
    device = FakePrinter("X4RK000001", 2, 7)
    device.state.set_paper("out")
    driver = printer.create(
        "printer-03",
        {"usb": {"serial": "X4RK000001"}},
        profile(),
        {},
        usb_backend=FakeBackend(device),
    )
    await driver.start()
    with pytest.raises(DeviceError) as refused:
        await driver.command("print", {"document": r.document([r.text("x"), r.cut()])})
    assert refused.value.code == "paper_out"
    device.state.set_paper("near_end")
    assert await driver.command("status", {}) == {"paper": "near_end", "online": True}
    await driver.command("open", {"pin": 5})
    await driver.stop()
    assert bytes(device.received).endswith(b"\x1b\x70\x01\x32\x32")


async def test_a_missing_usb_printer_is_a_transport_error() -> None:
    backend = FakeBackend(FakePrinter("X4RK000001", 1, 4))
    driver = printer.create(
        "printer-03", {"usb": {"serial": "NOPE"}}, profile(), {}, usb_backend=backend
    )
    with pytest.raises(TransportError, match="NOPE"):
        await driver.start()
    with pytest.raises(DeviceError) as failed:
        await driver.command("open", {})
    assert failed.value.code == "offline"


def test_without_a_serial_number_the_first_match_is_used() -> None:
    first = FakePrinter("A", 1, 2)
    transport = UsbTransport(EPSON, TM_T88V, backend=FakeBackend(first, FakePrinter("B", 1, 3)))
    transport.open()
    transport.write(b"\x10\x04\x04")
    assert transport.read(1, 0.1) == b"\x12"
    assert transport.read(1, 0.01) == b""
    transport.close()
    assert first.received == b"\x10\x04\x04"
    with pytest.raises(TransportError):
        transport.write(b"x")


def test_a_printer_without_a_serial_number_is_found_by_port_path() -> None:
    left, right = FakePrinter("", 1, 2), FakePrinter("", 1, 3)
    config = {"usb": {"path": "1-3"}}
    transport = printer.create(
        "printer-04", config, profile(), {}, usb_backend=FakeBackend(left, right)
    ).transport
    transport.open()
    transport.write(b"\x10\x04\x04")
    transport.close()
    assert (left.received, right.received) == (b"", b"\x10\x04\x04")
    gone = UsbTransport(EPSON, TM_T88V, path="2-9", backend=FakeBackend(left, right))
    with pytest.raises(TransportError, match="port 2-9 is not plugged in"):
        gone.open()
