"""Who is at the till: staff accounts, PIN and badge sign-in, approvals, tills, API tokens.

A browser becomes a till by pairing with a one-time code a manager made; staff sign in on a
paired till with their id and PIN (or a badge) and the session is bound to that till. Machines
(HQ jobs, the benchmark, scripts) use API tokens with a role. Every sign-in, failure, approval,
pairing and token is a ledger event; secrets are stored only as hashes or keyed digests.

The PIN hash (scrypt, ~15 ms) is computed on a worker thread, never on the event loop or in
the ledger writer; the command that records the attempt re-reads the sign-in record inside
its transaction, so concurrent guesses are all counted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from edge.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from edge.domain.staff import (
    KIOSK,
    ROLES,
    STAFF_ID,
    Attempts,
    LockPolicy,
    check_pin,
    hash_pin,
    may,
    new_salt,
    secret_digest,
)
from edge.domain.values import value
from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.ledger.projections.devices import DEVICES
from edge.ledger.projections.staff import STAFF
from edge.ledger.stamps import Stamp, StampedCache
from edge.services.catalog import Actor
from edge.settings import AuthSettings, Settings

log = logging.getLogger(__name__)

SIGN_IN_REFUSED = "staff id or PIN not accepted"  # the same for unknown, wrong and locked
PEPPER_FILE = "pin-pepper"
PRINCIPALS_KEPT = 1_024  # credentials whose principal is kept at most (then it starts again)
_STAFF = (STAFF.name,)  # tokens, tills, staff and their sessions
_DEVICES = (DEVICES.name,)  # which tills are kiosks


def store_pepper(settings: Settings) -> str:
    """Return the PIN pepper: the credential, else a generated file beside the ledger.

    Production sets it with systemd `LoadCredential=pin-pepper:…`; a store without it (a demo,
    a test) gets a random one in `DATA_DIR/pin-pepper` (mode 0600) and a warning.
    """
    if settings.secrets.pin_pepper:
        return settings.secrets.pin_pepper
    path: Path = settings.ledger_path.parent / PEPPER_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(secrets.token_hex(32))
        log.warning("no pin-pepper credential: generated %s; keep it with the ledger backup", path)
    return path.read_text(encoding="utf-8").strip()


@value
class Principal:
    """Who a request comes from: a till device, a signed-in staff member, or an API token."""

    kind: str  # "till" (paired, nobody signed in), "staff", "kiosk" (a paired kiosk) or "token"
    till: str | None
    staff: str | None = None
    role: str | None = None
    name: str | None = None
    session: str | None = None  # the session digest (staff)

    def may(self, permission: str) -> bool:
        """Tell whether this principal has the permission by its role."""
        return self.role is not None and may(self.role, permission)

    @property
    def actor(self) -> Actor:
        """Return who acts, as events record it."""
        staff = self.staff if self.kind == "staff" else f"token:{self.name}" if self.name else None
        return Actor(staff=staff, till=self.till)


@dataclass(frozen=True)
class StaffInput:
    """A staff record as the back office saves it."""

    id: str
    name: str
    role: str
    active: bool = True
    badge: str | None = None
    commission_bp: int = 0

    def __post_init__(self) -> None:
        """Check the id, role and commission."""
        if not STAFF_ID.match(self.id):
            raise InvalidInput("a staff id is 1-20 letters, digits, - or _", code="bad_staff_id")
        if self.role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}", code="bad_role")
        if not 0 <= self.commission_bp <= 10_000:
            raise InvalidInput("commission_bp must be 0..10000", code="bad_commission")


def save_staff_in_tx(
    tx: Tx,
    staff: StaffInput,
    *,
    badge: str | None,
    keep_badge: bool,
    pin: tuple[str, str] | None,
    actor: Actor,
    require_pin: bool = True,
) -> str:
    """Append staff.saved (when something changed) and staff.pin_set (with a new PIN).

    `badge` is the badge's keyed digest; `keep_badge` keeps the one on file instead. `pin` is
    (salt, hash). `require_pin=False` lets a new staff member exist without a PIN (HQ creates
    staff; a manager sets the PIN in the store): nobody can sign in with a PIN until then.
    """
    before = tx.conn.execute(
        "SELECT name, role, active, badge, commission_bp, pin_hash FROM staff WHERE id = ?",
        (staff.id,),
    ).fetchone()
    if before is None and pin is None and require_pin:
        raise InvalidInput("a new staff member needs a PIN", code="pin_required")
    if keep_badge and before is not None:
        badge = before[3]
    if badge is not None:
        owner = tx.conn.execute("SELECT id FROM staff WHERE badge = ?", (badge,)).fetchone()
        if owner is not None and owner[0] != staff.id:
            raise Conflict("that badge belongs to someone else", code="badge_conflict")
    record = {
        "id": staff.id,
        "name": staff.name,
        "role": staff.role,
        "active": staff.active,
        "badge": badge,
        "commission_bp": staff.commission_bp,
    }
    same = before is not None and tuple(before[:5]) == (
        staff.name,
        staff.role,
        int(staff.active),
        badge,
        staff.commission_bp,
    )
    if not same:
        tx.append("staff.saved", {"staff": record}, staff=actor.staff, till=actor.till)
    if pin is not None:
        tx.append(
            "staff.pin_set",
            {"staff": staff.id, "salt": pin[0], "hash": pin[1]},
            staff=actor.staff,
            till=actor.till,
        )
    if before is None:
        return "created"
    return "unchanged" if same and pin is None else "updated"


@dataclass(frozen=True)
class SignIn:
    """A new session: the token goes into the till's cookie and nowhere else."""

    token: str
    staff: str
    name: str
    role: str
    till: str
    expires: str


def _iso(moment: datetime) -> str:
    """Return the ledger's timestamp text for a moment."""
    return moment.isoformat(timespec="milliseconds")


_Credentials = tuple[str | None, str | None, str | None]  # bearer, device, session
_Resolved = tuple["Principal", datetime | None, Stamp]  # until when, the devices' stamp


class Auth:
    """Staff, sign-in, approvals, tills and tokens of one store."""

    def __init__(
        self,
        ledger: Ledger,
        settings: AuthSettings,
        pepper: str,
        clock: Callable[[], datetime],
    ) -> None:
        """Keep the ledger, the lock policy, the pepper and the clock."""
        self.ledger = ledger
        self.settings = settings
        self.policy = LockPolicy(
            settings.lock_after, settings.lock_seconds, settings.lock_max_seconds
        )
        self._pepper = pepper
        self.clock = clock
        # a hash to compare against when the staff id is unknown: same work, same answer
        self._decoy_salt = new_salt()
        # credentials -> what they resolved to, under the staff projection's stamp (principal)
        self._known: StampedCache[_Credentials, _Resolved] = StampedCache(
            ledger.stamps, _STAFF, limit=PRINCIPALS_KEPT
        )

    def digest(self, secret: str) -> str:
        """Return the keyed digest a token, code or badge is stored and looked up as."""
        return secret_digest(secret, self._pepper)

    def csrf_for(self, device_token: str) -> str:
        """Return the anti-forgery token a paired browser sends back on every write."""
        return secret_digest("csrf:" + device_token, self._pepper)[:32]

    # --- staff ---------------------------------------------------------------------------

    async def save_staff(
        self, staff: StaffInput, pin: str | None, actor: Actor, *, keep_badge: bool = False
    ) -> str:
        """Create or update a staff member, with a new PIN when one is given.

        `keep_badge`: an update keeps the badge on file (screens never see the badge itself).
        """
        if pin is not None:
            check_pin(pin)
        salt = new_salt()
        pin_hash = await asyncio.to_thread(hash_pin, pin, salt, self._pepper) if pin else None
        new_badge = self.digest("badge:" + staff.badge) if staff.badge else None
        pin_set = (salt, pin_hash) if pin_hash is not None else None

        return await self.ledger.submit(
            lambda tx: save_staff_in_tx(
                tx, staff, badge=new_badge, keep_badge=keep_badge, pin=pin_set, actor=actor
            )
        )

    async def list_staff(self) -> list[dict[str, Any]]:
        """Return every staff member with their sign-in record (no secrets)."""
        rows = await self.ledger.reader.fetch_all(
            "SELECT id, name, role, active, badge IS NOT NULL, commission_bp, failures, locks,"
            " locked_until FROM staff ORDER BY id"
        )
        return [
            {
                "id": r[0],
                "name": r[1],
                "role": r[2],
                "active": bool(r[3]),
                "badge": bool(r[4]),
                "commission_bp": r[5],
                "failures": r[6],
                "locks": r[7],
                "locked_until": r[8],
            }
            for r in rows
        ]

    # --- sign-in and approvals -----------------------------------------------------------

    async def _check_pin(
        self, staff_id: str | None, pin: str | None, badge: str | None
    ) -> tuple[str | None, str | None, bool]:
        """Find the account and check the secret off the loop: (staff id, salt seen, ok)."""
        if badge is not None:
            rows = self.ledger.reader.quick(
                "SELECT id, salt FROM staff WHERE badge = ? AND active = 1",
                (self.digest("badge:" + badge),),
            )
            return (rows[0][0], rows[0][1], True) if rows else (None, None, False)
        rows = self.ledger.reader.quick(
            "SELECT id, salt, pin_hash FROM staff WHERE id = ? AND active = 1", (staff_id,)
        )
        known = bool(rows) and rows[0][2] is not None
        salt = rows[0][1] if known else self._decoy_salt
        computed = await asyncio.to_thread(hash_pin, pin or "", salt, self._pepper)
        if not known:
            return (rows[0][0] if rows else None), None, False
        return rows[0][0], salt, secrets.compare_digest(computed, rows[0][2])

    def _attempt(
        self,
        tx: Tx,
        *,
        staff_id: str | None,
        salt: str | None,
        ok: bool,
        till: str | None,
        method: str,
        extra: dict[str, Any],
        success_type: str,
    ) -> tuple[sqlite3.Row | tuple[Any, ...] | None, bool]:
        """Record one attempt; return (staff row, accepted). Locked accounts always fail."""
        now = tx.now()
        row = (
            tx.conn.execute(
                "SELECT id, name, role, salt, failures, locks, locked_until FROM staff"
                " WHERE id = ? AND active = 1",
                (staff_id,),
            ).fetchone()
            if staff_id is not None
            else None
        )
        attempts = Attempts()
        if row is not None:
            until = datetime.fromisoformat(row[6]) if row[6] else None
            attempts = Attempts(row[4], row[5], until)
        accepted = (
            ok
            and row is not None
            and (method == "badge" or row[3] == salt)  # the PIN did not change meanwhile
            and not attempts.locked(now)
        )
        if accepted:
            after = Attempts(0, attempts.locks, attempts.locked_until)
            event_type = success_type
        elif row is not None and attempts.locked(now):
            after = attempts  # a try while locked neither extends nor counts
            event_type = "auth.sign_in_failed"
        else:
            after = attempts.after_failure(self.policy, now) if row is not None else attempts
            event_type = "auth.sign_in_failed"
        data = {
            "staff": row[0] if row is not None else None,
            "claimed": None if row is not None else staff_id,
            "till": till,
            "method": method,
            "failures": after.failures,
            "locks": after.locks,
            "locked_until": _iso(after.locked_until) if after.locked_until else None,
        } | (extra if accepted else {})
        tx.append(event_type, data, till=till, staff=row[0] if row is not None else None)
        return row, accepted

    async def sign_in(
        self, till: str, *, staff_id: str | None, pin: str | None, badge: str | None
    ) -> SignIn:
        """Open a session on a till for the staff member whose PIN (or badge) this is."""
        if badge is None and (staff_id is None or pin is None):
            raise InvalidInput("give a staff id and PIN, or a badge", code="bad_sign_in")
        found, salt, ok = await self._check_pin(staff_id, pin, badge)
        token = secrets.token_urlsafe(32)
        expires = _iso(self.clock() + timedelta(hours=self.settings.session_hours))
        session = self.digest("session:" + token)

        def command(tx: Tx) -> tuple[Any, bool]:
            return self._attempt(
                tx,
                staff_id=found if badge is not None else staff_id,
                salt=salt,
                ok=ok,
                till=till,
                method="badge" if badge is not None else "pin",
                extra={"session": session, "expires": expires},
                success_type="auth.signed_in",
            )

        row, accepted = await self.ledger.submit(command)
        if not accepted or row is None:
            raise Unauthorized(SIGN_IN_REFUSED, code="sign_in_refused")
        return SignIn(token, row[0], row[1], row[2], till, expires)

    async def approve(
        self, principal: Principal, permission: str, approver: str, pin: str, action: str
    ) -> str:
        """Let a supervisor or manager approve one action on this till with their PIN."""
        found, salt, ok = await self._check_pin(approver, pin, None)

        def command(tx: Tx) -> tuple[Any, bool]:
            return self._attempt(
                tx,
                staff_id=approver,
                salt=salt,
                ok=ok,
                till=principal.till,
                method="approval",
                extra={"for": principal.actor.staff, "permission": permission, "action": action},
                success_type="auth.approved",
            )

        row, accepted = await self.ledger.submit(command)
        if not accepted or row is None or found is None:
            raise Forbidden(f"approval refused: {SIGN_IN_REFUSED}", code="approval_refused")
        if not may(row[2], permission):
            raise Forbidden(f"{row[0]} may not approve {permission}", code="approval_refused")
        return str(row[0])

    async def sign_out(self, principal: Principal) -> None:
        """End the principal's session."""
        if principal.session is None:
            return
        session = principal.session

        def command(tx: Tx) -> None:
            tx.append(
                "auth.signed_out",
                {"session": session, "staff": principal.staff, "reason": "signed out"},
                till=principal.till,
                staff=principal.staff,
            )

        await self.ledger.submit(command)

    # --- who is asking -------------------------------------------------------------------

    def till_of(self, device_token: str) -> str | None:
        """Return the till a device token belongs to (None: not a paired device)."""
        rows = self.ledger.reader.quick(
            "SELECT id FROM tills WHERE device = ?", (self.digest("device:" + device_token),)
        )
        return str(rows[0][0]) if rows else None

    def principal(
        self, *, bearer: str | None, device: str | None, session: str | None
    ) -> Principal | None:
        """Resolve a request's credentials (a bearer token wins over cookies).

        Every request asks, so what credentials resolved to is kept while the change stamp of
        the staff projection (tokens, tills, sessions, staff: edge.ledger.stamps) stays the
        one it was resolved under: a revoked token, an ended session or an unpaired till is
        refused at the next request, whichever process recorded it. A staff session's
        principal is kept only until the session expires, and a paired browser's without a
        session only while the devices' stamp (which tills are kiosks) stays the same too.
        Credentials that resolve to nobody are not kept.
        """
        stamps = self.ledger.stamps
        stamp = self._known.stamp()
        key = (bearer, device, session)
        known = self._known.get(key)
        if known is not None:
            kept, until, seen = known
            if (until is None or until > self.clock()) and (
                seen is None or seen == stamps.read(_DEVICES)
            ):
                return kept
        devices = None if bearer is not None else stamps.read(_DEVICES)  # before the reads
        principal, expires = self._resolve(bearer, device, session)
        if principal is None:
            return principal
        if principal.kind in {"staff", "token"}:
            devices = None  # which tills are kiosks does not change who they are
        elif devices is None:  # a change to the devices is being committed: keep nothing
            return principal
        self._known.keep(stamp, key, (principal, expires, devices))
        return principal

    def _resolve(
        self, bearer: str | None, device: str | None, session: str | None
    ) -> tuple[Principal | None, datetime | None]:
        """Read who the credentials are (and until when, for a staff session)."""
        if bearer is not None:
            rows = self.ledger.reader.quick(
                "SELECT name, role, till FROM api_tokens WHERE digest = ? AND revoked_seq IS NULL",
                (self.digest("token:" + bearer),),
            )
            if not rows:
                return None, None
            name, role, till = rows[0]
            return Principal("token", till, role=role, name=name), None
        if device is None:
            return None, None
        till = self.till_of(device)
        if till is None:
            return None, None
        if session is not None:
            digest = self.digest("session:" + session)
            rows = self.ledger.reader.quick(
                "SELECT s.staff, s.expires, f.role, f.name FROM staff_sessions s"
                " JOIN staff f ON f.id = s.staff"
                " WHERE s.digest = ? AND s.till = ? AND s.ended_seq IS NULL AND f.active = 1",
                (digest, till),
            )
            if rows:
                expires = datetime.fromisoformat(rows[0][1])
                if expires > self.clock():
                    staff, _, role, name = rows[0]
                    principal = Principal(
                        "staff", till, staff=staff, role=role, name=name, session=digest
                    )
                    return principal, expires
        if self.is_kiosk(till):
            return Principal("kiosk", till, role=KIOSK), None
        return Principal("till", till), None

    def is_kiosk(self, till: str) -> bool:
        """Tell whether a paired till is a self-checkout kiosk (a device of type kiosk)."""
        rows = self.ledger.reader.quick(
            "SELECT 1 FROM devices WHERE id = ? AND type = 'kiosk'", (till,)
        )
        return bool(rows)

    # --- tills ---------------------------------------------------------------------------

    async def create_pairing(self, till: str, name: str, actor: Actor) -> tuple[str, str]:
        """Make a one-time code that turns one browser into `till`; return (code, expires)."""
        if not STAFF_ID.match(till):
            raise InvalidInput("a till id is 1-20 letters, digits, - or _", code="bad_till")
        code = "-".join(secrets.token_hex(2).upper() for _ in range(4))  # 64 bits, 16 hex
        expires = _iso(self.clock() + timedelta(minutes=self.settings.pairing_minutes))
        data = {"till": till, "name": name, "code": self.digest("pair:" + code), "expires": expires}

        def command(tx: Tx) -> None:
            tx.append("till.pairing_created", data, staff=actor.staff, till=actor.till)

        await self.ledger.submit(command)
        return code, expires

    async def pair(self, code: str) -> tuple[str, str]:
        """Use a pairing code; return (till, device token for the cookie)."""
        digest = self.digest("pair:" + code.strip().upper())
        device = secrets.token_urlsafe(32)

        def command(tx: Tx) -> str:
            row = tx.conn.execute(
                "SELECT till, name, expires, used_seq FROM till_pairings WHERE code = ?", (digest,)
            ).fetchone()
            if row is None or row[3] is not None or datetime.fromisoformat(row[2]) <= tx.now():
                raise Unauthorized(
                    "that pairing code is unknown, used or expired", code="bad_pairing_code"
                )
            tx.append(
                "till.paired",
                {
                    "till": row[0],
                    "name": row[1],
                    "code": digest,
                    "device": self.digest("device:" + device),
                },
                till=row[0],
            )
            return str(row[0])

        return await self.ledger.submit(command), device

    async def unpair(self, till: str, actor: Actor) -> None:
        """Forget a till's device (lost or replaced): it can no longer sell."""

        def command(tx: Tx) -> None:
            row = tx.conn.execute("SELECT device FROM tills WHERE id = ?", (till,)).fetchone()
            if row is None or row[0] is None:
                raise NotFound(f"no paired till {till}", code="unknown_till")
            tx.append("till.unpaired", {"till": till}, staff=actor.staff, till=actor.till)

        await self.ledger.submit(command)

    async def list_tills(self) -> list[dict[str, Any]]:
        """Return the store's tills and who is signed in on each."""
        rows = await self.ledger.reader.fetch_all(
            "SELECT t.id, t.name, t.device IS NOT NULL,"
            " (SELECT group_concat(s.staff) FROM staff_sessions s WHERE s.till = t.id"
            "  AND s.ended_seq IS NULL AND s.expires > ?) FROM tills t ORDER BY t.id",
            (_iso(self.clock()),),
        )
        return [
            {"id": r[0], "name": r[1], "paired": bool(r[2]), "signed_in": (r[3] or "").split(",")}
            for r in rows
        ]

    # --- API tokens ----------------------------------------------------------------------

    async def create_token(self, name: str, role: str, till: str | None, actor: Actor) -> str:
        """Make (or replace) a named API token with a role; return it (shown once)."""
        if not STAFF_ID.match(name):
            raise InvalidInput("a token name is 1-20 letters, digits, - or _", code="bad_name")
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}", code="bad_role")
        token = "edge_" + secrets.token_urlsafe(32)
        data = {"name": name, "role": role, "till": till, "digest": self.digest("token:" + token)}

        def command(tx: Tx) -> None:
            tx.append("token.created", data, staff=actor.staff, till=actor.till)

        await self.ledger.submit(command)
        return token

    async def revoke_token(self, name: str, actor: Actor) -> None:
        """Revoke a named API token."""

        def command(tx: Tx) -> None:
            row = tx.conn.execute(
                "SELECT 1 FROM api_tokens WHERE name = ? AND revoked_seq IS NULL", (name,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no live token {name}", code="unknown_token")
            tx.append("token.revoked", {"name": name}, staff=actor.staff, till=actor.till)

        await self.ledger.submit(command)
