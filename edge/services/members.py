"""Member use cases: save a member, find one at the till, top up stored value."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from typing import Any

from edge.domain.errors import Conflict, InvalidInput, NotFound
from edge.domain.members import MAX_TOP_UP, Member, normalise_phone
from edge.domain.payments import PaymentProvider, PaymentRequest
from edge.domain.tenders import ELECTRONIC
from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.services.catalog import Actor
from edge.services.days import session_in_tx
from edge.services.payments import authorize_all, reverse_all

MEMBER_COLUMNS = "id, name, phone, card_no, tier, active, birthday"
OPEN_DAY = "SELECT 1 FROM business_days WHERE closed_seq IS NULL"


@dataclass(frozen=True)
class MemberAccount:
    """A member and their stored-value balance."""

    member: Member
    stored_value: int
    points: int = 0


def _row_to_account(row: tuple[Any, ...]) -> MemberAccount:
    """Build an account from `MEMBER_COLUMNS, stored_value, points`."""
    mid, name, phone, card_no, tier, active, birthday, balance, points = row
    return MemberAccount(
        Member(mid, name, phone, card_no, tier, bool(active), birthday), int(balance), int(points)
    )


def account_in_tx(conn: sqlite3.Connection, member_id: str) -> MemberAccount | None:
    """Read a member inside the writer's transaction."""
    row = conn.execute(
        f"SELECT {MEMBER_COLUMNS}, stored_value, points FROM members WHERE id = ?", (member_id,)
    ).fetchone()
    return None if row is None else _row_to_account(tuple(row))


def save_member_in_tx(tx: Tx, member: Member, actor: Actor) -> str:
    """Append member.saved unless nothing changed; a phone or card of another member is a 409."""
    before = account_in_tx(tx.conn, member.id)
    if before is not None and before.member == member:
        return "unchanged"
    for name, value in (("phone", member.phone), ("card_no", member.card_no)):
        if value is None:
            continue
        owner = tx.conn.execute(f"SELECT id FROM members WHERE {name} = ?", (value,)).fetchone()
        if owner is not None and owner[0] != member.id:
            raise Conflict(f"that {name} belongs to member {owner[0]}", code="member_conflict")
    tx.append("member.saved", {"member": member.to_data()}, staff=actor.staff, till=actor.till)
    return "created" if before is None else "updated"


async def save_member(ledger: Ledger, member: Member, actor: Actor) -> str:
    """Create or update a member; a phone or card number already used by another is a 409."""
    return await ledger.submit(lambda tx: save_member_in_tx(tx, member, actor))


async def find_member(ledger: Ledger, key: str) -> MemberAccount:
    """Find a member by id, card number, member QR (`M:<id>`) or exact phone number."""
    key = key.strip()
    if key.startswith("M:"):
        key = key[2:]
    rows = ledger.reader.quick(
        f"SELECT {MEMBER_COLUMNS}, stored_value, points FROM members"
        " WHERE id = ?1 OR card_no = ?1 OR phone = ?2 ORDER BY id = ?1 DESC LIMIT 1",
        (key, normalise_phone(key)),
    )
    row = rows[0] if rows else None
    if row is None:
        raise NotFound("no member with that phone, card or id", code="unknown_member")
    return _row_to_account(row)


async def top_up(
    ledger: Ledger,
    *,
    top_up_id: str,
    member_id: str,
    amount: int,
    bonus: int,
    tender: dict[str, Any],
    actor: Actor,
    payments: PaymentProvider | None = None,
    currency: str = "CNY",
    payment_timeout: float = 60.0,
) -> dict[str, Any]:
    """Add `amount` + `bonus` to a member's stored value once per client id.

    `tender` is `{"kind": "cash"}` (into the drawer of the actor's open till) or
    `{"kind": "card"|"qr", "presented": …}`, authorised by `payments` before the ledger write
    (a retry of a recorded top-up is never charged again) and reversed if the write fails.
    A card or QR top-up needs no till (the back office has none): it records the till's open
    session when there is one and `till_session: null` otherwise, inside an open business day
    so the day's Z report counts it.
    """
    if not 1 <= amount <= MAX_TOP_UP or not 0 <= bonus <= amount:
        raise InvalidInput(
            f"a top-up is 1..{MAX_TOP_UP} with a bonus of at most the amount", code="bad_amount"
        )
    kind = tender.get("kind", "cash")
    record: dict[str, Any] = {"kind": kind}
    keys: list[str] = []
    if kind in ELECTRONIC:
        if payments is None:
            raise InvalidInput(f"no payment provider takes {kind} here", code="bad_tender")
        known = ledger.reader.quick("SELECT 1 FROM top_ups WHERE id = ?", (top_up_id,))
        if not known and not ledger.reader.quick(OPEN_DAY):
            raise _closed_day()  # refused before the card or wallet is charged
        if not known:  # a recorded top-up is answered below without charging again
            request = PaymentRequest(
                f"topup:{top_up_id}", kind, amount, currency, tender.get("presented")
            )
            (auth,) = await authorize_all(payments, [request], payment_timeout)
            keys.append(request.key)
            record |= {k: v for k, v in auth.to_data().items() if k not in ("method", "amount")}
    elif kind != "cash":
        raise InvalidInput("a top-up is paid in cash, by card or by QR", code="bad_tender")

    def command(tx: Tx) -> dict[str, Any]:
        done = tx.conn.execute(
            "SELECT member, amount, bonus FROM top_ups WHERE id = ?", (top_up_id,)
        ).fetchone()
        if done is not None:
            if tuple(done) != (member_id, amount, bonus):
                raise Conflict("this top-up id was used for another top-up", code="id_reused")
            account = account_in_tx(tx.conn, member_id)
            assert account is not None  # noqa: S101 - a recorded top-up has its member
            return {"top_up": top_up_id, "member": member_id, "balance": account.stored_value}
        account = account_in_tx(tx.conn, member_id)
        if account is None or not account.member.active:
            raise NotFound(f"no active member {member_id}", code="unknown_member")
        balance = account.stored_value + amount + bonus
        session = _till_session(tx.conn, kind, actor.till)
        tx.append(
            "stored_value.topped_up",
            {
                "top_up": top_up_id,
                "member": member_id,
                "amount": amount,
                "bonus": bonus,
                "balance": balance,
                "tender": record,
                "till_session": session,
            },
            staff=actor.staff,
            till=actor.till,
        )
        return {"top_up": top_up_id, "member": member_id, "balance": balance}

    try:
        return await ledger.submit(command)
    except BaseException:
        if keys:
            await reverse_all(payments, keys)  # type: ignore[arg-type]
        raise


def _closed_day() -> Conflict:
    """Return the refusal of a till-less top-up while no business day is open."""
    return Conflict(
        "no business day is open: open a till first, so the day's Z report counts the top-up",
        code="no_open_day",
    )


def _till_session(conn: sqlite3.Connection, kind: str, till: str | None) -> str | None:
    """Return the till session a top-up belongs to (writer side).

    Cash goes into a drawer: it needs the actor's open till. Card and QR need none: they take
    the till's open session when there is one, else none (the back office), as long as a
    business day is open.
    """
    if kind == "cash":
        try:
            return session_in_tx(conn, till)[0]
        except Conflict as err:
            raise Conflict(
                f"a cash top-up goes into a till's drawer and needs an open till ({err}); "
                "a card or QR top-up needs none",
                code=err.code,
            ) from err
    if till is not None:
        with contextlib.suppress(Conflict):  # the till is not open: like the back office
            return session_in_tx(conn, till)[0]
    if conn.execute(OPEN_DAY).fetchone() is None:
        raise _closed_day()
    return None


async def purchase_history(
    ledger: Ledger, member_id: str, *, limit: int = 50, before_seq: int | None = None
) -> list[dict[str, Any]]:
    """Return a member's sales, newest first (page with `before_seq`), with their status."""
    known = await ledger.reader.fetch_one("SELECT 1 FROM members WHERE id = ?", (member_id,))
    if known is None:
        raise NotFound(f"no member {member_id}", code="unknown_member")
    rows = await ledger.reader.fetch_all(
        "SELECT s.id, s.receipt_no, s.seq, s.ts, s.till, s.total, s.status,"
        " json_extract(j.data, '$.points.earned'), json_array_length(j.data, '$.lines')"
        " FROM sales s JOIN journal j ON j.seq = s.seq WHERE s.member = ?"
        " AND (? IS NULL OR s.seq < ?) ORDER BY s.seq DESC LIMIT ?",
        (member_id, before_seq, before_seq, limit),
    )
    keys = ("sale", "receipt_no", "seq", "ts", "till", "total", "status", "points", "lines")
    return [dict(zip(keys, row, strict=True)) for row in rows]
