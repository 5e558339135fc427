"""The `edge` command: init, config check, ledger verify/rebuild/backup/export."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import main
from edge.ledger.ledger import Ledger
from edge.ledger.lock import acquire_writer_lock
from tests.conftest import raw

CONFIG = """
[store]
id = "SH-0042"
name = "静安店"

[paths]
data_dir = "data"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def add_events(path: Path, count: int) -> None:
    async def go() -> None:
        ledger = Ledger(path)
        await ledger.start()
        for i in range(count):
            await ledger.submit(lambda tx, i=i: tx.append("test.note", {"n": i, "text": "备注"}))
        await ledger.stop()

    asyncio.run(go())


def test_console_script_is_installed() -> None:
    edge = Path(sys.executable).parent / "edge"
    done = subprocess.run([edge, "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("store-edge ")


def test_init_is_idempotent_and_creates_the_data_dir(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "init", "--config", str(config))
    assert code == 0
    assert "created (head seq 1)" in out
    assert (config.parent / "data" / "ledger.db").is_file()
    code, out = run(capsys, "init", "--config", str(config))
    assert (code, "already initialized" in out) == (0, True)


def test_init_refuses_another_stores_ledger(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "init", "--config", str(config))
    other = tmp_path / "other.toml"
    other.write_text(CONFIG.replace("SH-0042", "BJ-0001"), encoding="utf-8")
    assert main(["init", "--config", str(other)]) == 1
    assert "ledger of store SH-0042" in capsys.readouterr().err


def test_config_check_names_every_bad_field(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "config", "check", "--config", str(config))
    assert code == 0
    assert "SH-0042" in out
    assert "hq_key=missing" in out
    bad = tmp_path / "bad.toml"
    bad.write_text('[store]\nid = ""\ncurrency = 5\n[http]\nport = 70000\n', encoding="utf-8")
    code, out = run(capsys, "config", "check", "--config", str(bad))
    assert code == 1
    for field in ("store.id", "store.currency", "http.port"):
        assert f"  {field}: " in out


def test_config_check_flags_an_hq_url_without_its_key(
    tmp_path: Path,
    config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    linked = tmp_path / "linked.toml"
    linked.write_text(
        config.read_text(encoding="utf-8") + '\n[hq]\nurl = "https://hq.example.com"\n',
        encoding="utf-8",
    )
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    code, out = run(capsys, "config", "check", "--config", str(linked))
    assert code == 1
    assert "hq.url is set but the hq-key credential is missing" in out
    (credentials / "hq-key").write_text("a-store-key-that-is-long-enough\n", encoding="utf-8")
    code, out = run(capsys, "config", "check", "--config", str(linked))
    assert code == 0, out
    assert "https://hq.example.com (catalog every 300 s)" in out


def test_verify_ok_then_tampered(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "init", "--config", str(config))
    db = config.parent / "data" / "ledger.db"
    add_events(db, 9)
    code, out = run(capsys, "ledger", "verify", "--db", str(db))
    assert code == 0
    assert "head seq 10" in out
    head_hash = out.split("head hash ")[1].strip()
    assert len(head_hash) == 64
    code, out = run(capsys, "ledger", "verify", "--config", str(config))
    assert (code, head_hash in out) == (0, True)
    conn = raw(db)
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute("UPDATE journal SET data = replace(data, '备注', '改了') WHERE seq = 6")
    conn.close()
    code, out = run(capsys, "ledger", "verify", "--db", str(db))
    assert code == 1
    assert "BROKEN at seq 6" in out


def test_rebuild_reports_identical_and_repairs_drift(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "init", "--config", str(config))
    db = config.parent / "data" / "ledger.db"
    code, out = run(capsys, "ledger", "rebuild", "--db", str(db))
    assert code == 0
    assert "identical to before: yes" in out
    conn = raw(db)
    conn.execute("UPDATE store SET name = 'drifted'")
    conn.close()
    _, out = run(capsys, "ledger", "rebuild", "--db", str(db))
    assert "differed from the journal: store" in out
    assert raw(db).execute("SELECT name FROM store").fetchone() == ("静安店",)


def test_backup_uses_a_verified_copy_and_never_overwrites(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "init", "--config", str(config))
    db = config.parent / "data" / "ledger.db"
    add_events(db, 20)
    dest = tmp_path / "backup.db"
    code, out = run(capsys, "ledger", "backup", str(dest), "--db", str(db))
    assert code == 0
    assert "head seq 21 verified" in out
    copy = raw(dest)
    assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert copy.execute("SELECT count(*) FROM journal").fetchone() == (21,)
    assert main(["ledger", "backup", str(dest), "--db", str(db)]) == 1
    assert "exists" in capsys.readouterr().err


def test_nightly_backups_into_a_directory_keep_only_the_newest(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "init", "--config", str(config))
    db = config.parent / "data" / "ledger.db"
    shelf = tmp_path / "backups"
    shelf.mkdir()
    old = [shelf / f"ledger-2026010{day}T033000Z.db" for day in range(1, 4)]
    for path in old:
        path.write_bytes(b"older night")
    by_hand = shelf / "before-upgrade.db"
    by_hand.write_bytes(b"kept")
    code, out = run(capsys, "ledger", "backup", str(shelf), "--keep", "2", "--db", str(db))
    assert code == 0, out
    made = [p for p in shelf.iterdir() if p.name.startswith("ledger-") and p not in old]
    assert len(made) == 1 and raw(made[0]).execute("SELECT count(*) FROM journal").fetchone()
    assert sorted(p.name for p in shelf.iterdir()) == sorted(
        [old[2].name, made[0].name, by_hand.name]
    )
    assert out.count("removed old backup") == 2
    assert main(["ledger", "backup", str(tmp_path / "x.db"), "--keep", "2", "--db", str(db)]) == 1
    with pytest.raises(SystemExit):
        main(["ledger", "backup", str(shelf), "--keep", "0", "--db", str(db)])


def test_export_writes_wire_events_as_json_lines(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "init", "--config", str(config))
    db = config.parent / "data" / "ledger.db"
    add_events(db, 4)
    _, out = run(capsys, "ledger", "export", "--db", str(db))
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert set(events[0]) == {
        "seq",
        "id",
        "type",
        "ts",
        "till",
        "staff",
        "data",
        "prev_hash",
        "hash",
    }
    assert events[2]["prev_hash"] == events[1]["hash"]
    out_file = tmp_path / "part.jsonl"
    code, _ = run(
        capsys, "ledger", "export", "--db", str(db), "--from", "3", "--out", str(out_file)
    )
    assert code == 0
    assert [json.loads(x)["seq"] for x in out_file.read_text("utf-8").splitlines()] == [3, 4, 5]


def test_missing_ledger_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "verify", "--db", str(tmp_path / "none.db")]) == 1
    assert "no ledger at" in capsys.readouterr().err


def test_bench_ledger_json_reports_figures_baseline_and_ratio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "bench", "ledger", "--json", "--seconds", "0.1", "--dir", str(tmp_path))
    assert code == 0
    report = json.loads(out)
    assert [r["concurrency"] for r in report["results"]] == [1, 16, 64]
    for r in report["results"]:
        assert r["writer_commits_per_s"] > 0
        assert r["baseline_commits_per_s"] > 0
        # the ratio is rounded to three places, the rates to one: allow both roundings
        assert r["ratio"] == pytest.approx(
            r["writer_commits_per_s"] / r["baseline_commits_per_s"], rel=0.01, abs=0.0006
        )
    assert report["results"][2]["mean_group_size"] > 1
    assert "met" in report["target"]
    assert list(tmp_path.iterdir()) == []


async def test_offline_writes_refuse_a_ledger_a_server_is_writing(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await asyncio.to_thread(main, ["init", "--config", str(config)]) == 0
    db = config.parent / "data" / "ledger.db"
    running = Ledger(db)
    await running.start()
    try:
        assert await asyncio.to_thread(main, ["ledger", "rebuild", "--db", str(db)]) == 1
        assert "being written by another process" in capsys.readouterr().err
        assert await asyncio.to_thread(main, ["ledger", "verify", "--db", str(db)]) == 0
    finally:
        await running.stop()


def test_catalog_import_from_csv_reports_bad_rows(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "init", "--config", str(config))
    csv_file = tmp_path / "products.csv"
    csv_file.write_text(
        "\ufeffid,name_zh,name_en,list_price,barcodes\n"
        "MILK,牛奶,Milk,6.50,6901234567892\n"
        "BAD,坏,Bad,6.505,\n",
        encoding="utf-8",
    )
    code, out = run(capsys, "catalog", "import", str(csv_file), "--config", str(config))
    assert code == 1
    assert "1 created, 0 updated, 0 unchanged, 1 row(s) rejected" in out
    assert "row 3: list_price: '6.505' has more than 2 decimals" in out
    code, out = run(capsys, "ledger", "verify", "--config", str(config))
    assert (code, "head seq 2" in out) == (0, True)


async def test_restore_drill_backup_corrupt_restore_verify_write(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await asyncio.to_thread(main, ["init", "--config", str(config)]) == 0
    db = config.parent / "data" / "ledger.db"
    await asyncio.to_thread(add_events, db, 30)
    dest = tmp_path / "nightly.db"
    assert await asyncio.to_thread(main, ["ledger", "backup", str(dest), "--db", str(db)]) == 0
    await asyncio.to_thread(add_events, db, 5)
    # the live file is damaged: garbage over its pages
    with db.open("r+b") as damaged:
        damaged.seek(4096)
        damaged.write(b"\xde\xad" * 4096)
    capsys.readouterr()
    # a process still holding the writer lock (a server that did not stop) blocks the restore
    held = acquire_writer_lock(db)
    try:
        assert await asyncio.to_thread(main, ["ledger", "restore", str(dest), "--db", str(db)]) == 1
    finally:
        held.close()
    assert "being written by another process" in capsys.readouterr().err
    code = await asyncio.to_thread(main, ["ledger", "restore", str(dest), "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "head seq 31 verified" in out
    assert "replaced ledger is kept as" in out
    assert list(db.parent.glob("ledger.db.replaced-*"))
    assert await asyncio.to_thread(main, ["ledger", "verify", "--db", str(db)]) == 0
    ledger = Ledger(db)
    await ledger.start()
    try:
        event = await ledger.submit(lambda tx: tx.append("test.note", {"after": "restore"}))
        assert event.seq == 32
        assert (await ledger.verify()).ok
    finally:
        await ledger.stop()


def test_restore_refuses_a_broken_backup(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "init", "--config", str(config))
    db = config.parent / "data" / "ledger.db"
    add_events(db, 3)
    dest = tmp_path / "b.db"
    run(capsys, "ledger", "backup", str(dest), "--db", str(db))
    conn = raw(dest)
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute("UPDATE journal SET staff = 'E666' WHERE seq = 2")
    conn.close()
    code, out = run(capsys, "ledger", "restore", str(dest), "--db", str(db))
    assert code == 1
    assert "broken at seq 2" in out
    assert run(capsys, "ledger", "verify", "--db", str(db))[0] == 0


def test_staff_set_and_token_create_bootstrap_a_store(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io  # noqa: PLC0415

    assert run(capsys, "init", "--config", str(config))[0] == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("2580\n"))
    code, out = run(
        capsys, "staff", "set", "M01", "--name", "店长", "--role", "manager", "--pin-stdin",
        "--config", str(config),
    )  # fmt: skip
    assert (code, out.strip()) == (0, "staff M01 (manager): created")
    monkeypatch.setattr(sys, "stdin", io.StringIO("1111\n"))
    code, out = run(
        capsys, "staff", "set", "M02", "--name", "x", "--role", "manager", "--pin-stdin",
        "--config", str(config),
    )  # fmt: skip
    assert (code, out.strip()) == (1, "refused: that PIN is too easy to guess")
    code, out = run(
        capsys, "token", "create", "hq", "--role", "technician", "--config", str(config)
    )
    assert code == 0 and out.startswith("edge_") and len(out.strip()) > 40
    conn = raw(config.parent / "data" / "ledger.db")
    types = [r[0] for r in conn.execute("SELECT type FROM journal ORDER BY seq")]
    assert types[-3:] == ["staff.saved", "staff.pin_set", "token.created"]
    code, out = run(capsys, "till", "code", "T01", "--config", str(config))
    assert code == 0 and "till T01, valid until" in out
    assert out.strip() not in str(list(conn.execute("SELECT data FROM journal")))
