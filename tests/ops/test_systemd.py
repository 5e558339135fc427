"""The systemd units: `systemd-analyze verify` says nothing, edge.service is hardened and says why.

The units name the production venv (/opt/store-edge/venv); for the check they are copied with
ExecStart pointing at this checkout's `edge`, since verify refuses a missing executable.
`systemd-analyze verify` exits 0 on mere warnings, so any output fails the test.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "systemd"
EDGE = Path(sys.executable).parent / "edge"
ANALYZE = shutil.which("systemd-analyze") or "systemd-analyze"  # Debian's systemd package


def staged(tmp_path: Path) -> Path:
    """Copy the units with ExecStart at this checkout's edge; name a gateway instance."""
    for unit in [*UNITS.glob("*.service"), *UNITS.glob("*.timer")]:
        text = unit.read_text("utf-8").replace("/opt/store-edge/venv/bin/edge", str(EDGE))
        (tmp_path / unit.name).write_text(text, "utf-8")
    shutil.copy(tmp_path / "edge-gateway@.service", tmp_path / "edge-gateway@gw-01.service")
    return tmp_path


@pytest.mark.parametrize(
    "unit",
    ["edge.service", "edge-gateway@gw-01.service", "edge-backup.service", "edge-backup.timer"],
)
def test_units_verify_without_a_word(tmp_path: Path, unit: str) -> None:
    folder = staged(tmp_path)
    done = subprocess.run(
        [str(ANALYZE), "verify", f"./{unit}"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_edge_service_is_hardened(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = staged(tmp_path)
    done = subprocess.run(
        [str(ANALYZE), "security", "--offline=true", "./edge.service"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    score = re.search(r"Overall exposure level for edge\.service: ([\d.]+)", done.stdout)
    assert score is not None, done.stdout + done.stderr
    with capsys.disabled():
        print(f"\nsystemd-analyze security edge.service: {score.group(1)}")
    assert float(score.group(1)) <= 2.0


def test_every_setting_of_edge_service_says_why() -> None:
    lines = (UNITS / "edge.service").read_text("utf-8").splitlines()
    body = lines[lines.index("[Service]") + 1 : lines.index("[Install]")]
    previous = ""
    for line in body:
        if not line.strip():
            previous = ""
            continue
        key = line.split("=", 1)[0]
        if not line.startswith("#"):
            assert previous in ("#", key), f"no comment says why: {line}"
        previous = "#" if line.startswith("#") else key
    assert "Type=notify" in body and "WatchdogSec=30s" in body
