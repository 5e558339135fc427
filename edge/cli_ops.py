"""`edge tls …` (the store's certificate for HTTPS and MQTT over TLS) and `edge discover`.

`edge tls init` makes a per-store CA and a server certificate in `<data_dir>/tls/` (or --dir)
and says how tills and kiosks come to trust it; `edge tls show` tells a technician what the
files name, whether they belong together and how many days they have left. `edge discover`
lists the store servers that announce themselves on the LAN.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.settings import Settings, load_settings

if TYPE_CHECKING:
    from edge.tls import CertInfo, Issued

EXIT_OK, EXIT_FAIL = 0, 1
MAX_DISCOVER_S = 60.0


def _say(text: str = "") -> None:
    """Write one line to stdout."""
    sys.stdout.write(text + "\n")


def _complain(text: str) -> None:
    """Write one line to stderr."""
    sys.stderr.write(text + "\n")


def _load(args: argparse.Namespace) -> Settings:
    """Load the configuration named by --config (else the default one)."""
    return load_settings(Path(args.config) if args.config else None)


def _valid(info: CertInfo, now: datetime) -> str:
    """Return a certificate's validity as `from → until (N days left)`."""
    days = info.days_left(now)
    left = f"{days} days left" if days >= 0 else f"EXPIRED {-days} days ago"
    return f"{info.not_before:%Y-%m-%d} → {info.not_after:%Y-%m-%d} ({left})"


def cmd_tls_init(args: argparse.Namespace) -> int:
    """Make the store CA and a server certificate (or renew the server certificate)."""
    from edge.tls import SERVER_DAYS, TlsError, default_names, init_store_tls  # noqa: PLC0415

    if args.dir and args.store and not args.config:
        directory, store = Path(args.dir), str(args.store)
    else:
        settings = _load(args)
        directory = Path(args.dir) if args.dir else settings.paths.data_dir / "tls"
        store = args.store or settings.store.id
    try:
        names = default_names(args.host, args.ip)
        issued = init_store_tls(
            directory,
            store,
            names,
            days=args.days or SERVER_DAYS,
            force=args.force,
            renew=args.renew,
        )
    except TlsError as err:
        _complain(f"edge tls: {err.message}")
        return EXIT_FAIL
    _print_issued(issued, store)
    return EXIT_OK


def _print_issued(issued: Issued, store: str) -> None:
    """Tell what was made, how to configure the server and how tills trust the CA."""
    now = datetime.now(UTC)
    folder = issued.directory
    server = issued.server
    _say(f"store-edge TLS for store {store} in {folder}")
    if issued.new_ca:
        _say(f"  new CA       {issued.ca.subject}, valid {_valid(issued.ca, now)}")
    else:
        _say(f"  CA kept      {issued.ca.subject} (tills and kiosks need nothing new)")
    _say(f"  server       {server.subject}, valid {_valid(server, now)}")
    _say(f"  names        {', '.join((*server.names.hosts, *server.names.ips))}")
    _say("  files        ca.pem, ca.key (0600), server.pem (certificate + CA), server.key (0600),")
    _say("               store-ca.crt (the trust bundle for tills and kiosks)")
    _say(f"  CA sha256    {issued.ca.fingerprint}")
    _say()
    _say("Serve HTTPS (and MQTT over TLS) with these lines in edge.toml, then restart the server:")
    _say("  [tls]")
    _say(f'  cert = "{folder.resolve() / "server.pem"}"')
    _say(f'  key = "{folder.resolve() / "server.key"}"')
    _say(f'  ca = "{folder.resolve() / "ca.pem"}"')
    _say("  [mqtt]")
    _say("  tls_port = 8883   # optional: the broker's TLS listener")
    if not issued.new_ca:
        return
    _say()
    _say("Trust the store CA on every till and kiosk (Debian, Chromium): copy store-ca.crt there,")
    _say(
        "check its sha256 (above) with `openssl x509 -in store-ca.crt -noout -fingerprint -sha256`"
    )
    _say("and install it for the system (curl, Python, MQTT clients):")
    _say(f"  sudo cp store-ca.crt /usr/local/share/ca-certificates/store-edge-{store}.crt")
    _say("  sudo update-ca-certificates")
    _say("and for Chromium, which keeps its own store (certutil is in libnss3-tools), as the user")
    _say("that runs the till or kiosk browser, then restart the browser:")
    _say(
        f'  certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n "store-edge CA {store}" -i store-ca.crt'
    )


def cmd_tls_show(args: argparse.Namespace) -> int:
    """Print subjects, names and days left of the store's TLS files; exit 1 on a problem."""
    from edge import tls  # noqa: PLC0415 - keeps `edge --help` fast

    if args.dir:
        folder = Path(args.dir)
        cert, key, ca = folder / tls.SERVER_CERT, folder / tls.SERVER_KEY, folder / tls.CA_CERT
    else:
        settings = _load(args)
        configured = settings.tls
        folder = settings.paths.data_dir / "tls"
        cert = Path(configured.cert) if configured.cert else folder / tls.SERVER_CERT
        key = Path(configured.key) if configured.key else folder / tls.SERVER_KEY
        ca = Path(configured.ca) if configured.ca else folder / tls.CA_CERT
    now = datetime.now(UTC)
    problems: list[str] = []
    ca_cert = None
    try:
        ca_cert = tls.check_ca_file(ca)
        _show("CA", ca, tls.describe(ca_cert), now, problems)
    except tls.TlsError as err:
        problems.append(err.message)
    try:
        chain = tls.read_certs(cert)
        _show("server", cert, tls.describe(chain[0]), now, problems)
        tls.check_server_files(cert, key)
        _say(f"  key          {key} matches")
        if ca_cert is not None:
            issued = tls.signed_by(chain[0], ca_cert)
            _say(f"  signed by CA {'yes' if issued else 'NO'}")
            if not issued:
                problems.append(f"{cert} is not signed by {ca}: tills trusting {ca} refuse it")
    except tls.TlsError as err:
        problems.append(err.message)
    bundle = ca.parent / tls.TRUST_BUNDLE
    if bundle.is_file() and ca.is_file():
        same = bundle.read_bytes().strip() == ca.read_bytes().strip()
        _say(f"trust bundle   {bundle}{'' if same else ' (DIFFERS from the CA: hand out ca.pem)'}")
    for problem in problems:
        _say(f"PROBLEM: {problem}")
    return EXIT_FAIL if problems else EXIT_OK


def _show(role: str, path: Path, info: CertInfo, now: datetime, problems: list[str]) -> None:
    """Print one certificate and note its problems."""
    _say(f"{role:<14} {path}")
    _say(f"  subject      {info.subject}")
    if info.issuer != info.subject:
        _say(f"  issuer       {info.issuer}")
    names = (*info.names.hosts, *info.names.ips)
    if names:
        _say(f"  names        {', '.join(names)}")
    _say(f"  valid        {_valid(info, now)}")
    _say(f"  sha256       {info.fingerprint}")
    days = info.days_left(now)
    if days < 0:
        problems.append(f"{path} expired on {info.not_after:%Y-%m-%d}")
    elif days < 30:
        problems.append(f"{path} expires in {days} days: `edge tls init --renew`")
    if info.not_before > now:
        problems.append(f"{path} is valid only from {info.not_before:%Y-%m-%d %H:%M} UTC (clock?)")


def cmd_discover(args: argparse.Namespace) -> int:
    """List the store servers that announce themselves on the LAN."""
    from edge.discovery import discover  # noqa: PLC0415 - keeps `edge --help` fast

    try:
        servers = asyncio.run(discover(args.timeout, args.interface))
    except OSError as err:
        where = ", ".join(args.interface) or "this machine's interfaces"
        _complain(f"edge discover: cannot browse on {where}: {err}")
        return EXIT_FAIL
    if args.json:
        _say(json.dumps([asdict(s) for s in servers], ensure_ascii=False))
        return EXIT_OK
    if not servers:
        _say("no store server found")
        return EXIT_OK
    _say(f"{'store':<14} {'name':<20} {'address':<22} {'scheme':<7} {'broker':<7} url")
    for s in servers:
        address = f"{s.addresses[0] if s.addresses else s.host}:{s.port}"
        broker = str(s.broker_port or "-")
        _say(f"{s.store:<14} {s.name:<20} {address:<22} {s.scheme:<7} {broker:<7} {s.url}")
    return EXIT_OK


def _seconds(text: str) -> float:
    """Parse a browsing time in seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_DISCOVER_S:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds in (0, 60]")
    return value


def _address(text: str) -> str:
    """Parse an IP address of this machine (argparse type)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None


def _days(text: str) -> int:
    """Parse a certificate lifetime in days (argparse type)."""
    if not text.isdigit() or not 1 <= int(text) <= 3650:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days in 1..3650")
    return int(text)


def add_ops_commands(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Register `edge tls init|show` and `edge discover`."""
    tls = sub.add_parser("tls", help="the store's TLS certificate (HTTPS, MQTT over TLS)")
    tls_sub = tls.add_subparsers(dest="tls_command", required=True, metavar="ACTION")
    init = add("init", cmd_tls_init, "make the store CA and the server certificate", tls_sub)
    init.add_argument("--config", help="edge.toml: the store id and <data_dir>/tls")
    init.add_argument("--dir", help="write the files here instead of <data_dir>/tls")
    init.add_argument("--store", help="the store id in the CA's name (default: the config's)")
    init.add_argument(
        "--host", action="append", default=[], metavar="NAME",
        help="another host name for the certificate (repeat); hostname, hostname.local and "
        "localhost are always in it",
    )  # fmt: skip
    init.add_argument(
        "--ip", action="append", default=[], metavar="ADDR",
        help="an IP address for the certificate (repeat); 127.0.0.1 is always in it",
    )  # fmt: skip
    init.add_argument(
        "--days", type=_days, default=None, help="server certificate lifetime (default 730)"
    )
    mode = init.add_mutually_exclusive_group()
    mode.add_argument(
        "--renew", action="store_true",
        help="a new server certificate from the existing CA (keeps its names, adds new ones)",
    )  # fmt: skip
    mode.add_argument(
        "--force", action="store_true",
        help="replace the CA too: every till and kiosk must then trust the new store-ca.crt",
    )  # fmt: skip
    show = add("show", cmd_tls_show, "names, expiry and consistency of the TLS files", tls_sub)
    show.add_argument("--config", help="edge.toml: its [tls] files, else <data_dir>/tls")
    show.add_argument("--dir", help="a TLS directory written by `edge tls init`")
    finder = add("discover", cmd_discover, "find store servers on the LAN (zeroconf)")
    finder.add_argument(
        "--timeout", type=_seconds, default=3.0, help="seconds to listen (default 3)"
    )
    finder.add_argument("--json", action="store_true", help="print one JSON list")
    finder.add_argument(
        "--interface", action="append", default=[], type=_address, metavar="ADDR",
        help="browse only on this address of this machine (repeat); default: all interfaces",
    )  # fmt: skip
