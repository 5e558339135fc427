"""USB scanner report fixtures (tests/drivers/fixtures/scanners/*.hex) through the decoders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drivers.base import load_profile
from drivers.scanner import Rejected, Scan, accept, load_settings, make_decoder

FIXTURES = Path(__file__).parent / "fixtures" / "scanners"
EXPECTED: dict[str, dict[str, Any]] = json.loads((FIXTURES / "expected.json").read_text("utf-8"))
PROFILES = {"hid_pos": "hid_pos", "keyboard": "usb_keyboard"}


def read_reports(name: str) -> list[bytes]:
    """Return the reports of a hex fixture: one per line, `#` starts a comment."""
    lines = (FIXTURES / name).read_text("utf-8").splitlines()
    return [bytes.fromhex(line) for line in lines if line.strip() and not line.startswith("#")]


def replay(name: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Decode a fixture 5 ms per report, then let every timeout pass."""
    settings = load_settings(load_profile("scanner", PROFILES[EXPECTED[name]["mode"]]))
    decoder = make_decoder(settings)
    outcomes = [
        item
        for i, report in enumerate(read_reports(name))
        for item in decoder.feed(report, i / 200)
    ]
    outcomes += decoder.expire(1000.0)
    scans: list[tuple[str, str]] = []
    rejected: list[str] = []
    for outcome in outcomes:
        result = outcome if isinstance(outcome, Rejected) else accept(outcome, settings.rules)
        if isinstance(result, Scan):
            scans.append((result.code, result.symbology))
        else:
            rejected.append(result.reason)
    return scans, rejected


def test_every_fixture_has_expectations() -> None:
    assert sorted(path.name for path in FIXTURES.glob("*.hex")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_decodes_as_expected(name: str) -> None:
    scans, rejected = replay(name)
    assert scans == [tuple(pair) for pair in EXPECTED[name]["scans"]]
    assert rejected == EXPECTED[name]["rejected"]


def test_hid_pos_fixture_reports_have_the_real_layout() -> None:
    reports = read_reports("hid_pos_qr_chunks.hex")
    assert all(len(report) == 64 and report[0] == 0x02 for report in reports)
    assert [report[-1] for report in reports] == [1, 1, 0, 0]
    assert [report[2:5] for report in reports] == [b"]Q1", b"]Q1", b"]Q1", b"]d1"]


def test_keyboard_fixture_reports_are_boot_reports() -> None:
    for name in ("keyboard_ean13.hex", "keyboard_shifted.hex"):
        reports = read_reports(name)
        assert all(len(report) == 8 and report[1] == 0 for report in reports)
