"""Settings: TOML, environment overrides, secrets, and every invalid field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.settings import SettingsError, load_settings, render_toml, settings_from_mapping

GOOD = """
[store]
id = "SH-0042"
name = "静安店"
currency = "CNY"
timezone = "Asia/Shanghai"

[paths]
data_dir = "data"

[http]
port = 9000
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_with_defaults_and_relative_data_dir(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD), env={})
    assert settings.store.id == "SH-0042"
    assert settings.store.name == "静安店"
    assert settings.http.port == 9000
    assert settings.http.host == "0.0.0.0"
    assert settings.paths.data_dir == tmp_path / "data"
    assert settings.ledger_path == tmp_path / "data" / "ledger.db"
    assert settings.ledger.max_group == 512


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    env = {"EDGE_HTTP_PORT": "9100", "EDGE_STORE_NAME": "Override", "EDGE_LEDGER_MAX_GROUP": "64"}
    settings = load_settings(write(tmp_path, GOOD), env=env)
    assert (settings.http.port, settings.store.name, settings.ledger.max_group) == (
        9100,
        "Override",
        64,
    )


def test_every_invalid_field_is_reported_by_name(tmp_path: Path) -> None:
    text = """
[store]
id = "bad id!"
currency = "yuan"
timezone = "Mars/Olympus"
locale = "fr"
colour = "red"

[http]
port = "eighty"

[ledger]
max_group = 0

[cache]
size = 1
"""
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path, text), env={"EDGE_LEDGER_READERS": "many"})
    fields = sorted(e.field for e in caught.value.errors)
    assert fields == [
        "cache",
        "http.port",
        "ledger.max_group",
        "ledger.readers",
        "store.colour",
        "store.currency",
        "store.id",
        "store.locale",
        "store.timezone",
    ]
    messages = {e.field: e.message for e in caught.value.errors}
    assert "unknown field" in messages["store.colour"]
    assert "integer" in messages["http.port"]
    assert "Mars/Olympus" in messages["store.timezone"]


def test_missing_store_id_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"store\.id: is required"):
        load_settings(write(tmp_path, "[http]\nport = 80\n"), env={})
    with pytest.raises(SettingsError, match="config"):
        load_settings(write(tmp_path, "[store\nid="), env={})
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", env={})


def test_secrets_come_from_the_credentials_directory(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "hq-key").write_text("  s3cret-key\n", encoding="utf-8")
    (creds / "pin-pepper").write_text("pepper", encoding="utf-8")
    settings = load_settings(write(tmp_path, GOOD), env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert settings.secrets.hq_key == "s3cret-key"
    assert settings.secrets.present() == {
        "hq_key": True,
        "pin_pepper": True,
        "broker_password": False,
    }
    assert "s3cret" not in repr(settings)


def test_render_round_trips(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD), env={})
    again = settings_from_mapping(__import__("tomllib").loads(render_toml(settings)), env={})
    assert again.store == settings.store
    assert again.http == settings.http
    assert again.paths.data_dir == settings.paths.data_dir


def test_variable_measure_layouts_from_toml(tmp_path: Path) -> None:
    text = (
        GOOD
        + """
[[barcodes.variable_measure]]
prefix = "23"
measure = "weight"
item_digits = 4
value_digits = 5
decimals = 3
has_verifier = true
"""
    )
    rules = load_settings(write(tmp_path, text), env={}).barcodes.variable_measure
    assert [(r.prefix, r.measure, r.value_digits) for r in rules] == [("23", "weight", 5)]
    defaults = load_settings(write(tmp_path, GOOD), env={}).barcodes.variable_measure
    assert {r.prefix for r in defaults} == {"20", "28"}


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        (
            (
                '{prefix = "19", measure = "price", item_digits = 5, value_digits = 5,'
                " decimals = 2, has_verifier = false}"
            ),
            "prefix",
        ),
        (
            (
                '{prefix = "20", measure = "price", item_digits = 4, value_digits = 5,'
                " decimals = 2, has_verifier = false}"
            ),
            "must be 13",
        ),
        ('{prefix = "20", measure = "price"}', "exactly the keys"),
    ],
)
def test_bad_variable_measure_layout_is_named(tmp_path: Path, table: str, problem: str) -> None:
    text = GOOD + f"\n[barcodes]\nvariable_measure = [{table}]\n"
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path, text), env={})
    assert [e.field for e in caught.value.errors] == ["barcodes.variable_measure"]
    assert problem in caught.value.errors[0].message
