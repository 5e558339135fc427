"""`edge devices …` on a stopped server: records in the ledger, logins in the broker document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.cli import main
from edge.domain.devices import password_matches

CONFIG = """
[store]
id = "SH-0042"
name = "静安店"

[paths]
data_dir = "data"
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_devices_add_list_bind_rotate_rm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(CONFIG, encoding="utf-8")
    assert run(capsys, "init", "--config", str(config))[0] == 0
    code, out = run(capsys, "devices", "add", "--id", "scale-01", "--type", "scale",
                    "--till", "T01", "--config", str(config))  # fmt: skip
    assert code == 0, out
    password = out.split("password ")[1].split()[0]
    mqtt = tmp_path / "data" / "mqtt"
    line = next(x for x in (mqtt / "passwd").read_text().splitlines() if x.startswith("scale-01:"))
    assert password_matches(line, password)
    document = json.loads((mqtt / "dynamic-security.json").read_text())
    assert [c["username"] for c in document["clients"]] == ["scale-01"]
    assert document["defaultACLAccess"]["subscribe"] is False
    assert password not in (mqtt / "dynamic-security.json").read_text()

    again = run(capsys, "devices", "add", "--id", "scale-01", "--type", "scale",
                "--config", str(config))  # fmt: skip
    assert again[0] == 1 and "exists already" in again[1]
    bad = run(
        capsys, "devices", "add", "--id", "bad id!", "--type", "scale", "--config", str(config)
    )
    assert bad[0] == 1 and "refused" in bad[1]

    assert (
        run(capsys, "devices", "bind", "scale-01", "--till", "K01", "--config", str(config))[0] == 0
    )
    code, out = run(capsys, "devices", "list", "--json", "--config", str(config))
    assert [(d["id"], d["till"]) for d in json.loads(out)] == [("scale-01", "K01")]

    code, out = run(capsys, "devices", "rotate", "scale-01", "--config", str(config))
    new_password = out.split("new password ")[1].split()[0]
    line = next(x for x in (mqtt / "passwd").read_text().splitlines() if x.startswith("scale-01:"))
    assert password_matches(line, new_password) and not password_matches(line, password)

    assert run(capsys, "devices", "rm", "scale-01", "--config", str(config))[0] == 0
    document = json.loads((mqtt / "dynamic-security.json").read_text())
    assert document["clients"] == []
    assert "scale-01" not in (mqtt / "passwd").read_text()
    assert json.loads(run(capsys, "devices", "list", "--json", "--config", str(config))[1]) == []
