"""ScaleDriver on a bad line, every protocol: garbage and silence."""

from __future__ import annotations

import pytest

from drivers.base import DeviceError
from drivers.scale import ScaleDriver
from drivers.sim.scale import PROTOCOLS, ScaleSimulator
from tests.drivers.test_scale_support import (
    QUIET,
    collect,
    error,
    eventually,
    is_weight,
    reports_only,
    said,
    until,
    weight,
)

pytest_plugins = ["tests.drivers.test_scale_support"]  # the name, sim and driver fixtures

ANSWERING = [name for name in PROTOCOLS if name != "adam"]  # Adam's silence means "unchanged"


async def test_garbage_is_rejected_and_reported_once(
    sim: ScaleSimulator, driver: ScaleDriver
) -> None:
    await until(driver, is_weight)
    sim.garbage(True)
    assert await reports_only(driver) == [error("unreadable")]
    await eventually(lambda: driver.reporter.unreadable >= 3)  # every garbled reply counts
    assert said(await collect(driver, QUIET)) == []  # but is reported once
    sim.garbage(False)
    assert said(await until(driver, is_weight)) == [weight(1250)]


async def test_a_burst_of_garbage_between_good_replies(
    sim: ScaleSimulator, driver: ScaleDriver
) -> None:
    await until(driver, is_weight)
    sim.garbage(3)
    assert said(await until(driver, is_weight)) == [error("unreadable"), weight(1250)]
    assert 2 <= driver.reporter.unreadable <= 3


@pytest.mark.parametrize("name", ANSWERING)
async def test_silence_is_one_timeout_and_polling_recovers(
    sim: ScaleSimulator, driver: ScaleDriver
) -> None:
    await until(driver, is_weight)
    sim.silent(True)
    assert await reports_only(driver) == [error("timeout")]
    with pytest.raises(DeviceError) as caught:
        await driver.command("weigh", {})
    assert caught.value.code == "timeout"
    sim.silent(False)
    assert said(await until(driver, is_weight)) == [weight(1250)]
    assert await driver.command("weigh", {}) == {"grams": 1250, "stable": True}


@pytest.mark.parametrize("name", ["adam"])
async def test_adam_silence_means_the_weight_is_unchanged(
    sim: ScaleSimulator, driver: ScaleDriver
) -> None:
    await until(driver, is_weight)
    sim.silent(True)
    assert said(await collect(driver, QUIET)) == []
    assert await driver.command("weigh", {}) == {"grams": 1250, "stable": True}
    sim.silent(False)
    sim.set_weight(500)
    assert said(await until(driver, is_weight)) == [error("motion"), weight(500)]
