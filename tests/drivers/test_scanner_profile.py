"""Scanner profiles and device configs: check_profile names every problem, create does no I/O."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import DeviceError, ProfileError, load_profile
from drivers.families import check_all_profiles, family
from drivers.scanner import ScannerDriver, UsbReportLink, check_profile, create, load_settings
from drivers.transports import SerialTransport

SHIPPED = ("serial_cr", "serial_crlf_115200", "hid_pos", "usb_keyboard")


def profile(name: str) -> dict[str, Any]:
    return copy.deepcopy(load_profile("scanner", name))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profiles_are_usable(name: str) -> None:
    assert check_profile(profile(name)) == []


def test_edge_config_check_finds_the_family_and_every_scanner_profile() -> None:
    assert family("scanner").check_profile is check_profile
    report = check_all_profiles()
    scanners = {key: value for key, value in report.items() if key.startswith("scanners/")}
    assert sorted(scanners) == sorted(f"scanners/{name}.toml" for name in SHIPPED)
    assert all(problems == [] for problems in scanners.values())


def test_serial_profiles_state_their_line_settings() -> None:
    cr, crlf = load_settings(profile("serial_cr")), load_settings(profile("serial_crlf_115200"))
    assert cr.serial is not None
    assert crlf.serial is not None
    assert (cr.serial["baudrate"], cr.serial["bytesize"], cr.serial["parity"]) == (9600, 8, "N")
    assert cr.serial["stopbits"] == 1
    assert crlf.serial["baudrate"] == 115200
    assert cr.framing is not None
    assert crlf.framing is not None
    assert (cr.framing.suffix, crlf.framing.suffix) == (b"\r", b"\r\n")


def test_usb_profiles_hold_their_protocol_as_data() -> None:
    hid = load_settings(profile("hid_pos"))
    assert hid.hid_pos is not None
    assert hid.usb is not None
    assert (hid.hid_pos.report_id, hid.hid_pos.data_offset, hid.usb.report_size) == (2, 5, 64)
    assert hid.usb.mode_switch == b""
    wedge = load_settings(profile("usb_keyboard"))
    assert wedge.keyboard is not None
    assert wedge.usb is not None
    assert wedge.usb.detach_kernel_driver
    assert wedge.keyboard.shift_mask == 0x22
    assert 0x28 in wedge.keyboard.end_keys
    assert wedge.keyboard.keys[0x04] == ("a", "A")
    assert wedge.keyboard.keys[0x27] == ("0", ")")


def test_every_problem_is_named() -> None:
    broken = profile("serial_cr")
    broken["serial"]["baudrate"] = 9601
    broken["framing"]["suffix"] = ""
    broken["framing"]["timeout_ms"] = 0
    broken["codes"]["min_length"] = 20
    broken["codes"]["max_length"] = 10
    broken["codes"]["encoding"] = "klingon"
    problems = check_profile(broken)
    assert len(problems) == 5
    for fragment in ("baudrate", "suffix", "timeout_ms", "min_length", "encoding"):
        assert any(fragment in problem for problem in problems), fragment
    with pytest.raises(ProfileError, match="baudrate"):
        load_settings(broken)


def test_hid_pos_and_keyboard_problems() -> None:
    hid = profile("hid_pos")
    hid["hid_pos"]["usage_page"] = 0x01
    hid["hid_pos"]["aim_offset"] = 4
    hid["usb"]["mode_switch"] = [0x02, 300]
    hid["usb"]["vendor_id"] = 0x1_0000
    assert len(check_profile(hid)) == 4
    overlapping = profile("hid_pos")
    overlapping["hid_pos"]["length_offset"] = 3
    assert check_profile(overlapping) == [
        "hid_pos.length_offset must lie before the AIM id and the data"
    ]
    wedge = profile("usb_keyboard")
    wedge["keyboard"]["keys"]["0x28"] = ["\n", "\n"]
    wedge["keyboard"]["keys"]["0xZZ"] = ["a", "A"]
    wedge["keyboard"]["keys"]["0x05"] = ["ab", "B"]
    wedge["usb"]["report_size"] = 64
    problems = check_profile(wedge)
    assert len(problems) == 4
    assert any("report_size" in problem for problem in problems)
    assert check_profile({"mode": "bluetooth"})[0].startswith("mode must be")
    assert "[keyboard] table missing" in check_profile({"mode": "keyboard", "usb": {}})


LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 300),
    st.text(max_size=3),
    st.lists(st.integers(-1, 300)),
)
KEYS = st.sampled_from(
    ["suffix", "timeout_ms", "encoding", "max_length", "report_size", "mode_switch", "usage_page",
     "aim_offset", "length_offset", "keys", "end_keys", "baudrate", "parity", "vendor_id"]
)  # fmt: skip
TABLE = st.dictionaries(KEYS, st.one_of(LEAF, st.dictionaries(st.text(max_size=4), LEAF)))
PROFILES = st.fixed_dictionaries(
    {"mode": st.sampled_from(["serial", "hid_pos", "keyboard", "x"])},
    optional={
        name: st.one_of(TABLE, LEAF)
        for name in ("serial", "framing", "codes", "usb", "hid_pos", "keyboard")
    },
)


@settings(max_examples=300)
@given(PROFILES)
def test_check_profile_names_problems_of_any_shape_without_raising(broken: dict[str, Any]) -> None:
    problems = check_profile(broken)
    assert isinstance(problems, list)
    if problems:
        with pytest.raises(ProfileError):
            load_settings(broken)


def test_create_serial_scanner_does_no_io() -> None:
    driver = create("scanner-01", {"port": "/dev/serial/by-id/none"}, profile("serial_cr"), {})
    assert isinstance(driver, ScannerDriver)
    assert isinstance(driver.transport, SerialTransport)
    assert driver.transport.port == "/dev/serial/by-id/none"
    assert driver.family == "scanner"
    assert driver.describe()["mode"] == "serial"
    with pytest.raises(ProfileError, match="port"):
        create("scanner-01", {}, profile("serial_cr"), {})


def test_create_usb_scanner_needs_an_identity() -> None:
    config = {"serial_number": "SN-B", "vendor_id": "0C2E", "product_id": 0x0B61}
    driver = create("scanner-02", config, profile("hid_pos"), {})
    link = driver.transport
    assert isinstance(link, UsbReportLink)
    assert (link.vendor_id, link.product_id, link.serial_number) == (0x0C2E, 0x0B61, "SN-B")
    printer_style = {"usb": {"vid": 0x0C2E, "pid": 0x0B61, "path": "1-1.4"}}
    link = create("scanner-03", printer_style, profile("usb_keyboard"), {}).transport
    assert isinstance(link, UsbReportLink)
    assert (link.serial_number, link.path) == (None, "1-1.4")
    with pytest.raises(ProfileError, match="enumeration order"):
        create("scanner-04", {"vendor_id": 0x0C2E, "product_id": 1}, profile("hid_pos"), {})
    with pytest.raises(ProfileError, match="vendor_id"):
        create("scanner-05", {"serial_number": "SN-B"}, profile("hid_pos"), {})


def test_create_checks_the_profile_and_the_reconnect_delays() -> None:
    broken = profile("serial_cr")
    del broken["framing"]
    with pytest.raises(ProfileError, match="framing"):
        create("scanner-01", {"port": "/dev/null"}, broken, {})
    config = {"port": "/dev/null", "reconnect_s": [0.1, 2]}
    assert create("scanner-01", config, profile("serial_cr"), {}).backoff == (0.1, 2.0)
    with pytest.raises(ProfileError, match="reconnect_s"):
        create("scanner-01", {"port": "/dev/null", "reconnect_s": [5, 1]}, profile("serial_cr"), {})


async def test_a_scanner_takes_no_command() -> None:
    driver = create("scanner-01", {"port": "/dev/null"}, profile("serial_cr"), {})
    with pytest.raises(DeviceError) as caught:
        await driver.command("tare", {})
    assert caught.value.code == "unsupported"
