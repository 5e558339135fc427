"""Write the broker's first dynamic-security document: the store server's own login and role.

With `mqtt.broker = "external"` Debian's Mosquitto loads device logins from this document, and
the server changes them through the plugin once it is connected as `edge-server`, so the
broker must know that login before the server's first start. Run by the role edge_server with
the store-edge venv's Python, only while the document does not exist: an existing document
(kept by the broker and `edge devices …`) is never replaced. Exit 0 written, 1 refused.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import sys
from pathlib import Path

from edge.domain.devices import SERVER_USER, broker_document, password_line
from edge.protocol.mqtt import valid_id


def main(argv: list[str] | None = None) -> int:
    """Write the document from the store id and the broker-password credential file."""
    parser = argparse.ArgumentParser(description="Write the broker's first device document.")
    parser.add_argument("--store", required=True, help="the store id")
    parser.add_argument("--password-file", required=True, type=Path, help="broker-password file")
    parser.add_argument("--document", required=True, type=Path, help="the document to create")
    parser.add_argument("--owner", default="", help="user that owns it (the broker's user)")
    args = parser.parse_args(argv)
    if not valid_id(args.store):
        sys.stderr.write(f"refused: {args.store!r} is not a store id\n")
        return 1
    password = args.password_file.read_text(encoding="utf-8").strip()
    if not password:
        sys.stderr.write(f"refused: {args.password_file} is empty (set the broker password)\n")
        return 1
    document = broker_document(args.store, [], [password_line(SERVER_USER, password)])
    text = json.dumps(document, indent=1) + "\n"
    try:
        fd = os.open(args.document, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        sys.stderr.write(f"refused: {args.document} exists (the broker keeps it)\n")
        return 1
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        if args.owner:
            account = pwd.getpwnam(args.owner)
            os.fchown(handle.fileno(), account.pw_uid, account.pw_gid)
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    sys.stdout.write(f"wrote {args.document} with the {SERVER_USER} login\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
