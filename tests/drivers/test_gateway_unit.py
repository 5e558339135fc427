"""The gateway's pieces without a broker: its command memory and its config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.done import DoneLog
from drivers.gateway import GatewayConfigError, load_config


def test_done_log_remembers_results_and_reports_interrupted_commands(tmp_path: Path) -> None:
    log = DoneLog(tmp_path / "state" / "commands.jsonl", keep=3)
    log.load()
    log.started("a")
    log.finished("a", {"ok": True, "bytes": 10})
    log.started("b")  # the gateway dies here, mid-print
    with (tmp_path / "state" / "commands.jsonl").open("a") as handle:
        handle.write('{"id": "c", "res')  # a torn last line
    again = DoneLog(tmp_path / "state" / "commands.jsonl", keep=3)
    again.load()
    assert again.get("a") == {"ok": True, "bytes": 10}
    assert again.get("b") == {"ok": False, "error": "interrupted"}
    assert again.get("c") is None
    for name in "defg":
        again.started(name)
        again.finished(name, {"ok": True})
    assert again.get("a") is None and again.get("g") == {"ok": True}  # only the latest kept
    third = DoneLog(tmp_path / "state" / "commands.jsonl", keep=3)
    third.load()
    assert [third.get(n) is not None for n in "defg"] == [False, True, True, True]


def test_gateway_config_is_checked(tmp_path: Path) -> None:
    password = tmp_path / "pw"
    password.write_text("secret\n")
    good = tmp_path / "gw.toml"
    good.write_text(
        f'[gateway]\nid = "gw-01"\nstore = "S1"\nport = 1884\npassword_file = "{password}"\n'
        '[[device]]\nid = "printer-01"\ntype = "printer"\nprofile = "generic_58mm"\n'
        'host = "127.0.0.1:9100"\n'
    )
    config = load_config(good, env={})
    assert (config.id, config.port, config.password) == ("gw-01", 1884, "secret")
    assert config.devices[0]["id"] == "printer-01"
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[gateway]\nid = "gw 01"\nstore = "S1"\n'
        '[[device]]\nid = "a"\ntype = "toaster"\n[[device]]\nid = "a"\ntype = "scale"\n'
    )
    with pytest.raises(GatewayConfigError) as problems:
        load_config(bad, env={"EDGE_GATEWAY_PASSWORD": "x"})
    text = str(problems.value)
    assert "gateway.id" in text and "device[0].type" in text and "listed twice" in text
    nopass = tmp_path / "nopass.toml"
    nopass.write_text('[gateway]\nid = "gw-01"\nstore = "S1"\n')
    with pytest.raises(GatewayConfigError, match="no broker password"):
        load_config(nopass, env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[gateway\n")
    with pytest.raises(GatewayConfigError):
        load_config(broken, env={})
