"""ScaleDriver when the link fails, every protocol: reopening with backoff, stopping."""

from __future__ import annotations

from typing import Any

import pytest

from drivers import scale
from drivers.base import DeviceError, TransportError
from drivers.scale import ScaleDriver
from drivers.sim.scale import ScaleSimulator
from drivers.transports import SerialTransport
from tests.drivers.test_scale_support import (
    collect,
    error,
    fast_profile,
    is_weight,
    said,
    until,
    weight,
)

pytest_plugins = ["tests.drivers.test_scale_support"]  # the name, sim and driver fixtures


class FlakyLink:
    """A scale's serial link that fails on demand, like a USB adapter pulled and put back."""

    def __init__(self, inner: SerialTransport) -> None:
        self.inner = inner
        self.opens = 0
        self.fail_reads = 0
        self.fail_opens = 0

    def open(self) -> FlakyLink:
        self.opens += 1
        if self.fail_opens:
            self.fail_opens -= 1
            raise TransportError("no such device")
        self.inner.open()
        return self

    def write(self, data: bytes) -> None:
        self.inner.write(data)

    def read(self, size: int, timeout: float) -> bytes:
        if self.fail_reads:
            self.fail_reads -= 1
            raise TransportError("device reports readiness to read but returned no data")
        return self.inner.read(size, timeout)

    def reset_input(self) -> None:
        self.inner.reset_input()

    def close(self) -> None:
        self.inner.close()


async def test_the_port_is_reopened_after_a_link_failure(name: str, sim: ScaleSimulator) -> None:
    profile: dict[str, Any] = fast_profile(name)
    link = FlakyLink(SerialTransport(sim.port, profile["serial"]))
    driver = ScaleDriver("scale-01", profile, link)
    driver.retry_first = 0.05
    await driver.start()
    try:
        assert said(await until(driver, is_weight)) == [weight(1250)]
        link.fail_reads, link.fail_opens = 1, 1
        events = await until(driver, is_weight, seconds=5.0)
        assert said(events) == [error("disconnected"), weight(1250)]
        assert link.opens == 3  # the first open, one refused, one that worked (really reopened)
        assert await driver.command("weigh", {}) == {"grams": 1250, "stable": True}
    finally:
        await driver.stop()


async def test_stop_closes_the_port(driver: ScaleDriver) -> None:
    await until(driver, is_weight)
    await driver.stop()
    with pytest.raises(DeviceError) as caught:
        await driver.command("weigh", {})
    assert caught.value.code == "disconnected"
    assert said(await collect(driver, 0.1)) == [error("disconnected")]


async def test_a_missing_port_is_reported_and_retried() -> None:
    made = scale.create("scale-01", {"port": "/dev/no-such-scale"}, fast_profile("mtsics"), {})
    await made.start()
    try:
        events = await collect(made, 0.5)
        assert [e.kind for e in events] == ["error"]
        assert events[0].data["code"] == "disconnected"
    finally:
        await made.stop()
