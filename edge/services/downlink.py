"""Apply HQ's catalog changes (the downlink): all of them or none, each recorded as an event.

HQ publishes changes as numbered versions: categories, products, prices, promotions, members,
staff, and the transfers it routes between stores. The store applies everything after the
version it holds in one ledger command, with the same rules as the back office (barcode and
PLU clashes, unknown categories, a member price above the list price…), and ends it with a
`catalog.synced` event naming the version reached. If any change fails, the whole set is
rolled back, a `catalog.sync_rejected` event lists every problem (it travels to HQ on the
uplink) and the store keeps selling from its last good catalog.

A later whole record of the same thing supersedes earlier ones (a product supersedes older
versions of that product and older price changes for it), so HQ corrects a refused change by
publishing the corrected record: the next sync applies the set without the bad one.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edge.domain.catalog import (
    category_from_fields,
    price_change_from_fields,
    product_from_fields,
)
from edge.domain.errors import Conflict, DomainError, NotFound, ValidationFailed
from edge.domain.members import member_from_fields
from edge.domain.promotions import promotion_from_fields
from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.services.auth import StaffInput, save_staff_in_tx
from edge.services.catalog import (
    Actor,
    save_category_in_tx,
    save_product_in_tx,
    stored_product,
)
from edge.services.inventory import announce_transfer_in_tx, checked_items, confirm_transfer_in_tx
from edge.services.members import save_member_in_tx
from edge.services.promotions import save_promotion_in_tx

KINDS = (
    "category",
    "product",
    "price",
    "promotion",
    "member",
    "staff",
    "transfer",
    "transfer_receipt",
)
MAX_PROBLEMS = 50  # a rejection lists this many problems (and says how many there were)
OFFLOAD_AT = 50  # a set this large is applied on the writer's thread
HQ = Actor()  # changes from HQ carry no staff or till; the catalog.synced event frames them
STAFF_FIELDS = ("id", "name", "role", "active", "commission_bp")

Applier = Callable[[Tx], str]


@dataclass(frozen=True)
class Change:
    """One change HQ published: its version, kind and body (as the HTTP API takes it)."""

    version: int
    kind: str
    body: Mapping[str, Any]

    @property
    def entity(self) -> str | None:
        """Return what the change is about (`product:MILK`), None for a transfer."""
        name = "product" if self.kind in ("product", "price") else self.kind
        key = self.body.get("product" if self.kind == "price" else "id")
        if self.kind in ("transfer", "transfer_receipt") or not isinstance(key, str):
            return None
        return f"{name}:{key}"

    @property
    def whole(self) -> bool:
        """Return whether the change sets its entity entirely (a price change does not)."""
        return self.kind not in ("price", "transfer", "transfer_receipt")


@dataclass
class SyncResult:
    """What one sync did: applied up to `version`, or rejected with its problems."""

    from_version: int
    version: int
    changes: int = 0
    superseded: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        """Return whether the set was refused."""
        return bool(self.problems)


class SetRejected(Exception):
    """Raised inside the command to roll the whole set back."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        """Keep the problems."""
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


def read_changes(raw: Any) -> list[Change]:
    """Check the shape of HQ's change list (versions rising, known kinds, object bodies).

    A malformed list is HQ's bug, not a catalog problem: raise ValidationFailed naming it.
    """
    if not isinstance(raw, list):
        raise ValidationFailed([("changes", "must be a list")], code="bad_downlink")
    changes: list[Change] = []
    problems: list[tuple[str, str]] = []
    last = 0
    for index, item in enumerate(raw):
        where = f"changes[{index}]"
        if not isinstance(item, dict):
            problems.append((where, "must be an object"))
            continue
        version, kind, body = item.get("version"), item.get("kind"), item.get("body")
        if isinstance(version, bool) or not isinstance(version, int) or version <= last:
            problems.append((f"{where}.version", "must be an integer above the one before"))
            continue
        last = version
        if not isinstance(body, dict):
            problems.append((f"{where}.body", "must be an object"))
            continue
        changes.append(Change(version, str(kind), body))
    if problems:
        raise ValidationFailed(problems, code="bad_downlink")
    return changes


def supersede(changes: Sequence[Change]) -> list[Change]:
    """Drop every change a later whole record of the same entity replaces (order kept)."""
    replaced: set[str] = set()
    kept: list[Change] = []
    for change in reversed(changes):
        entity = change.entity
        if entity is not None and entity in replaced:
            continue
        if entity is not None and change.whole:
            replaced.add(entity)
        kept.append(change)
    kept.reverse()
    return kept


def _problem(change: Change, path: str, message: str) -> dict[str, Any]:
    """Describe one problem of a change for the rejection event and the operator."""
    return {
        "version": change.version,
        "kind": change.kind,
        "entity": change.entity,
        "path": path,
        "message": message,
    }


def _problems(change: Change, err: DomainError) -> list[dict[str, Any]]:
    """Turn a domain error into problems of `change`."""
    if isinstance(err, ValidationFailed):
        return [_problem(change, path, text) for path, text in err.problems]
    return [_problem(change, err.code, err.message)]


def _staff(body: Mapping[str, Any]) -> StaffInput:
    """Check a staff record from HQ (no PIN and no badge: those are set in the store).

    The types are checked here; StaffInput checks the id, the role and the commission.
    """
    problems = [(key, "is not a staff field HQ sends") for key in body if key not in STAFF_FIELDS]
    staff_id, name, role = body.get("id"), body.get("name"), body.get("role")
    active, commission = body.get("active", True), body.get("commission_bp", 0)
    for field_name, value in (("id", staff_id), ("role", role)):
        if not isinstance(value, str):
            problems.append((field_name, "is required text"))
    if not isinstance(name, str) or not name.strip() or len(name) > 80:
        problems.append(("name", "is required text of at most 80 characters"))
    if not isinstance(active, bool):
        problems.append(("active", "must be true or false"))
    if isinstance(commission, bool) or not isinstance(commission, int):
        problems.append(("commission_bp", "must be an integer"))
    if problems:
        raise ValidationFailed(problems)
    return StaffInput(str(staff_id), str(name).strip(), str(role), bool(active), None, commission)


def _transfer(body: Mapping[str, Any], other: str) -> tuple[str, str, list[dict[str, Any]]]:
    """Check a routed transfer: its id, the other store and its lines."""
    transfer, store, lines = body.get("transfer"), body.get(other), body.get("lines")
    problems = []
    if not isinstance(transfer, str) or not 1 <= len(transfer) <= 64:
        problems.append(("transfer", "must be the transfer's id"))
    if not isinstance(store, str) or not store:
        problems.append((other, "must be a store id"))
    if not isinstance(lines, list) or len(lines) > 1000:
        problems.append(("lines", "must be a list of at most 1000 lines"))
    if problems:
        raise ValidationFailed(problems)
    return transfer, store, checked_items(lines)  # type: ignore[arg-type,return-value]


def prepare(change: Change) -> Applier:
    """Check a change on its own and return what applies it inside the sync's transaction."""
    body = change.body
    match change.kind:
        case "category":
            category = category_from_fields(body)
            return lambda tx: save_category_in_tx(tx, category, HQ)
        case "product":
            product = product_from_fields(body)
            return lambda tx: save_product_in_tx(tx, product, HQ)
        case "price":
            price = price_change_from_fields(body)

            def reprice(tx: Tx) -> str:
                before = stored_product(tx.conn, price.product)
                if before is None:
                    raise NotFound(f"no product {price.product}", code="unknown_product")
                return save_product_in_tx(tx, price.apply(before), HQ)

            return reprice
        case "promotion":
            promotion = promotion_from_fields(body)
            return lambda tx: save_promotion_in_tx(tx, promotion, HQ)
        case "member":
            member = member_from_fields(body)
            return lambda tx: save_member_in_tx(tx, member, HQ)
        case "staff":
            staff = _staff(body)
            return lambda tx: save_staff_in_tx(
                tx, staff, badge=None, keep_badge=True, pin=None, actor=HQ, require_pin=False
            )
        case "transfer":
            transfer, source, lines = _transfer(body, "from_store")
            return lambda tx: _done(announce_transfer_in_tx(tx, transfer, source, lines, HQ))
        case "transfer_receipt":
            transfer, destination, lines = _transfer(body, "to_store")
            return lambda tx: _done(confirm_transfer_in_tx(tx, transfer, destination, lines, HQ))
    raise ValidationFailed([("kind", f"must be one of {', '.join(KINDS)}")])


def _done(_: Any) -> str:
    """Return the outcome of a transfer step (recorded once, repeats change nothing)."""
    return "applied"


def synced_version(conn: sqlite3.Connection) -> int:
    """Return the HQ catalog version this ledger holds (0 before the first sync)."""
    row = conn.execute("SELECT version FROM catalog_sync WHERE id = 1").fetchone()
    return 0 if row is None else int(row[0])


async def apply_changes(
    ledger: Ledger, changes: Sequence[Change], *, from_version: int, version: int
) -> SyncResult:
    """Apply HQ's changes from `from_version` up to `version` at once, or refuse them all."""
    result = SyncResult(from_version, version, changes=len(changes))
    kept = supersede(changes)
    result.superseded = len(changes) - len(kept)
    appliers: list[tuple[Change, Applier]] = []
    for change in kept:
        try:
            appliers.append((change, prepare(change)))
        except DomainError as err:
            result.problems.extend(_problems(change, err))
    if not result.problems:
        try:
            result.outcomes = await ledger.submit(
                lambda tx: _apply(tx, result, appliers), offload=len(appliers) >= OFFLOAD_AT
            )
        except SetRejected as err:
            result.problems = err.problems
        else:
            return result
    await ledger.submit(lambda tx: _record_rejection(tx, result))
    return result


def _apply(tx: Tx, result: SyncResult, appliers: list[tuple[Change, Applier]]) -> dict[str, int]:
    """Run every change in version order; any problem rolls the whole set back."""
    held = synced_version(tx.conn)
    if held != result.from_version:
        raise Conflict(
            f"the ledger holds catalog version {held}, not {result.from_version}",
            code="sync_moved",
        )
    outcomes: Counter[str] = Counter()
    problems: list[dict[str, Any]] = []
    for change, applier in appliers:
        try:
            outcomes[applier(tx)] += 1
        except DomainError as err:
            problems.extend(_problems(change, err))
    if problems:
        raise SetRejected(problems)
    if result.version != result.from_version:
        tx.append(
            "catalog.synced",
            {
                "from_version": result.from_version,
                "version": result.version,
                "changes": result.changes,
                "superseded": result.superseded,
                "outcomes": dict(sorted(outcomes.items())),
            },
        )
    return dict(outcomes)


def _record_rejection(tx: Tx, result: SyncResult) -> None:
    """Append catalog.sync_rejected, unless the same refusal is already the latest on record."""
    shown = result.problems[:MAX_PROBLEMS]
    row = tx.conn.execute(
        "SELECT rejected_version, rejected_problems FROM catalog_sync WHERE id = 1"
    ).fetchone()
    if row is not None and row[0] == result.version and json.loads(row[1] or "null") == shown:
        return
    tx.append(
        "catalog.sync_rejected",
        {
            "from_version": result.from_version,
            "version": result.version,
            "problem_count": len(result.problems),
            "problems": shown,
        },
    )


CATALOG_STATE = (
    "SELECT version, synced_seq, synced_ts, rejected_version, rejected_problems, rejected_seq"
    " FROM catalog_sync WHERE id = 1"
)


async def sync_state(ledger: Ledger) -> dict[str, Any]:
    """Return the downlink's place in the ledger: version, when, and the refusal standing."""
    return state_doc(await ledger.reader.fetch_one(CATALOG_STATE))


def sync_state_in(conn: sqlite3.Connection) -> dict[str, Any]:
    """Return the downlink's place from an open connection (the server may be stopped)."""
    return state_doc(conn.execute(CATALOG_STATE).fetchone())


def state_doc(row: Sequence[Any] | None) -> dict[str, Any]:
    """Describe a catalog_sync row (None before anything was synced or refused)."""
    fields: Sequence[Any] = (0, None, None, None, None, None) if row is None else row
    version, synced_seq, synced_ts, rejected_version, problems, rejected_seq = fields
    rejected = None
    if rejected_version is not None:
        rejected = {
            "version": rejected_version,
            "seq": rejected_seq,
            "problems": json.loads(str(problems)),
        }
    state = "rejected" if rejected else ("synced" if synced_seq else "never_synced")
    return {
        "state": state,
        "version": version,
        "synced_seq": synced_seq,
        "synced_ts": synced_ts,
        "rejected": rejected,
    }
