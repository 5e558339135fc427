"""`edge hq …`: the store's HQ link (status, retry) and the reference HQ receiver (serve, store).

`edge hq status` and `edge hq retry` read the ledger and the link's state file, so they work
whether the server runs or not. `edge hq serve` runs the reference receiver on PostgreSQL
(`--dsn`, or `$EDGE_HQ_DSN` so a password stays out of the process list); `edge hq store`
registers a store's key there.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.settings import load_settings

EXIT_OK, EXIT_FAIL, EXIT_STOPPED = 0, 1, 2
DSN_ENV = "EDGE_HQ_DSN"
Add = Callable[..., argparse.ArgumentParser]


def _ledger_and_url(args: argparse.Namespace) -> tuple[Path, str]:
    """Return the ledger path and the HQ URL from --db or --config."""
    if getattr(args, "db", None):
        return Path(args.db), ""
    settings = load_settings(Path(args.config) if args.config else None)
    return settings.ledger_path, settings.hq.url


def cmd_hq_status(args: argparse.Namespace) -> int:
    """Show the HQ link: cursor, backlog, oldest unsent, last error, stop."""
    from edge.hq.forwarder import offline_status  # noqa: PLC0415

    path, url = _ledger_and_url(args)
    if not path.exists():
        print(f"{path} does not exist", file=sys.stderr)
        return EXIT_FAIL
    status = offline_status(path, url)
    if args.json:
        print(json.dumps(status, ensure_ascii=False))
    else:
        print(_status_text(status))
    refused = status["stopped"] or status["downlink"]["rejected"]
    return EXIT_STOPPED if refused else EXIT_OK


def _status_text(status: dict[str, Any]) -> str:
    """Return the status as lines for a technician."""
    lines = [
        f"HQ           {status['url'] or '(hq.url not set: no HQ link)'}",
        f"state        {status['state']}",
        f"acknowledged seq {status['acked_seq']} at {status['acked_at'] or '-'}",
        f"ledger head  seq {status['head_seq']}",
        f"backlog      {status['backlog_events']} events"
        + (
            f", oldest from {status['oldest_unsent_ts']} ({status['oldest_unsent_age_s']:.0f} s)"
            if status["backlog_events"]
            else ""
        ),
        f"clock skew   {status['clock_skew_s']:+.0f} s (HQ minus this machine)",
    ]
    error = status.get("last_error")
    if error:
        http = f"HTTP {error['status']}" if error["status"] else "store side"
        lines.append(f"last error   {error['at']}: {error['code']} ({http}) {error['message']}")
    stop = status.get("stopped")
    if stop:
        lines.append(
            f"STOPPED      at seq {stop['seq']}: {stop['code']} {stop['message']}"
            " — fix the cause, then `edge hq retry`"
        )
    if status.get("retry_requested"):
        lines.append("retry        requested; the server picks it up within seconds")
    down = status["downlink"]
    lines.append(
        f"catalog      version {down['version']}"
        + (
            f", applied at seq {down['synced_seq']} ({down['synced_ts']})"
            if down["synced_seq"]
            else ""
        )
    )
    refused = down.get("rejected")
    if refused:
        first = refused["problems"][0] if refused["problems"] else {}
        lines.append(
            f"CATALOG REFUSED up to version {refused['version']} (seq {refused['seq']}):"
            f" {len(refused['problems'])} problem(s), first: version {first.get('version')}"
            f" {first.get('kind')} {first.get('entity')} {first.get('path')}:"
            f" {first.get('message')} — the store sells from its last good catalog until HQ"
            " publishes a correction"
        )
    return "\n".join(lines)


def cmd_hq_retry(args: argparse.Namespace) -> int:
    """Ask the forwarder to resend the range HQ refused."""
    from edge.hq.state import load_state, request_retry, state_path  # noqa: PLC0415

    path, _url = _ledger_and_url(args)
    state = load_state(state_path(path))
    if state.stopped is None:
        print("the HQ link is not stopped: nothing to retry")
        return EXIT_OK
    request_retry(path)
    print(f"retry requested from seq {state.stopped.seq}; `edge hq status` shows the outcome")
    return EXIT_OK


def _dsn(args: argparse.Namespace) -> str:
    """Return the PostgreSQL DSN from --dsn or the environment."""
    dsn = args.dsn or os.environ.get(DSN_ENV, "")
    if not dsn:
        raise SystemExit(f"edge hq: give --dsn or set {DSN_ENV}")
    return str(dsn)


def cmd_hq_serve(args: argparse.Namespace) -> int:
    """Run the reference HQ receiver until SIGINT/SIGTERM."""
    from aiohttp import web  # noqa: PLC0415

    from edge.hq.receiver import create_receiver  # noqa: PLC0415

    # a batch decodes into ~300,000 small objects: collect garbage less often than per 700
    # allocations, and never look at what was loaded at start again
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)

    async def run() -> None:
        app = create_receiver(_dsn(args), pool_size=args.pool)
        runner = web.AppRunner(app, access_log=None, auto_decompress=False, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port, reuse_port=args.reuse_port or None)
        await site.start()
        host, port = runner.addresses[0][:2]
        print(f"HQ receiver on http://{host}:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(run())
    return EXIT_OK


def cmd_hq_store(args: argparse.Namespace) -> int:
    """Register a store's key with the receiver's database (or replace it)."""
    import asyncpg  # noqa: PLC0415

    from edge.hq.receiver import create_schema  # noqa: PLC0415

    key = Path(args.key_file).read_text(encoding="utf-8").strip()
    if len(key) < 16:
        print("the key must be at least 16 characters", file=sys.stderr)
        return EXIT_FAIL

    async def run() -> None:
        pool = await asyncpg.create_pool(_dsn(args), min_size=1, max_size=1)
        try:
            await create_schema(pool)
            await pool.execute(
                "INSERT INTO hq_stores(store, name, key, active) VALUES ($1, $2, $3, true)"
                " ON CONFLICT (store) DO UPDATE SET key = excluded.key, name = excluded.name,"
                " active = true",
                args.store,
                args.name or args.store,
                key,
            )
        finally:
            await pool.close()

    asyncio.run(run())
    print(f"store {args.store} registered")
    return EXIT_OK


def cmd_hq_recover(args: argparse.Namespace) -> int:
    """Take back from HQ the events a restored ledger no longer has (server stopped)."""
    from edge.hq.recover import RecoverError, recover  # noqa: PLC0415
    from edge.ledger.errors import LedgerError  # noqa: PLC0415

    settings = load_settings(Path(args.config) if args.config else None)
    try:
        done = asyncio.run(recover(settings))
    except (RecoverError, LedgerError) as err:
        print(f"edge hq recover: {err}", file=sys.stderr)
        return EXIT_FAIL
    if done.events:
        print(f"recovered {done.events} events from HQ: the ledger's head went from seq"
              f" {done.before} to seq {done.after}")  # fmt: skip
    else:
        print(f"HQ holds nothing after seq {done.before}: nothing to recover")
    return EXIT_OK


def cmd_hq_publish(args: argparse.Namespace) -> int:
    """Publish catalog changes for the stores' downlink (HQ's side; JSON array or lines)."""
    import asyncpg  # noqa: PLC0415

    from edge.hq.receiver import create_schema, publish_changes  # noqa: PLC0415
    from edge.services.downlink import KINDS  # noqa: PLC0415

    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    try:
        stripped = text.strip()
        if stripped.startswith("["):
            changes = json.loads(stripped)
        else:
            changes = [json.loads(line) for line in stripped.splitlines() if line.strip()]
    except json.JSONDecodeError as err:
        print(f"{args.file}: not JSON ({err})", file=sys.stderr)
        return EXIT_FAIL
    for index, change in enumerate(changes):
        if (
            not isinstance(change, dict)
            or change.get("kind") not in KINDS
            or not isinstance(change.get("body"), dict)
        ):
            print(
                f'{args.file}: change {index + 1} is not {{"kind": one of'
                f' {", ".join(KINDS)}, "body": {{…}}}}',
                file=sys.stderr,
            )
            return EXIT_FAIL

    async def run() -> list[int]:
        pool = await asyncpg.create_pool(_dsn(args), min_size=1, max_size=1)
        try:
            await create_schema(pool)
            async with pool.acquire() as conn:
                return await publish_changes(conn, args.store, changes)
        finally:
            await pool.close()

    versions = asyncio.run(run())
    where = f"store {args.store}" if args.store else "every store"
    span = f"versions {versions[0]}..{versions[-1]}" if versions else "nothing"
    print(f"published {len(versions)} change(s) for {where}: {span}")
    return EXIT_OK


def add_hq_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], add: Add) -> None:
    """Add `edge hq …` to the parser."""
    hq = sub.add_parser("hq", help="the HQ link and the reference HQ receiver")
    hq_sub = hq.add_subparsers(dest="hq_command", required=True, metavar="ACTION")
    status = add("status", cmd_hq_status, "show the HQ link's cursor, backlog and errors", hq_sub)
    status.add_argument("--json", action="store_true", help="one JSON object")
    retry = add("retry", cmd_hq_retry, "resume forwarding after HQ refused a batch", hq_sub)
    for parser in (status, retry):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--db", help="ledger file")
        group.add_argument("--config", help="edge.toml")
    serve = add("serve", cmd_hq_serve, "run the reference HQ receiver on PostgreSQL", hq_sub)
    serve.add_argument("--dsn", help=f"postgresql://… (default ${DSN_ENV})")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8090, help="port (0 picks a free one)")
    serve.add_argument("--pool", type=int, default=4, help="database connections")
    serve.add_argument(
        "--reuse-port", action="store_true", help="let several receivers share the port"
    )
    store = add("store", cmd_hq_store, "register or rotate a store's key at HQ", hq_sub)
    store.add_argument("store", help="store id")
    store.add_argument("--key-file", required=True, help="file holding the store's key")
    store.add_argument("--name", default="", help="store name")
    store.add_argument("--dsn", help=f"postgresql://… (default ${DSN_ENV})")
    recover = add(
        "recover", cmd_hq_recover, "take back from HQ what a restored ledger lost", hq_sub
    )
    recover.add_argument("--config", help="edge.toml")
    publish = add("publish", cmd_hq_publish, "publish catalog changes to stores", hq_sub)
    publish.add_argument("file", help='JSON array or lines of {"kind", "body"} ("-": stdin)')
    publish.add_argument("--store", help="only for this store (default: every store)")
    publish.add_argument("--dsn", help=f"postgresql://… (default ${DSN_ENV})")
