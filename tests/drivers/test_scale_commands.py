"""ScaleDriver commands against the pty simulator: weigh, tare, zero, clear_tare."""

from __future__ import annotations

import asyncio

import pytest

from drivers.base import DeviceError
from drivers.scale import ScaleDriver
from drivers.sim.scale import PROTOCOLS, ScaleSimulator
from tests.drivers.test_scale_support import DeviceEvent, is_weight, until

pytest_plugins = ["tests.drivers.test_scale_support"]  # the name, sim and driver fixtures

TARE = ["toledo8217", "mtsics", "sma", "adam"]
ZERO = ["toledo8217", "mtsics", "sma", "nci_scp01", "adam"]


def weighs(grams: int) -> object:
    """Return a test for the weight event of `grams`."""

    def check(event: DeviceEvent) -> bool:
        return is_weight(event) and event.data["grams"] == grams

    return check


async def refused(driver: ScaleDriver, verb: str) -> str:
    """Run a command that must fail; return its error code."""
    with pytest.raises(DeviceError) as caught:
        await driver.command(verb, {})
    return caught.value.code


async def test_weigh_returns_a_fresh_stable_weight(
    sim: ScaleSimulator, driver: ScaleDriver
) -> None:
    await until(driver, is_weight)
    assert await driver.command("weigh", {}) == {"grams": 1250, "stable": True}
    sim.set_weight(800)
    await until(driver, weighs(800))
    assert await driver.command("weigh", {}) == {"grams": 800, "stable": True}


@pytest.mark.parametrize("state", ["motion", "overload", "under_zero"])
async def test_weigh_refuses_what_cannot_price_goods(
    sim: ScaleSimulator, driver: ScaleDriver, state: str
) -> None:
    await until(driver, is_weight)
    getattr(sim, f"set_{state}")(True)
    assert await refused(driver, "weigh") == state


async def test_commands_and_polls_take_turns_on_the_wire(driver: ScaleDriver) -> None:
    await until(driver, is_weight)
    results = await asyncio.gather(*(driver.command("weigh", {}) for _ in range(6)))
    assert results == [{"grams": 1250, "stable": True}] * 6
    assert driver.reporter.unreadable == 0


@pytest.mark.parametrize("name", TARE)
async def test_tare_makes_the_weight_net(sim: ScaleSimulator, driver: ScaleDriver) -> None:
    sim.set_weight(250)
    await until(driver, weighs(250))
    assert await driver.command("tare", {}) == {}
    await until(driver, weighs(0))
    assert sim.tare_grams == 250
    sim.set_weight(1250)
    events = await until(driver, weighs(1000))
    assert events[-1].data == {"grams": 1000, "stable": True, "tare_grams": 250}


@pytest.mark.parametrize(
    ("name", "code"), [("toledo8217", "motion"), ("mtsics", "motion"), ("sma", "tare_error")]
)
async def test_tare_while_moving_is_refused(
    sim: ScaleSimulator, driver: ScaleDriver, code: str
) -> None:
    await until(driver, is_weight)
    sim.set_motion(True)
    assert await refused(driver, "tare") == code
    assert sim.tare_grams == 0


@pytest.mark.parametrize("name", ["toledo8217"])
async def test_clear_tare_returns_to_gross(sim: ScaleSimulator, driver: ScaleDriver) -> None:
    sim.set_weight(250)
    await until(driver, weighs(250))
    await driver.command("tare", {})
    sim.set_weight(1250)
    await until(driver, weighs(1000))
    assert await driver.command("clear_tare", {}) == {}
    events = await until(driver, weighs(1250))
    assert events[-1].data == {"grams": 1250, "stable": True, "tare_grams": 0}


@pytest.mark.parametrize("name", ZERO)
async def test_zero_takes_off_a_small_drift(sim: ScaleSimulator, driver: ScaleDriver) -> None:
    sim.set_weight(40)
    await until(driver, weighs(40))
    assert await driver.command("zero", {}) == {}
    await until(driver, weighs(0))
    sim.set_weight(1040)
    await until(driver, weighs(1000))


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("toledo8217", "motion"),
        ("mtsics", "motion"),
        ("sma", "zero_error"),
        ("nci_scp01", "motion"),
    ],
)
async def test_zero_while_moving_is_refused(
    sim: ScaleSimulator, driver: ScaleDriver, code: str
) -> None:
    await until(driver, is_weight)
    sim.set_motion(True)
    assert await refused(driver, "zero") == code


@pytest.mark.parametrize(
    ("name", "code"), [("toledo8217", "zero_error"), ("mtsics", "overload"), ("sma", "zero_error")]
)
async def test_zero_far_from_zero_is_refused(
    sim: ScaleSimulator, driver: ScaleDriver, code: str
) -> None:
    await until(driver, is_weight)  # 1250 g is beyond the 2 % zero range of 30 kg
    assert await refused(driver, "zero") == code


@pytest.mark.parametrize(
    ("name", "verb"),
    [("nci_scp01", "tare"), ("cas_pd2", "tare"), ("cas_pd2", "zero")]
    + [(name, "clear_tare") for name in PROTOCOLS if name != "toledo8217"],
)
async def test_commands_the_protocol_lacks_are_unsupported(driver: ScaleDriver, verb: str) -> None:
    await until(driver, is_weight)
    assert await refused(driver, verb) == "unsupported"


@pytest.mark.parametrize("name", ["mtsics"])
async def test_unknown_verbs_are_unsupported(driver: ScaleDriver) -> None:
    assert await refused(driver, "print") == "unsupported"
