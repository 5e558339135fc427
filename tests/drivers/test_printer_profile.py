"""Printer, drawer and display profiles: the shipped ones pass, broken ones say what is wrong."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from drivers import display, drawer, printer
from drivers.base import PROFILE_ROOT, ProfileError, load_profile
from drivers.printer.profile import load_settings
from drivers.printer.status import decode, is_status_byte

Profile = dict[str, Any]


def epson() -> Profile:
    """Return a fresh copy of the shipped Epson profile."""
    return copy.deepcopy(load_profile("printer", "epson_tm_t88v"))


def test_every_shipped_printer_and_display_profile_is_usable() -> None:
    names = sorted(path.stem for path in (PROFILE_ROOT / "printers").glob("*.toml"))
    assert {"epson_tm_t88v", "generic_58mm"} <= set(names)
    for name in names:
        assert printer.check_profile(load_profile("printer", name)) == [], name
    for path in sorted((PROFILE_ROOT / "displays").glob("*.toml")):
        assert display.check_profile(load_profile("display", path.stem)) == [], path.name
    assert drawer.check_profile({}) == []


def test_the_shipped_profiles_say_what_the_brief_asks() -> None:
    tm = load_settings(load_profile("printer", "epson_tm_t88v"))
    small = load_settings(load_profile("printer", "generic_58mm"))
    assert (tm.columns, small.columns) == (42, 32)
    assert tm.charset.codec == small.charset.codec == "gb18030"
    assert tm.charset.kanji_mode and not small.charset.kanji_mode
    assert tm.cut == b"\x1d\x56\x00" and tm.pins == (2, 5)
    assert tm.escpos_profile == "TM-T88V" and tm.tcp_port == 9100
    assert tm.status is not None and tm.status.paper_request == b"\x10\x04\x04"
    pole = display.check_profile(load_profile("display", "pole_2x20"))
    assert pole == []


BROKEN: list[tuple[str, Callable[[Profile], None], str]] = [
    ("columns", lambda p: p["paper"].update(columns=48), "does not match paper.dots"),
    ("dots", lambda p: p["paper"].update(dots=600), "paper.dots"),
    ("width", lambda p: p["paper"].update(width_mm=76), "58 or 80"),
    ("paper", lambda p: p.pop("paper"), "[paper] table missing"),
    ("escpos", lambda p: p.update(escpos_profile="TM-X9"), "unknown to python-escpos"),
    ("encoding", lambda p: p["text"].update(encoding="klingon"), "not a known encoding"),
    ("code page", lambda p: p["text"].update(encoding="cp949x"), "not a known encoding"),
    ("not on printer", lambda p: p["text"].update(encoding="cp1006"), "not a code page"),
    ("cut", lambda p: p["paper"].update(cut="GS V 0"), "hex bytes"),
    ("pins", lambda p: p["drawer"].update(pins=[3]), "drawer.pins"),
    ("default pin", lambda p: p["drawer"].update(pins=[5], default_pin=2), "default_pin"),
    ("pulse", lambda p: p["drawer"].update(pulse_on_ms=2000), "pulse_on_ms"),
    ("serial", lambda p: p["serial"].update(baudrate=12345, parity="X"), "baudrate"),
    ("status bits", lambda p: p["status"].update(fixed_value=0x100), "fixed_value"),
    ("status mask", lambda p: p["status"].update(fixed_mask=0x03), "outside"),
    ("poll", lambda p: p["status"].update(poll_seconds=0), "poll_seconds"),
    ("qr", lambda p: p["qr"].update(mode="laser"), "qr.mode"),
    ("image", lambda p: p["images"].update(impl="ascii"), "images.impl"),
    ("model", lambda p: p.pop("model"), "model is required"),
]


@pytest.mark.parametrize(
    ("change", "problem"), [(c, p) for _, c, p in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_a_broken_printer_profile_is_reported(
    change: Callable[[Profile], None], problem: str
) -> None:
    profile = epson()
    change(profile)
    problems = printer.check_profile(profile)
    assert any(problem in text for text in problems), problems
    with pytest.raises(ProfileError):
        printer.create("p1", {"host": "127.0.0.1"}, profile, {})


def test_every_problem_is_listed_not_only_the_first() -> None:
    profile = epson()
    profile["paper"]["columns"] = 40
    profile["drawer"]["pins"] = [7]
    profile["text"]["encoding"] = "nope"
    assert len(printer.check_profile(profile)) >= 3


def test_broken_display_profiles_are_reported() -> None:
    pole = load_profile("display", "pole_2x20")
    rows = copy.deepcopy(pole)
    rows["commands"]["row_start"] = ["1F 24 01 01"]
    assert any("row_start" in p for p in display.check_profile(rows))
    wide = copy.deepcopy(pole)
    wide["columns"] = 99
    assert any("columns" in p for p in display.check_profile(wide))
    bad_hex = copy.deepcopy(pole)
    bad_hex["commands"]["clear"] = "CLR"
    assert any("clear" in p for p in display.check_profile(bad_hex))
    assert drawer.check_profile({"pin": 3}) == ["pin must be 2 or 5"]


@pytest.mark.parametrize(
    ("paper", "state"), [(0x12, "ok"), (0x1E, "near_end"), (0x72, "out"), (0x7E, "out")]
)
def test_paper_status_bytes_decode_per_the_manual(paper: int, state: str) -> None:
    settings = load_settings(epson()).status
    assert settings is not None
    assert is_status_byte(paper, settings)
    assert decode(paper, 0x12, settings).paper == state


def test_offline_cause_bits_are_read_one_by_one() -> None:
    settings = load_settings(epson()).status
    assert settings is not None
    assert decode(0x12, 0x12, settings).condition is None
    assert decode(0x12, 0x16, settings).condition == "cover_open"
    assert decode(0x12, 0x52, settings).condition == "offline"
    assert decode(0x12, 0x1A, settings).condition is None  # paper fed by the button: fine
    assert decode(0x12, 0x32, settings).condition is None  # paper end stop: told by the paper
    for noise in (0x00, 0xFF, 0x13, 0x92, ord("A")):
        assert not is_status_byte(noise, settings)


def test_create_needs_a_link_and_does_no_io() -> None:
    profile = epson()
    with pytest.raises(ProfileError, match="host, port or usb"):
        printer.create("p1", {"id": "p1"}, profile, {})
    no_serial = copy.deepcopy(profile)
    no_serial.pop("serial")
    with pytest.raises(ProfileError, match="serial"):
        printer.create("p1", {"port": "/dev/serial/by-id/x"}, no_serial, {})
    with pytest.raises(ProfileError, match=r"usb\.vid"):
        printer.create("p1", {"usb": {"vid": "zz"}}, profile, {})
    # nothing listens on these: create must not try
    printer.create("p1", {"host": "127.0.0.1:9"}, profile, {})
    printer.create("p1", {"port": "/dev/serial/by-id/none"}, profile, {})
    printer.create("p1", {"usb": {"serial": "X1"}}, profile, {})
