"""Fixtures and helpers the scale driver tests share (this module holds no tests).

`name` runs a test once per protocol; `sim` is that protocol's pty simulator with 1250 g on it;
`driver` is a started ScaleDriver on the simulator's port with the profile's own line settings
(7E1 for the 8217 and SCP-01), polling every 20 ms.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from drivers import scale
from drivers.base import DeviceEvent, load_profile
from drivers.scale import ScaleDriver
from drivers.sim.scale import PROTOCOLS, ScaleSimulator

FAST = {"poll_interval": 0.02, "reply_timeout": 0.1}
QUIET = 0.15  # seconds without events that show nothing more is coming (several polls)


def fast_profile(name: str) -> dict[str, object]:
    """Return a shipped profile that polls fast."""
    profile = load_profile("scale", name)
    profile["timing"] = dict(FAST)
    return profile


@pytest.fixture(params=PROTOCOLS)
def name(request: pytest.FixtureRequest) -> str:
    """Return each protocol in turn."""
    return str(request.param)


@pytest.fixture
def sim(name: str) -> Iterator[ScaleSimulator]:
    """Run a simulated scale with 1250 g on it."""
    simulator = ScaleSimulator(name).start()
    simulator.set_weight(1250)
    yield simulator
    simulator.stop()


@pytest.fixture
async def driver(name: str, sim: ScaleSimulator) -> AsyncIterator[ScaleDriver]:
    """Start a driver on the simulator's port; stop it afterwards."""
    made = scale.create("scale-01", {"port": sim.port}, fast_profile(name), {})
    assert isinstance(made, ScaleDriver)
    await made.start()
    yield made
    await made.stop()


async def collect(driver: ScaleDriver, seconds: float) -> list[DeviceEvent]:
    """Return every event within `seconds`."""
    events = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            events.append(await asyncio.wait_for(driver.events.get(), left))
        except TimeoutError:
            break
    return events


async def until(
    driver: ScaleDriver, done: Callable[[DeviceEvent], bool], seconds: float = 3.0
) -> list[DeviceEvent]:
    """Return the events up to and including the first one `done` accepts."""
    events = []
    deadline = time.monotonic() + seconds
    while not events or not done(events[-1]):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no such event within {seconds} s; got {events}")
        try:
            events.append(await asyncio.wait_for(driver.events.get(), left))
        except TimeoutError:
            continue
    return events


Said = tuple[str, object]


def said(events: list[DeviceEvent]) -> list[Said]:
    """Return what events say: a weight event's fields, an error event's code."""
    return [(e.kind, e.data if e.kind == "weight" else e.data["code"]) for e in events]


async def eventually(check: Callable[[], bool], seconds: float = 3.0) -> None:
    """Wait until `check()` holds (AssertionError after `seconds`)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {seconds} s")
        await asyncio.sleep(0.02)


def weight(grams: int, tare: int = 0) -> Said:
    """Return what the weight event of a stable weight says."""
    return ("weight", {"grams": grams, "stable": True, "tare_grams": tare})


def error(code: str) -> Said:
    """Return what the error event of a condition says."""
    return ("error", code)


def is_weight(event: DeviceEvent) -> bool:
    """Tell a weight event."""
    return event.kind == "weight"


def is_error(event: DeviceEvent) -> bool:
    """Tell an error event."""
    return event.kind == "error"


async def reports_only(driver: ScaleDriver) -> list[Said]:
    """Wait for the next error event; return it with all that follows within QUIET."""
    return said([*await until(driver, is_error), *await collect(driver, QUIET)])


def settling(name: str) -> list[Said]:
    """Return what a weight change shows before the new weight: Adam sees it move."""
    return [error("motion")] if name == "adam" else []
