"""The scale protocol engine against reference replies of each protocol, and its properties."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import DeviceError, load_profile
from drivers.scale import Reading, Unreadable, compile_profile, parse_probe, parse_reply
from drivers.scale.engine import Stability, command, to_grams
from drivers.scale.protocol import ScaleProtocol
from drivers.sim.scale import PROTOCOLS, ScaleSimulator

FIXTURES = Path(__file__).parent / "fixtures" / "scales"
WEIGH = {name: compile_profile(load_profile("scale", name)) for name in PROTOCOLS}


def cases() -> list[Any]:
    """Return every reference reply as a pytest param."""
    params = []
    for name in PROTOCOLS:
        with (FIXTURES / f"{name}.toml").open("rb") as handle:
            replies = tomllib.load(handle)["reply"]
        params += [pytest.param(name, c, id=f"{name}: {c['name']}") for c in replies]
    return params


def raw(text: str) -> bytes:
    """Return fixture text as the bytes on the line."""
    return text.encode("latin-1")


def test_every_protocol_has_reference_replies() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.toml")) == sorted(PROTOCOLS)


@pytest.mark.parametrize(("name", "case"), cases())
def test_reference_reply(name: str, case: dict[str, Any]) -> None:
    protocol = WEIGH[name]
    if case.get("unreadable"):
        with pytest.raises(Unreadable) as caught:
            parse_reply(protocol, raw(case["bytes"]))
        assert caught.value.code == "unreadable"
        return
    reading = parse_reply(protocol, raw(case["bytes"]))
    assert reading.grams == case.get("grams")
    assert reading.tare_grams == case.get("tare_grams")
    assert reading.conditions == frozenset(case.get("conditions", []))
    if "net" in case:
        assert reading.net is case["net"]
    if "error" in case:
        assert reading.error == case["error"]


@pytest.mark.parametrize(
    ("byte", "condition"),
    [(0x41, "motion"), (0x42, "overload"), (0x44, "under_zero"), (0x48, "zero_error")],
)
def test_8217_status_bits_each_on_their_own(byte: int, condition: str) -> None:
    reading = parse_reply(WEIGH["toledo8217"], b"\x02?" + bytes([byte]) + b"\r")
    assert reading.errors == (condition,)
    assert reading.grams is None
    # The peer driver's `& 3` would call 0x41 and 0x42 "under zero": each bit stands alone.
    assert ("under_zero" in reading.conditions) == (condition == "under_zero")


def test_8217_every_status_byte_decodes_exactly_its_bits() -> None:
    names = {
        0: "motion",
        1: "overload",
        2: "under_zero",
        3: "zero_error",
        4: "centre_zero",
        5: "net",
    }
    for byte in range(0x40, 0x80):
        reading = parse_reply(WEIGH["toledo8217"], b"\x02?" + bytes([byte]) + b"\r")
        assert reading.conditions == {name for bit, name in names.items() if byte >> bit & 1}


def test_weight_conversion_to_integer_grams() -> None:
    protocol = WEIGH["mtsics"]
    assert to_grams("     1.250", "kg", protocol) == 1250
    assert to_grams("0.0005", "kg", protocol) == 1  # half a gram rounds up
    assert to_grams("  125", "g", protocol) == 125
    with pytest.raises(Unreadable):
        to_grams("1.2.3", "kg", protocol)
    with pytest.raises(Unreadable):
        to_grams("1.250", "oz", protocol)


def test_implied_decimals_apply_to_fields_without_a_point() -> None:
    profile = load_profile("scale", "cas_pd2")
    profile["reply"]["decimals"] = 3
    protocol = compile_profile(profile)
    assert to_grams("001250", "KG", protocol) == 1250
    assert to_grams("01.250", "KG", protocol) == 1250


def test_probe_replies() -> None:
    assert parse_probe(WEIGH["toledo8217"], b"\x02E\rhello") == ""
    assert parse_probe(WEIGH["sma"], b"\nSMA:2/1.0\r") == "SMA:2/1.0"
    assert parse_probe(WEIGH["mtsics"], b'I3 A "1.10 18.6.4"\r\n') == "1.10 18.6.4"
    assert parse_probe(WEIGH["adam"], b"anything") == ""  # no probe in the protocol
    with pytest.raises(Unreadable):
        parse_probe(WEIGH["toledo8217"], b"\x02E\rhell")


def test_commands_a_profile_lacks_are_unsupported() -> None:
    assert command(WEIGH["cas_pd2"], "weigh").handshake == b"\x05"
    for name, verb in (("nci_scp01", "tare"), ("cas_pd2", "zero"), ("cas_pd2", "tare")):
        with pytest.raises(DeviceError) as caught:
            command(WEIGH[name], verb)
        assert caught.value.code == "unsupported"


def test_stability_needs_equal_readings_in_a_row() -> None:
    stability = Stability(3)
    assert [stability.feed(g) for g in (1250, 1250, 1250)] == [False, False, True]
    assert stability.feed(1300) is False
    assert stability.moving
    assert [stability.feed(g) for g in (1300, 1300)] == [False, True]
    assert stability.feed(None) is False
    assert stability.feed(1300) is False


def test_reading_errors_rank_overload_before_motion() -> None:
    reading = Reading(None, frozenset({"motion", "under_zero", "net"}))
    assert reading.errors == ("under_zero", "motion")
    assert reading.error == "under_zero"
    assert Reading(0, frozenset({"centre_zero"})).error is None


# -- properties --------------------------------------------------------------------------------

REQUESTS = {
    "toledo8217": b"W",
    "mtsics": b"SI\r\n",
    "sma": b"\nW\r",
    "nci_scp01": b"W\r",
    "cas_pd2": b"\x05\x11",
    "adam": b"P\r\n",
}


def frame_of(name: str, grams: int) -> bytes:
    """Return the simulator's weight frame for `grams` (without the CAS ACK)."""
    sim = ScaleSimulator(name)
    sim.set_weight(grams)
    return sim.respond(REQUESTS[name]).removeprefix(b"\x06")


def weight_of(protocol: ScaleProtocol, data: bytes) -> int | None:
    """Return the sellable weight a reply yields, None when it yields none."""
    try:
        reading = parse_reply(protocol, data)
    except Unreadable:
        return None
    return reading.grams if reading.error is None else None


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(PROTOCOLS), data=st.binary(max_size=48))
def test_random_bytes_are_rejected_or_form_a_valid_frame(name: str, data: bytes) -> None:
    protocol = WEIGH[name]
    try:
        reading = parse_reply(protocol, data)
    except Unreadable:
        return
    end = data.index(protocol.end) + len(protocol.end)
    frame = data[:end].decode("latin-1")
    assert any(f.pattern.fullmatch(frame) and not f.refused for f in protocol.frames)
    assert reading.grams is None or isinstance(reading.grams, int)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(PROTOCOLS), grams=st.integers(0, 30_000))
def test_simulator_frames_parse_to_their_weight(name: str, grams: int) -> None:
    assert weight_of(WEIGH[name], frame_of(name, grams)) == grams


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(PROTOCOLS), grams=st.integers(1, 30_000), cut=st.integers(1, 40))
def test_half_frames_never_yield_a_weight(name: str, grams: int, cut: int) -> None:
    frame = frame_of(name, grams)
    assert weight_of(WEIGH[name], frame[: max(0, len(frame) - cut)]) is None


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(PROTOCOLS),
    grams=st.integers(1, 30_000),
    noise=st.binary(min_size=1, max_size=8).filter(lambda b: not set(b) & set(b" +-\r\n\x03")),
)
def test_noise_before_a_frame_is_rejected(name: str, grams: int, noise: bytes) -> None:
    assert weight_of(WEIGH[name], noise + frame_of(name, grams)) is None


@settings(max_examples=300, deadline=None)
@given(grams=st.integers(0, 30_000), position=st.integers(2, 11), flip=st.integers(1, 255))
def test_cas_block_check_catches_any_single_byte_error(
    grams: int, position: int, flip: int
) -> None:
    frame = bytearray(frame_of("cas_pd2", grams))
    frame[position] ^= flip
    with pytest.raises(Unreadable):
        parse_reply(WEIGH["cas_pd2"], bytes(frame))
