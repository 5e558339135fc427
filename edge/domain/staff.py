"""Staff, roles and what each role may do; PIN hashing and the lockout rule.

Every API route names one permission; a role either has it or not (deny by default). Two
pseudo-permissions need no role: `public` (anyone on the LAN: health, e-receipts, pairing a
till with a code) and `till` (any paired till, before anyone signed in: the PIN pad).
A cashier without a permission can still do the action once when a supervisor or manager who
has it approves on the same till with their PIN.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from edge.domain.errors import InvalidInput

ROLES = ("cashier", "supervisor", "manager", "technician")
PUBLIC = "public"
TILL = "till"
# A paired self-checkout kiosk acts as this role with nobody signed in: the shopper scans and
# pays; everything else needs an attendant. Not a staff role (no staff member can have it).
KIOSK = "kiosk"

_SELLING = frozenset({"cashier", "supervisor", "manager"})
_SUPERVISING = frozenset({"supervisor", "manager"})
_MANAGER = frozenset({"manager"})
_RUNNING = frozenset({"manager", "technician"})
_EVERYONE = frozenset(ROLES)
_SHOPPER = frozenset({KIOSK})

# permission -> the roles that have it
PERMISSIONS: dict[str, frozenset[str]] = {
    "catalog.read": _EVERYONE | _SHOPPER,
    "catalog.write": _MANAGER,
    "promotion.write": _MANAGER,
    "voucher.issue": _MANAGER,
    "member.read": _SELLING,
    "member.write": _SELLING,
    "stored_value.top_up": _SELLING,
    "sale.create": _SELLING | _SHOPPER,
    "sale.read": _SELLING,
    "till.open": _SELLING,  # take a drawer with a float
    "till.close": _SELLING,  # blind count at the end of a session
    "cash.move": _SUPERVISING,  # cash in / cash out with a reason
    "sale.return": _SUPERVISING,  # a refund
    "sale.void": _SUPERVISING,  # above auth.void_limit; a cashier voids below it alone
    "price.override": _SUPERVISING,
    "discount.manual": _SUPERVISING,
    "drawer.open": _SUPERVISING,  # open the drawer without a sale
    "report.x": _SUPERVISING,
    "report.z": _MANAGER,
    "hours.override": _MANAGER,
    "staff.read": _SUPERVISING,
    "staff.write": _MANAGER,
    "till.manage": _RUNNING,  # pairing codes, unpairing
    "token.manage": _RUNNING,
    "session.own": _EVERYONE,  # one's own session, clocking in and out, the rota
    "expense.write": _SUPERVISING,
    "stock.adjust": _SUPERVISING,  # damage, theft, expiry, found, corrections
    "stock.receive": _SELLING,  # goods in from a supplier, count entries
    "order.write": _SELLING,  # take a pickup order (HQ and mini-programs use a token)
    "order.fulfil": _SELLING,  # pick, hand over or cancel it
    "feedback.write": _SELLING,  # take down a shopper's complaint or suggestion
    "feedback.manage": _SUPERVISING,  # assign, follow up and resolve it
    "device.read": _EVERYONE | _SHOPPER,  # devices, their health and alerts, print jobs, live
    "device.operate": _EVERYONE,  # tare/zero a scale, print or reprint at one's till
    "device.manage": _RUNNING,  # add, bind, rotate and remove devices
    "kiosk.attend": _SELLING,  # answer a self-checkout kiosk's call
    "hq.read": _SUPERVISING | _RUNNING,  # the HQ link's cursor, backlog and errors
    "hq.manage": _RUNNING,  # resume forwarding after HQ refused a batch
}

STAFF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$")
PIN = re.compile(r"^[0-9]{4,8}$")

# scrypt cost: ~15 ms on the store server, so a stolen ledger still costs a lot per guess
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def may(role: str, permission: str) -> bool:
    """Tell whether `role` has `permission` (unknown permissions: nobody)."""
    if permission in (PUBLIC, TILL):
        return True
    return role in PERMISSIONS.get(permission, ())


def check_pin(pin: str) -> None:
    """Refuse a PIN that is not 4 to 8 digits, or one anyone would guess."""
    if not PIN.match(pin):
        raise InvalidInput("a PIN is 4 to 8 digits", code="bad_pin")
    if len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
        raise InvalidInput("that PIN is too easy to guess", code="weak_pin")


def hash_pin(pin: str, salt: str, pepper: str) -> str:
    """Return the hex scrypt hash of a PIN keyed with the store's pepper."""
    keyed = hmac.new(pepper.encode(), pin.encode(), hashlib.sha256).digest()
    return hashlib.scrypt(
        keyed, salt=bytes.fromhex(salt), n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    ).hex()


def new_salt() -> str:
    """Return a fresh random salt (hex)."""
    return secrets.token_hex(16)


def pin_matches(pin: str, salt: str, expected: str, pepper: str) -> bool:
    """Compare a PIN with its stored hash in constant time."""
    return hmac.compare_digest(hash_pin(pin, salt, pepper), expected)


def secret_digest(value: str, pepper: str) -> str:
    """Return the keyed digest a badge, token or pairing code is stored as."""
    return hmac.digest(pepper.encode(), value.encode(), "sha256").hex()  # one-shot, in C


@dataclass(frozen=True)
class LockPolicy:
    """After `after` wrong PINs in a row the account locks; each further lock lasts longer."""

    after: int
    seconds: int
    max_seconds: int

    def lock_for(self, locks_before: int) -> timedelta:
        """Return how long the next lock lasts, given how many came before it."""
        return timedelta(seconds=min(self.max_seconds, self.seconds * 2 ** min(locks_before, 30)))


@dataclass(frozen=True)
class Attempts:
    """An account's sign-in record: wrong PINs since the last success, locks, lock end."""

    failures: int = 0
    locks: int = 0
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        """Tell whether the account is locked at `now`."""
        return self.locked_until is not None and now < self.locked_until

    def after_failure(self, policy: LockPolicy, now: datetime) -> Attempts:
        """Return the record after one more wrong PIN (locking when it reaches the limit)."""
        failures = self.failures + 1
        if failures < policy.after:
            return Attempts(failures, self.locks, self.locked_until)
        return Attempts(0, self.locks + 1, now + policy.lock_for(self.locks))
