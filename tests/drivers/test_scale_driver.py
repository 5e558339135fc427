"""ScaleDriver against the pty simulator, every protocol: what it reports and when."""

from __future__ import annotations

from drivers.base import load_profile
from drivers.scale import ScaleDriver
from drivers.sim.scale import ScaleSimulator
from tests.drivers.test_scale_support import (
    QUIET,
    collect,
    error,
    is_weight,
    reports_only,
    said,
    settling,
    until,
    weight,
)

pytest_plugins = ["tests.drivers.test_scale_support"]  # the name, sim and driver fixtures


async def test_a_still_weight_is_reported_once(driver: ScaleDriver) -> None:
    assert said(await until(driver, is_weight)) == [weight(1250)]
    assert said(await collect(driver, QUIET)) == []


async def test_removing_the_item_reports_zero(
    name: str, sim: ScaleSimulator, driver: ScaleDriver
) -> None:
    await until(driver, is_weight)
    sim.set_weight(0)
    assert said(await until(driver, is_weight)) == [*settling(name), weight(0)]
    assert said(await collect(driver, QUIET)) == []


async def test_motion_reports_one_error_and_no_weight(
    sim: ScaleSimulator, driver: ScaleDriver
) -> None:
    await until(driver, is_weight)
    sim.set_motion(True)
    assert await reports_only(driver) == [error("motion")]
    sim.set_motion(False)
    assert said(await until(driver, is_weight)) == [weight(1250)]  # news again after the error


async def test_overload_reports_one_error_and_no_weight(
    sim: ScaleSimulator, driver: ScaleDriver
) -> None:
    await until(driver, is_weight)
    sim.set_overload(True)
    assert await reports_only(driver) == [error("overload")]
    sim.set_overload(False)
    assert said(await until(driver, is_weight)) == [weight(1250)]


async def test_a_load_above_capacity_is_overload(sim: ScaleSimulator, driver: ScaleDriver) -> None:
    await until(driver, is_weight)
    sim.set_weight(31_000)
    assert await reports_only(driver) == [error("overload")]


async def test_under_zero_reports_one_error_and_no_weight(
    sim: ScaleSimulator, driver: ScaleDriver
) -> None:
    await until(driver, is_weight)
    sim.set_under_zero(True)
    assert await reports_only(driver) == [error("under_zero")]
    sim.set_under_zero(False)
    assert said(await until(driver, is_weight))[-1] == weight(1250)


async def test_describe_names_model_and_firmware(name: str, driver: ScaleDriver) -> None:
    firmware = {"mtsics": "1.10 18.6.4", "sma": "SMA:2/1.0"}
    assert driver.describe() == {
        "model": load_profile("scale", name)["model"],
        "fw": firmware.get(name, ""),
    }
