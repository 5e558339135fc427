"""The scanner driver against a simulated serial scanner on a pty."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from drivers.base import DeviceEvent, load_profile
from drivers.scanner import ScannerDriver, create
from drivers.sim.scanner import ScannerSimulator

WAIT = 3.0


def fast_profile(name: str, timeout_ms: int = 100) -> dict[str, Any]:
    profile = copy.deepcopy(load_profile("scanner", name))
    profile["framing"]["timeout_ms"] = timeout_ms
    return profile


async def next_event(driver: ScannerDriver, within: float = WAIT) -> DeviceEvent:
    return await asyncio.wait_for(driver.events.get(), within)


async def connected(driver: ScannerDriver) -> None:
    deadline = time.monotonic() + WAIT
    while not driver.connected:
        assert time.monotonic() < deadline, "the driver never opened the port"
        await asyncio.sleep(0.01)


async def no_event(driver: ScannerDriver, seconds: float) -> None:
    with pytest.raises(TimeoutError):
        await next_event(driver, seconds)


@pytest.fixture
def sim_cr() -> Iterator[ScannerSimulator]:
    with ScannerSimulator.from_profile(load_profile("scanner", "serial_cr")) as sim:
        yield sim


@pytest.fixture
async def cr_driver(sim_cr: ScannerSimulator) -> AsyncIterator[ScannerDriver]:
    driver = create("scanner-01", {"port": sim_cr.port}, fast_profile("serial_cr"), {})
    await driver.start()
    await connected(driver)
    yield driver
    await driver.stop()


async def test_good_codes_become_scan_events(
    sim_cr: ScannerSimulator, cr_driver: ScannerDriver
) -> None:
    for code in ("4006381333931", "96385074", "036000291452", "ABC-123/x"):
        sim_cr.scan(code)
    events = [await next_event(cr_driver) for _ in range(4)]
    assert [(event.kind, dict(event.data)) for event in events] == [
        ("scan", {"code": "4006381333931", "symbology": "EAN13"}),
        ("scan", {"code": "96385074", "symbology": "EAN8"}),
        ("scan", {"code": "036000291452", "symbology": "UPCA"}),
        ("scan", {"code": "ABC-123/x", "symbology": ""}),
    ]
    assert cr_driver.scans == 4
    assert sum(cr_driver.rejected.values()) == 0


async def test_crlf_scanner_at_115200() -> None:
    profile = fast_profile("serial_crlf_115200")
    with ScannerSimulator.from_profile(profile, char_delay=0.001) as sim:
        assert sim.suffix == b"\r\n"
        driver = create("scanner-02", {"port": sim.port}, profile, {})
        await driver.start()
        try:
            await connected(driver)
            sim.scan("4006381333931")
            sim.scan("https://pay.example.cn/q/7F3A?amount=12850")
            first, second = await next_event(driver), await next_event(driver)
            assert first.data == {"code": "4006381333931", "symbology": "EAN13"}
            assert second.data["code"] == "https://pay.example.cn/q/7F3A?amount=12850"
        finally:
            await driver.stop()


async def test_half_code_is_rejected_after_the_timeout_never_emitted(
    sim_cr: ScannerSimulator, cr_driver: ScannerDriver
) -> None:
    sim_cr.send_raw(b"400638")
    event = await next_event(cr_driver)
    assert (event.kind, event.data["code"], event.data["reason"]) == (
        "error",
        "garbled",
        "incomplete",
    )
    await asyncio.sleep(0.05)
    sim_cr.scan("96385074")  # a whole code after the half one is untouched
    event = await next_event(cr_driver)
    assert event.data == {"code": "96385074", "symbology": "EAN8"}
    assert cr_driver.rejected == {"incomplete": 1}


async def test_garbage_and_bad_check_digits_are_rejected(
    sim_cr: ScannerSimulator, cr_driver: ScannerDriver
) -> None:
    sim_cr.send_raw(b"\x00\xff\x1b[0m\r")
    sim_cr.scan("4006381333932")
    sim_cr.scan("4006381333931")
    event = await next_event(cr_driver)
    assert (event.kind, event.data["code"]) == ("error", "garbled")
    event = await next_event(cr_driver)  # the garbled report was rate-limited: next is the scan
    assert event.data == {"code": "4006381333931", "symbology": "EAN13"}
    assert cr_driver.rejected == {"encoding": 1, "check_digit": 1}
    assert cr_driver.scans == 1


async def test_garbled_errors_are_reported_at_most_once_a_second(
    sim_cr: ScannerSimulator, cr_driver: ScannerDriver
) -> None:
    start = time.monotonic()
    for _ in range(10):
        sim_cr.scan("4006381333932")
    first = await next_event(cr_driver)
    assert first.data["reason"] == "check_digit"
    await no_event(cr_driver, 0.3)
    sim_cr.scan("1234567\x07")  # rejected within the second: counted, not reported
    await no_event(cr_driver, 0.3)
    assert sum(cr_driver.rejected.values()) == 11
    await asyncio.sleep(max(0.0, start + 1.1 - time.monotonic()))
    sim_cr.scan("ABC\x7f")
    second = await next_event(cr_driver)
    assert second.data["reason"] == "unprintable"
    assert second.data["rejected"] == 12
    assert cr_driver.rejected == {"check_digit": 10, "unprintable": 2}


async def test_unplugged_scanner_is_reported_once_and_retried_without_crashing() -> None:
    profile = fast_profile("serial_cr")
    sim = ScannerSimulator.from_profile(profile)
    sim.start()
    config = {"port": sim.port, "reconnect_s": [0.05, 0.2]}
    driver = create("scanner-03", config, profile, {})
    await driver.start()
    try:
        await connected(driver)
        sim.scan("96385074")
        assert (await next_event(driver)).kind == "scan"
        sim.unplug()
        event = await next_event(driver)
        assert (event.kind, event.data["code"]) == ("error", "disconnected")
        await no_event(driver, 0.6)  # several failed reopen attempts, one report
        assert not driver.connected
        assert driver._task is not None
        assert not driver._task.done()
    finally:
        await driver.stop()
    assert driver._task is None


async def test_open_failure_is_reported_and_stop_is_prompt() -> None:
    config = {"port": "/dev/serial/by-id/not-there", "reconnect_s": [5, 30]}
    driver = create("scanner-04", config, fast_profile("serial_cr"), {})
    await driver.start()
    event = await next_event(driver)
    assert event.data["code"] == "disconnected"
    assert "not-there" in event.data["message"]
    started = time.monotonic()
    await driver.stop()  # inside a 5 s backoff wait
    assert time.monotonic() - started < 1.0


def test_simulator_refuses_to_type_after_unplug() -> None:
    sim = ScannerSimulator()
    sim.start()
    sim.unplug()
    with pytest.raises(OSError, match="not plugged"):
        sim.scan("1")
