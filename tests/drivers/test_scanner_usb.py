"""USB scanners through pyusb with a fake backend, and through the driver with a report reader."""

from __future__ import annotations

import asyncio
import copy
import queue
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
import usb.backend
import usb.core

from drivers.base import DeviceEvent, TransportError, load_profile
from drivers.scanner import ScannerDriver, UsbReportLink, create, load_settings
from drivers.sim.scanner import ReportPlayer, hid_pos_reports, keyboard_reports
from tests.drivers.test_scanner_fixtures import read_reports

VID, PID = 0x0C2E, 0x0B61
WAIT = 3.0
NO_DEVICE = 19
BUSY = 16


@dataclass(eq=False)
class FakeScanner:
    """One plugged-in USB scanner as the fake backend sees it."""

    serial: str | None
    bus: int
    address: int
    ports: tuple[int, ...]
    protocol: int = 0  # bInterfaceProtocol: 1 keyboard, 0 none
    kernel_driver: bool = True
    gone: bool = False
    detached: int = 0
    reports: queue.Queue[bytes] = field(default_factory=queue.Queue)
    requests: list[tuple[int, int, int, int, bytes]] = field(default_factory=list)


class FakeBackend(usb.backend.IBackend):  # type: ignore[misc]
    """A pyusb backend over FakeScanner objects: descriptors, strings, interrupt reads."""

    def __init__(self, *devices: FakeScanner) -> None:
        super().__init__()
        self.devices = list(devices)

    def enumerate_devices(self) -> Any:
        return iter([device for device in self.devices if not device.gone])

    def get_device_descriptor(self, dev: FakeScanner) -> Any:
        return SimpleNamespace(
            bLength=18, bDescriptorType=1, bcdUSB=0x200, bDeviceClass=0, bDeviceSubClass=0,
            bDeviceProtocol=0, bMaxPacketSize0=8, idVendor=VID, idProduct=PID, bcdDevice=0x100,
            iManufacturer=0, iProduct=0, iSerialNumber=3 if dev.serial else 0,
            bNumConfigurations=1, address=dev.address, bus=dev.bus, port_number=dev.ports[-1],
            port_numbers=dev.ports, speed=2,
        )  # fmt: skip

    def get_configuration_descriptor(self, dev: FakeScanner, config: int) -> Any:
        if config != 0:
            raise IndexError(config)
        return SimpleNamespace(
            bLength=9, bDescriptorType=2, wTotalLength=34, bNumInterfaces=1,
            bConfigurationValue=1, iConfiguration=0, bmAttributes=0x80, bMaxPower=50,
            extra_descriptors=[],
        )  # fmt: skip

    def get_interface_descriptor(self, dev: FakeScanner, intf: int, alt: int, config: int) -> Any:
        if intf != 0 or alt != 0:
            raise IndexError(intf)
        return SimpleNamespace(
            bLength=9, bDescriptorType=4, bInterfaceNumber=0, bAlternateSetting=0,
            bNumEndpoints=1, bInterfaceClass=3, bInterfaceSubClass=1,
            bInterfaceProtocol=dev.protocol, iInterface=0, extra_descriptors=[],
        )  # fmt: skip

    def get_endpoint_descriptor(self, dev: Any, ep: int, intf: int, alt: int, config: int) -> Any:
        return SimpleNamespace(
            bLength=7, bDescriptorType=5, bEndpointAddress=0x81, bmAttributes=0x03,
            wMaxPacketSize=64, bInterval=1, bRefresh=0, bSynchAddress=0, extra_descriptors=[],
        )  # fmt: skip

    def open_device(self, dev: FakeScanner) -> FakeScanner:
        if dev.gone:
            raise usb.core.USBError("No such device", errno=NO_DEVICE)
        return dev

    def close_device(self, handle: FakeScanner) -> None:
        pass

    def get_configuration(self, handle: FakeScanner) -> int:
        return 1

    def set_configuration(self, handle: FakeScanner, value: int) -> None:
        pass

    def claim_interface(self, handle: FakeScanner, intf: int) -> None:
        if handle.kernel_driver:
            raise usb.core.USBError("Resource busy", errno=BUSY)

    def release_interface(self, handle: FakeScanner, intf: int) -> None:
        pass

    def is_kernel_driver_active(self, handle: FakeScanner, intf: int) -> bool:
        return handle.kernel_driver

    def detach_kernel_driver(self, handle: FakeScanner, intf: int) -> None:
        handle.kernel_driver = False
        handle.detached += 1

    def intr_read(self, handle: FakeScanner, ep: int, intf: int, buff: Any, timeout: int) -> int:
        if handle.gone:
            raise usb.core.USBError("No such device", errno=NO_DEVICE)
        try:
            report = handle.reports.get(timeout=timeout / 1000)
        except queue.Empty:
            raise usb.core.USBTimeoutError("Operation timed out", errno=110) from None
        if handle.gone:
            raise usb.core.USBError("No such device", errno=NO_DEVICE)
        size = min(len(report), len(buff))
        buff[:size] = type(buff)("B", report[:size])
        return size

    def ctrl_transfer(
        self, handle: FakeScanner, request_type: int, request: int, value: int, index: int,
        data: Any, timeout: int,
    ) -> int:  # fmt: skip
        if request_type & 0x80 and request == 6 and value >> 8 == 3:  # GET_DESCRIPTOR(string)
            if value & 0xFF == 0:
                answer = bytes([4, 3, 0x09, 0x04])  # LANGID en-US
            else:
                text = (handle.serial or "").encode("utf-16-le")
                answer = bytes([2 + len(text), 3]) + text
            data[: len(answer)] = type(data)("B", answer)
            return len(answer)
        handle.requests.append((request_type, request, value, index, bytes(data)))
        return len(data)

    def unplug(self, device: FakeScanner) -> None:
        device.gone = True

    def plug(self, device: FakeScanner) -> None:
        self.devices.remove(device)
        replugged = FakeScanner(
            device.serial, device.bus, device.address + 10, device.ports, device.protocol,
            reports=device.reports,
        )  # fmt: skip
        self.devices.append(replugged)


def usb_profile(name: str) -> dict[str, Any]:
    profile = copy.deepcopy(load_profile("scanner", name))
    profile["usb"]["vendor_id"] = VID
    profile["usb"]["product_id"] = PID
    return profile


async def next_event(driver: ScannerDriver, within: float = WAIT) -> DeviceEvent:
    return await asyncio.wait_for(driver.events.get(), within)


def link(backend: FakeBackend, profile: str = "hid_pos", **identity: Any) -> UsbReportLink:
    usb_settings = load_settings(usb_profile(profile)).usb
    assert usb_settings is not None
    return UsbReportLink(VID, PID, usb_settings, backend=backend, **identity)


# -- finding the right scanner ------------------------------------------------------------


def test_two_identical_scanners_are_told_apart_by_serial_number() -> None:
    first = FakeScanner("SN-A", bus=1, address=5, ports=(1, 2))
    second = FakeScanner("SN-B", bus=1, address=6, ports=(1, 3))
    backend = FakeBackend(first, second)
    for report in hid_pos_reports("1111111111116", "]E0"):
        first.reports.put(report)
    for report in hid_pos_reports("4006381333931", "]E0"):
        second.reports.put(report)
    scanner = link(backend, serial_number="SN-B").open()
    try:
        assert scanner.read(64, 0.5)[5:18] == b"4006381333931"
        assert first.reports.qsize() == 1  # the other scanner was not touched
    finally:
        scanner.close()
    backend.devices.reverse()  # enumeration order changes nothing
    scanner = link(backend, serial_number="SN-A").open()
    try:
        assert scanner.read(64, 0.5)[5:18] == b"1111111111116"
    finally:
        scanner.close()


def test_a_scanner_without_serial_number_is_found_by_port_path() -> None:
    left = FakeScanner(None, bus=1, address=5, ports=(1, 4))
    right = FakeScanner(None, bus=1, address=9, ports=(1, 5))
    right.reports.put(hid_pos_reports("96385074", "]E4")[0])
    scanner = link(FakeBackend(left, right), path="1-1.5").open()
    try:
        assert scanner.read(64, 0.5)[5:13] == b"96385074"
    finally:
        scanner.close()


def test_missing_scanner_and_missing_identity_are_transport_errors() -> None:
    backend = FakeBackend(FakeScanner("SN-A", bus=1, address=5, ports=(1, 2)))
    with pytest.raises(TransportError, match="not plugged in"):
        link(backend, serial_number="SN-C").open()
    with pytest.raises(TransportError, match="serial number or port path"):
        link(backend).open()


def test_no_pyusb_backend_is_a_transport_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_backend(**_: Any) -> Any:
        raise usb.core.NoBackendError("No backend available")

    monkeypatch.setattr(usb.core, "find", no_backend)
    with pytest.raises(TransportError, match="No backend"):
        link(FakeBackend(), serial_number="SN-A").open()


# -- what open() sends --------------------------------------------------------------------


def test_keyboard_wedge_is_taken_from_the_kernel_and_set_to_boot_reports() -> None:
    wedge = FakeScanner("KB-1", bus=2, address=3, ports=(2, 1), protocol=1)
    scanner = link(FakeBackend(wedge), "usb_keyboard", serial_number="KB-1").open()
    scanner.close()
    assert wedge.detached == 1
    assert not wedge.kernel_driver  # not handed back on close: keystrokes stay out of the UI
    assert [(req[0], req[1], req[2]) for req in wedge.requests] == [
        (0x21, 0x0B, 0),  # SET_PROTOCOL boot
        (0x21, 0x0A, 0),  # SET_IDLE 0
    ]


def test_kernel_driver_left_attached_means_resource_busy() -> None:
    wedge = FakeScanner("KB-1", bus=2, address=3, ports=(2, 1), protocol=1)
    profile = usb_profile("usb_keyboard")
    profile["usb"]["detach_kernel_driver"] = False
    usb_settings = load_settings(profile).usb
    assert usb_settings is not None
    scanner = UsbReportLink(
        VID, PID, usb_settings, serial_number="KB-1", backend=FakeBackend(wedge)
    )
    with pytest.raises(TransportError, match="Resource busy"):
        scanner.open()


def test_hid_pos_mode_switch_feature_report_is_sent() -> None:
    scanner_device = FakeScanner("SN-A", bus=1, address=5, ports=(1, 2))
    profile = usb_profile("hid_pos")
    profile["usb"]["mode_switch"] = [0x05, 0x01, 0x8C]
    usb_settings = load_settings(profile).usb
    assert usb_settings is not None
    backend = FakeBackend(scanner_device)
    UsbReportLink(VID, PID, usb_settings, serial_number="SN-A", backend=backend).open().close()
    assert scanner_device.requests == [(0x21, 0x09, 0x0305, 0, b"\x05\x01\x8c")]


# -- through the driver -------------------------------------------------------------------


async def test_hid_pos_driver_with_a_fake_backend_reads_recorded_reports() -> None:
    wanted = FakeScanner("SN-B", bus=1, address=6, ports=(1, 3))
    other = FakeScanner("SN-A", bus=1, address=5, ports=(1, 2))
    for report in read_reports("hid_pos_qr_chunks.hex"):
        wanted.reports.put(report)
    other.reports.put(hid_pos_reports("96385074", "]E4")[0])
    backend = FakeBackend(other, wanted)
    config = {"serial_number": "SN-B", "reconnect_s": [0.05, 0.2]}
    driver = create("scanner-usb", config, usb_profile("hid_pos"), {}, usb_backend=backend)
    await driver.start()
    try:
        first, second = await next_event(driver), await next_event(driver)
        assert first.kind == "scan"
        assert first.data["symbology"] == "QR"
        assert first.data["code"].startswith("https://pay.example.cn/q/")
        assert len(first.data["code"]) == 124
        assert second.data == {"code": "批次A-17 苹果", "symbology": "DATAMATRIX"}
        # unplug: reported once, retried, then cleared when it is back, and scanning resumes
        backend.unplug(wanted)
        lost = await next_event(driver)
        assert (lost.kind, lost.data["code"]) == ("error", "disconnected")
        await asyncio.sleep(0.3)
        backend.plug(wanted)
        back = await next_event(driver)
        assert back.data == {"code": "disconnected", "cleared": True}
        for report in hid_pos_reports("4006381333931", "]E0"):
            wanted.reports.put(report)
        assert (await next_event(driver)).data == {"code": "4006381333931", "symbology": "EAN13"}
        assert other.reports.qsize() == 1
    finally:
        await driver.stop()


async def test_keyboard_driver_with_a_report_reader() -> None:
    player = ReportPlayer(read_reports("keyboard_shifted.hex"))
    profile = load_profile("scanner", "usb_keyboard")
    driver = create("scanner-kb", {}, profile, {}, transport=player)
    assert driver.read_size == 8
    await driver.start()
    try:
        first, second = await next_event(driver), await next_event(driver)
        assert first.data == {"code": "Ab-12_Z!", "symbology": ""}
        assert second.data == {"code": "Hello World", "symbology": ""}
        player.push(*read_reports("keyboard_garbled.hex"))
        garbled = await next_event(driver)
        assert (garbled.data["code"], garbled.data["reason"]) == ("garbled", "unprintable")
        good = await next_event(driver)
        assert good.data == {"code": "12345670", "symbology": "EAN8"}
        deadline = time.monotonic() + WAIT
        while driver.rejected["incomplete"] == 0:  # "999" without Enter times out
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert driver.rejected == {"unprintable": 2, "check_digit": 1, "format": 1, "incomplete": 1}
        assert driver.scans == 3
    finally:
        await driver.stop()
    assert not player.is_open


async def test_report_reader_unplug_and_replug() -> None:
    player = ReportPlayer()
    config = {"reconnect_s": [0.05, 0.1]}
    driver = create(
        "scanner-kb", config, load_profile("scanner", "usb_keyboard"), {}, transport=player
    )
    await driver.start()
    try:
        player.push(*keyboard_reports("96385", end=False))
        await asyncio.sleep(0.05)
        player.unplug()
        events = [await next_event(driver), await next_event(driver)]
        kinds = sorted(event.data["code"] for event in events)
        assert kinds == ["disconnected", "garbled"]  # the half-typed code is dropped, not sent
        await asyncio.sleep(0.3)
        assert player.opened == 1
        player.plug()
        assert (await next_event(driver)).data == {"code": "disconnected", "cleared": True}
        assert player.opened == 2
        player.push(*keyboard_reports("96385074"))
        assert (await next_event(driver)).data == {"code": "96385074", "symbology": "EAN8"}
    finally:
        await driver.stop()
