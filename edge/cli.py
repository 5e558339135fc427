"""`edge …`: the one command. Thin: parse arguments, call a service, print the outcome."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from edge import __version__
from edge.domain.errors import DomainError, InvalidInput
from edge.ledger.errors import LedgerError
from edge.ledger.ledger import Ledger, utc_clock
from edge.ledger.lock import acquire_writer_lock
from edge.ledger.maintenance import (
    backup,
    backup_path,
    export_lines,
    projection_digests,
    prune_backups,
    rebuild_projections,
    restore,
)
from edge.ledger.projections import ProjectionSet
from edge.ledger.projections.registry import DEFAULT_PROJECTORS
from edge.ledger.schema import connect
from edge.ledger.verify import verify_file
from edge.services.catalog import Actor, ImportReport
from edge.settings import DEFAULT_CONFIG, Settings, SettingsError, load_settings

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
T = TypeVar("T")


class Progress:
    """A one-line progress display on stderr (only when stderr is a terminal)."""

    def __init__(self, label: str) -> None:
        """Name what is progressing."""
        self.label = label
        self.live = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        """Redraw the line."""
        if self.live and total:
            width = 30
            filled = width * done // total
            bar = "#" * filled + "-" * (width - filled)
            sys.stderr.write(f"\r{self.label} [{bar}] {done}/{total}")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def _config_path(args: argparse.Namespace) -> Path:
    """Return --config, else $EDGE_CONFIG, else the default path."""
    return Path(args.config) if args.config else DEFAULT_CONFIG


def _settings(args: argparse.Namespace) -> Settings:
    """Load settings from --config (raises SettingsError)."""
    return load_settings(Path(args.config) if args.config else None)


def _db_path(args: argparse.Namespace) -> Path:
    """Return --db, else the ledger named by the configuration."""
    if args.db:
        return Path(args.db)
    return _settings(args).ledger_path


def _open_existing(path: Path, *, read_only: bool) -> sqlite3.Connection:
    """Open a ledger file that must exist."""
    if not path.is_file():
        raise FileNotFoundError(f"no ledger at {path}")
    return connect(path, read_only=read_only)


def cmd_config_check(args: argparse.Namespace) -> int:
    """Validate the device profiles and the configuration; report every problem by name."""
    from edge.cli_devices import check_profiles  # noqa: PLC0415 - loads the driver families

    print("device profiles (firmware-config/):")
    profiles_ok = check_profiles()
    if args.profiles:
        return EXIT_OK if profiles_ok else EXIT_FAIL
    path = _config_path(args)
    try:
        settings = load_settings(path if args.config else None)
    except SettingsError as err:
        print(f"{path}: {len(err.errors)} problem(s)")
        for error in err.errors:
            print(f"  {error}")
        return EXIT_FAIL
    print(f"{settings.source}: OK")
    print(f"  store      {settings.store.id} ({settings.store.name})")
    print(f"  ledger     {settings.ledger_path}")
    print(f"  http       {settings.http.host}:{settings.http.port}")
    present = settings.secrets.present()
    print(
        "  secrets    " + ", ".join(f"{k}={'set' if v else 'missing'}" for k, v in present.items())
    )
    hq_ok = _check_hq(settings)
    return EXIT_OK if profiles_ok and hq_ok else EXIT_FAIL


def _check_hq(settings: Settings) -> bool:
    """Print the HQ link's settings; a URL without the key (or not http/https) is a problem."""
    hq = settings.hq
    if not hq.url:
        print("  hq         off (hq.url not set: the store sells on alone)")
        return True
    catalog = f"every {hq.catalog_interval_s} s" if hq.catalog_interval_s > 0 else "off"
    print(f"  hq         {hq.url} (catalog {catalog})")
    problems = []
    if not hq.url.startswith(("https://", "http://")):
        problems.append("hq.url must start with https:// (or http:// on a trusted network)")
    if not settings.secrets.hq_key:
        problems.append(
            "hq.url is set but the hq-key credential is missing: nothing is forwarded"
            " (put the store's key in $CREDENTIALS_DIRECTORY/hq-key)"
        )
    for problem in problems:
        print(f"  PROBLEM    {problem}")
    return not problems


def cmd_init(args: argparse.Namespace) -> int:
    """Create the data directory and the ledger for the configured store."""
    from edge.services.store import init_store_ledger  # noqa: PLC0415 - keeps `edge --help` fast

    settings = _settings(args)
    created, (seq, hash_) = asyncio.run(init_store_ledger(settings))
    state = "created" if created else "already initialized"
    print(f"store {settings.store.id}: ledger {settings.ledger_path} {state} (head seq {seq})")
    print(f"head hash {hash_}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the store server in the foreground."""
    from edge.server import run_server  # noqa: PLC0415 - keeps `edge --help` fast

    settings = _settings(args)
    asyncio.run(run_server(settings, worker=args.worker))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Run a complete demo store in the foreground."""
    from edge.demo import run_demo  # noqa: PLC0415 - keeps `edge --help` fast

    asyncio.run(run_demo(Path(args.data), args.host, args.port))
    return EXIT_OK


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    """Check the hash chain; exit 1 naming the first bad seq."""
    path = _db_path(args)
    if not path.is_file():
        raise FileNotFoundError(f"no ledger at {path}")
    result = verify_file(path, Progress("verify"))
    if result.ok:
        print(f"OK: {result.events} events, head seq {result.head_seq}")
        print(f"head hash {result.head_hash}")
        return EXIT_OK
    print(f"BROKEN at seq {result.bad_seq}: {result.reason}")
    print(f"last good seq {result.head_seq}, hash {result.head_hash}")
    return EXIT_FAIL


def cmd_ledger_rebuild(args: argparse.Namespace) -> int:
    """Rebuild every projection from the journal and report what changed."""
    projections = ProjectionSet(DEFAULT_PROJECTORS)
    path = _db_path(args)
    lock = acquire_writer_lock(path) if path.is_file() else None
    conn = _open_existing(path, read_only=False)
    try:
        stale = projections.stale(conn)
        before = {} if stale else projection_digests(conn, projections)
        count = rebuild_projections(conn, projections, progress=Progress("rebuild"))
        after = projection_digests(conn, projections)
    finally:
        conn.close()
        if lock is not None:
            lock.close()
    changed = sorted(t for t in after if before.get(t) != after[t])
    print(f"rebuilt {len(projections.projectors)} projection(s) from {count} events")
    if stale:
        print(
            "projections were out of date before the rebuild: " + ", ".join(p.name for p in stale)
        )
    elif changed:
        print("tables that differed from the journal: " + ", ".join(changed))
    else:
        print("identical to before: yes")
    return EXIT_OK


def _positive(text: str) -> int:
    """Parse a whole number of at least 1 (argparse type)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def cmd_ledger_backup(args: argparse.Namespace) -> int:
    """Copy the ledger with SQLite's backup API and verify the copy (then prune old ones)."""
    destination = Path(args.dest)
    directory = destination if destination.is_dir() else None
    if directory is not None:
        destination = backup_path(directory, datetime.now(UTC))
    elif args.keep is not None:
        print("--keep needs DEST to be a directory of backups")
        return EXIT_FAIL
    source = _open_existing(_db_path(args), read_only=False)
    try:
        backup(source, destination, Progress("backup"))
    finally:
        source.close()
    result = verify_file(destination)
    if not result.ok:
        print(f"backup written to {destination} but its chain is broken at seq {result.bad_seq}")
        return EXIT_FAIL
    print(f"backup {destination}: {result.events} events, head seq {result.head_seq} verified")
    print(f"head hash {result.head_hash}")
    if directory is not None and args.keep is not None:
        for old in prune_backups(directory, args.keep):
            print(f"removed old backup {old}")
    return EXIT_OK


def cmd_ledger_restore(args: argparse.Namespace) -> int:
    """Replace the ledger with a verified backup (the server must be stopped)."""
    source = Path(args.backup)
    path = _db_path(args)
    if not source.is_file():
        raise FileNotFoundError(f"no backup at {source}")
    result = verify_file(source)
    if not result.ok:
        print(f"refusing {source}: its chain is broken at seq {result.bad_seq} ({result.reason})")
        return EXIT_FAIL
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = acquire_writer_lock(path)
    try:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = restore(source, path, stamp, Progress("restore"))
    finally:
        lock.close()
    restored = verify_file(path)
    print(f"restored {path} from {source}: head seq {restored.head_seq} verified")
    print(f"head hash {restored.head_hash}")
    if kept is not None:
        print(f"the replaced ledger is kept as {kept} (events after seq {restored.head_seq}")
        print("  that it held are not in the restored ledger; HQ has those it acknowledged)")
    return EXIT_OK if restored.ok else EXIT_FAIL


def cmd_ledger_export(args: argparse.Namespace) -> int:
    """Write events as JSON lines to stdout or --out."""
    conn = _open_existing(_db_path(args), read_only=True)
    try:
        if args.out:
            with Path(args.out).open("w", encoding="utf-8") as out:
                count = export_lines(conn, out, from_seq=args.from_seq, to_seq=args.to_seq)
            print(f"exported {count} events to {args.out}", file=sys.stderr)
        else:
            export_lines(conn, sys.stdout, from_seq=args.from_seq, to_seq=args.to_seq)
    finally:
        conn.close()
    return EXIT_OK


def cmd_catalog_import(args: argparse.Namespace) -> int:
    """Import products from a CSV file into the ledger (the server must not be running)."""
    from edge.services.catalog import import_products, read_product_csv  # noqa: PLC0415

    settings = _settings(args)
    text = Path(args.file).read_text(encoding="utf-8-sig")
    rows, problems = read_product_csv(text)
    if problems:
        print(f"{args.file}: " + "; ".join(problems))
        return EXIT_FAIL

    async def run() -> ImportReport:
        ledger = Ledger(settings.ledger_path, store_id=settings.store.id)
        await ledger.start()
        try:
            return await import_products(ledger, rows, Actor(), Progress("import"))
        finally:
            await ledger.stop()

    report = asyncio.run(run())
    print(
        f"{args.file}: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.rejected_rows} row(s) rejected"
    )
    for row, field, problem in report.errors:
        print(f"  row {row}: {field}: {problem}")
    return EXIT_FAIL if report.errors else EXIT_OK


def _with_auth(args: argparse.Namespace, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(auth)` against the ledger (the server must not be running)."""
    from edge.services.auth import Auth, store_pepper  # noqa: PLC0415

    settings = _settings(args)

    async def run() -> T:
        ledger = Ledger(settings.ledger_path, store_id=settings.store.id)
        await ledger.start()
        try:
            return await work(Auth(ledger, settings.auth, store_pepper(settings), utc_clock))
        finally:
            await ledger.stop()

    return asyncio.run(run())


def _read_pin(args: argparse.Namespace) -> str:
    """Read a PIN from stdin (--pin-stdin) or ask for it twice on the terminal."""
    if args.pin_stdin:
        return sys.stdin.readline().strip()
    first = getpass.getpass("PIN: ")
    if getpass.getpass("PIN again: ") != first:
        raise InvalidInput("the two PINs differ", code="pin_mismatch")
    return first


def cmd_staff_set(args: argparse.Namespace) -> int:
    """Create or update a staff member with a new PIN (the first manager of a store)."""
    from edge.services.auth import StaffInput  # noqa: PLC0415

    try:
        staff = StaffInput(args.id, args.name, args.role)
        pin = _read_pin(args)
        outcome = _with_auth(args, lambda auth: auth.save_staff(staff, pin, Actor()))
    except DomainError as err:
        print(f"refused: {err.message}")
        return EXIT_FAIL
    print(f"staff {args.id} ({args.role}): {outcome}")
    return EXIT_OK


def cmd_token_create(args: argparse.Namespace) -> int:
    """Create (or replace) a named API token and print it once."""
    try:
        token = _with_auth(
            args, lambda auth: auth.create_token(args.name, args.role, args.till, Actor())
        )
    except DomainError as err:
        print(f"refused: {err.message}")
        return EXIT_FAIL
    print(token)
    return EXIT_OK


def cmd_till_code(args: argparse.Namespace) -> int:
    """Make a one-time code that pairs a browser as the given till."""
    try:
        code, expires = _with_auth(
            args, lambda auth: auth.create_pairing(args.till, args.name or args.till, Actor())
        )
    except DomainError as err:
        print(f"refused: {err.message}")
        return EXIT_FAIL
    print(f"{code}   (till {args.till}, valid until {expires})")
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    """Run a benchmark and print its figures, baseline and ratio."""
    from edge.bench import run_benchmark  # noqa: PLC0415 - only benchmarks need it

    report = run_benchmark(args.name, seconds=args.seconds, directory=args.dir, events=args.events)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(report["text"])
    return EXIT_OK


def _add_ledger_source(parser: argparse.ArgumentParser) -> None:
    """Add the --db / --config choice."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--db", help="ledger file")
    group.add_argument("--config", help=f"edge.toml (default {DEFAULT_CONFIG})")


def build_parser() -> argparse.ArgumentParser:
    """Describe every `edge` subcommand."""
    parser = argparse.ArgumentParser(prog="edge", description="store-edge: the store's server")
    parser.add_argument("--version", action="version", version=f"store-edge {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str,
        func: Callable[[argparse.Namespace], int],
        text: str,
        parent: argparse._SubParsersAction[argparse.ArgumentParser] = sub,
    ) -> argparse.ArgumentParser:
        command = parent.add_parser(name, help=text, description=text)
        command.set_defaults(func=func)
        return command

    add("init", cmd_init, "create the data directory and ledger").add_argument("--config")
    serve = add("serve", cmd_serve, "run the store server")
    serve.add_argument("--config")
    serve.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    demo = add("demo", cmd_demo, "run a complete demo store in the foreground")
    demo.add_argument("--data", default=".demo", help="demo data directory (default .demo)")
    demo.add_argument("--port", type=int, default=8080, help="HTTP port (0 picks a free one)")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on")

    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    checker = add("check", cmd_config_check, "validate device profiles and edge.toml", config_sub)
    checker.add_argument("--config")
    checker.add_argument("--profiles", action="store_true", help="only the device profiles")
    from edge.cli_devices import add_device_commands  # noqa: PLC0415

    add_device_commands(sub, add)
    from edge.cli_ops import add_ops_commands  # noqa: PLC0415

    add_ops_commands(sub, add)
    from edge.cli_hq import add_hq_commands  # noqa: PLC0415

    add_hq_commands(sub, add)

    ledger = sub.add_parser("ledger", help="ledger maintenance")
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    _add_ledger_source(add("verify", cmd_ledger_verify, "check the hash chain", ledger_sub))
    _add_ledger_source(
        add("rebuild", cmd_ledger_rebuild, "rebuild projections from the journal", ledger_sub)
    )
    backup_cmd = add(
        "backup", cmd_ledger_backup, "online backup to DEST (a file or a directory), verified",
        ledger_sub,
    )  # fmt: skip
    backup_cmd.add_argument("dest", help="a new file, or a directory to add a dated backup to")
    backup_cmd.add_argument(
        "--keep", type=_positive, help="with a directory: keep only the N newest dated backups"
    )
    _add_ledger_source(backup_cmd)
    restore_cmd = add(
        "restore", cmd_ledger_restore, "replace the ledger with a verified backup", ledger_sub
    )
    restore_cmd.add_argument("backup", help="a file written by `edge ledger backup`")
    _add_ledger_source(restore_cmd)
    export = add("export", cmd_ledger_export, "events as JSON lines", ledger_sub)
    _add_ledger_source(export)
    export.add_argument("--from", dest="from_seq", type=int, default=1)
    export.add_argument("--to", dest="to_seq", type=int, default=None)
    export.add_argument("--out", help="file to write (default stdout)")

    catalog = sub.add_parser("catalog", help="catalog tools")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    importer = add("import", cmd_catalog_import, "import products from CSV", catalog_sub)
    importer.add_argument("file", help="CSV with a header row (see README)")
    importer.add_argument("--config")

    roles = ["cashier", "supervisor", "manager", "technician"]
    staff = sub.add_parser("staff", help="staff accounts")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    setter = add("set", cmd_staff_set, "create or update a staff member and set a PIN", staff_sub)
    setter.add_argument("id")
    setter.add_argument("--name", required=True)
    setter.add_argument("--role", required=True, choices=roles)
    setter.add_argument("--pin-stdin", action="store_true", help="read the PIN from stdin")
    setter.add_argument("--config")
    token = sub.add_parser("token", help="API tokens for machines")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    creator = add("create", cmd_token_create, "create or replace a token; print it", token_sub)
    creator.add_argument("name")
    creator.add_argument("--role", required=True, choices=roles)
    creator.add_argument("--till", default=None, help="the till the token acts as")
    creator.add_argument("--config")

    till = sub.add_parser("till", help="tills")
    till_sub = till.add_subparsers(dest="till_command", required=True, metavar="ACTION")
    coder = add("code", cmd_till_code, "make a one-time code that pairs a browser", till_sub)
    coder.add_argument("till")
    coder.add_argument("--name", default=None, help="a display name for the till")
    coder.add_argument("--config")

    bench = add("bench", cmd_bench, "benchmarks against a baseline measured in the same run")
    bench.add_argument("name", choices=["ledger", "checkout", "devices", "hq"])
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--seconds", type=float, default=2.0, help="seconds per measured round")
    bench.add_argument("--dir", default=None, help="directory on the disk to measure")
    bench.add_argument(
        "--events", type=int, default=None, help="hq: backlog size (default 1,000,000)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `edge` with `argv`; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except SettingsError as err:
        print("configuration problems:", file=sys.stderr)
        for error in err.errors:
            print(f"  {error}", file=sys.stderr)
        return EXIT_FAIL
    except (FileNotFoundError, FileExistsError, sqlite3.Error, LedgerError) as err:
        print(f"edge: {err}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
