"""Scale profiles: the shipped ones are usable and exact; broken ones are named precisely."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from drivers import scale
from drivers.base import DriverError, ProfileError, load_profile
from drivers.families import check_all_profiles
from drivers.scale import ScaleDriver, check_profile, compile_profile
from drivers.sim.scale import PROTOCOLS

# Line settings per DEVICES.md: a pty cannot catch a wrong one, so this table does.
LINES = {
    "toledo8217": (9600, 7, "E", 1),
    "mtsics": (9600, 8, "N", 1),
    "sma": (9600, 8, "N", 1),
    "nci_scp01": (9600, 7, "E", 1),
    "cas_pd2": (9600, 8, "N", 1),
    "adam": (4800, 8, "N", 1),
}


@pytest.mark.parametrize("name", PROTOCOLS)
def test_shipped_profile_is_usable(name: str) -> None:
    profile = load_profile("scale", name)
    assert check_profile(profile) == []
    assert isinstance(profile["model"], str)
    serial = profile["serial"]
    assert (serial["baudrate"], serial["bytesize"], serial["parity"], serial["stopbits"]) == LINES[
        name
    ]


def test_gateway_profile_check_finds_every_scale_profile_clean() -> None:
    report = {k: v for k, v in check_all_profiles().items() if k.startswith("scales/")}
    assert sorted(report) == sorted(f"scales/{name}.toml" for name in PROTOCOLS)
    assert all(problems == [] for problems in report.values()), report


def test_shipped_profiles_carry_the_protocol_facts() -> None:
    toledo = compile_profile(load_profile("scale", "toledo8217"))
    assert toledo.commands["weigh"].send == b"W"
    assert toledo.probe is not None
    assert (toledo.probe.send, toledo.probe.after) == (b"Ehello", b"F")
    cas = compile_profile(load_profile("scale", "cas_pd2"))
    assert (cas.commands["weigh"].handshake, cas.commands["weigh"].send) == (b"\x05", b"\x11")
    assert cas.end == b"\x03\x04"
    assert cas.frames[0].checksum is not None
    adam = compile_profile(load_profile("scale", "adam"))
    assert (adam.equal_readings, adam.silence_unchanged) == (3, True)
    assert compile_profile(load_profile("scale", "nci_scp01")).end == b"\x03"


def broken(change: Callable[[dict[str, Any]], None], name: str = "toledo8217") -> list[str]:
    """Return the problems of a shipped profile after `change`."""
    profile = copy.deepcopy(load_profile("scale", name))
    change(profile)
    return check_profile(profile)


BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("no model", lambda p: p.pop("model"), "model missing"),
    ("no serial", lambda p: p.pop("serial"), "[serial] table missing"),
    ("baud", lambda p: p["serial"].update(baudrate=9601), "serial.baudrate must be one of"),
    ("parity", lambda p: p["serial"].update(parity="X"), "serial.parity must be N, E or O"),
    ("bytesize", lambda p: p["serial"].update(bytesize=9), "serial.bytesize must be 7 or 8"),
    ("no weigh", lambda p: p["commands"].pop("weigh"), "commands.weigh missing"),
    (
        "verb",
        lambda p: p["commands"].update(print={"send": "P"}),
        "commands.print: unknown command",
    ),
    ("reply", lambda p: p["commands"]["zero"].update(reply="maybe"), "commands.zero.reply must be"),
    ("empty", lambda p: p["commands"]["weigh"].update(send=""), "commands.weigh.send must be a"),
    ("unicode", lambda p: p["commands"]["weigh"].update(send="秤"), "above \\u00ff"),
    (
        "regex",
        lambda p: p["frames"][0].update(pattern="\\x02(?P<weight>[0-9"),
        "not a valid regular",
    ),
    ("no frames", lambda p: p.pop("frames"), "[[frames]] missing"),
    ("timing", lambda p: p["timing"].update(poll_interval=0), "timing.poll_interval must be"),
    ("no end", lambda p: p["reply"].pop("end"), "reply.end missing"),
    ("unit", lambda p: p["reply"].update(unit="lb"), "reply.unit 'lb' is not in [units]"),
    (
        "bit",
        lambda p: p["status"][0]["bits"].update(motion=8),
        "bits.motion must be a bit position",
    ),
    ("cond", lambda p: p["status"][0]["bits"].update(wet=6), "unknown condition 'wet'"),
    (
        "group",
        lambda p: p["status"][0].update(group="flags"),
        "no frame pattern has a named group 'flags'",
    ),
    (
        "no weight group",
        lambda p: p["frames"][0].update(pattern="\\x02(?P<value>\\d{2}\\.\\d{3})\\r"),
        "no frame pattern has a named group 'weight'",
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [(c, e) for _, c, e in BROKEN], ids=[i for i, _, _ in BROKEN]
)
def test_broken_profile_names_its_problem(
    change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    problems = broken(change)
    assert any(expected in problem for problem in problems), problems


def test_a_scale_without_status_needs_a_stability_rule() -> None:
    problems = broken(lambda p: p.pop("stability"), "adam")
    assert problems == ["the profile decodes no motion status: set stability.equal_readings >= 2"]


def test_a_unit_group_needs_a_value_group() -> None:
    def change(p: dict[str, Any]) -> None:
        p["frames"].append({"pattern": "(?P<unit>kg)\\r\\n"})

    assert any("unit group but no weight or tare group" in x for x in broken(change, "adam"))


def test_a_block_check_must_be_complete() -> None:
    problems = broken(lambda p: p["frames"][0]["checksum"].pop("at"), "cas_pd2")
    assert any("checksum needs kind 'xor'" in x for x in problems)


def test_every_problem_is_listed_at_once() -> None:
    def change(p: dict[str, Any]) -> None:
        p.pop("model")
        p["serial"]["baudrate"] = 1
        p["frames"][0]["pattern"] = "("

    assert len(broken(change)) >= 3


def test_a_broken_profile_cannot_make_a_driver() -> None:
    profile = load_profile("scale", "toledo8217")
    profile["frames"][0]["pattern"] = "("
    with pytest.raises(ProfileError, match="not a valid regular expression"):
        scale.create("scale-01", {"port": "loop://"}, profile, {})


def test_create_needs_a_port_and_opens_nothing() -> None:
    profile = load_profile("scale", "toledo8217")
    with pytest.raises(DriverError, match="names no port"):
        scale.create("scale-01", {}, profile, {})
    driver = scale.create("scale-01", {"port": "/dev/does-not-exist"}, profile, {})
    assert isinstance(driver, ScaleDriver)
    assert driver.family == "scale"
    assert driver.describe() == {"model": "Mettler Toledo 8217", "fw": ""}
