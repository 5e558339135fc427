"""Promotion use cases: save and list promotions; issue vouchers (single-use tenders)."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from edge.domain.errors import Conflict, InvalidInput, NotFound
from edge.domain.promotions import Promotion
from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.protocol.chain import dumps_canonical
from edge.services.catalog import Actor, Outcome


def save_promotion_in_tx(tx: Tx, promotion: Promotion, actor: Actor) -> Outcome:
    """Append a promotion_saved event unless nothing changed."""
    data = promotion.to_data()
    row = tx.conn.execute("SELECT data FROM promotions WHERE id = ?", (promotion.id,)).fetchone()
    if row is not None and row[0] == dumps_canonical(data):
        return "unchanged"
    tx.append("catalog.promotion_saved", {"promotion": data}, staff=actor.staff, till=actor.till)
    return "created" if row is None else "updated"


async def save_promotion(ledger: Ledger, promotion: Promotion, actor: Actor) -> Outcome:
    """Create or update a promotion (no event when nothing changed)."""
    return await ledger.submit(lambda tx: save_promotion_in_tx(tx, promotion, actor))


async def list_promotions(ledger: Ledger, *, active_only: bool = False) -> list[Promotion]:
    """Return the promotions, by id."""
    where = " WHERE active = 1" if active_only else ""
    rows = await ledger.reader.fetch_all(f"SELECT data FROM promotions{where} ORDER BY id")
    return [Promotion.from_data(json.loads(row[0])) for row in rows]


VOUCHER_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{3,31}$")
MAX_VOUCHERS = 1000
MAX_VOUCHER_VALUE = 10_000_000


def _voucher_code() -> str:
    """Return a new voucher code: 12 characters nobody can guess (60 bits)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "GV-" + "".join(secrets.choice(alphabet) for _ in range(12))


async def issue_vouchers(
    ledger: Ledger,
    specs: Sequence[Mapping[str, Any]],
    actor: Actor,
) -> list[dict[str, Any]]:
    """Issue single-use vouchers (given codes or new ones); return them."""
    if not 1 <= len(specs) <= MAX_VOUCHERS:
        raise InvalidInput(f"issue 1 to {MAX_VOUCHERS} vouchers at once", code="bad_vouchers")
    vouchers = []
    for index, spec in enumerate(specs):
        code = spec.get("code") or _voucher_code()
        if not VOUCHER_CODE.match(code):
            raise InvalidInput(f"vouchers[{index}]: a code is 4-32 letters/digits", code="bad_code")
        amount = spec["amount"]
        if type(amount) is not int or not 1 <= amount <= MAX_VOUCHER_VALUE:
            raise InvalidInput(f"vouchers[{index}]: amount out of range", code="bad_amount")
        valid_from, valid_to = spec.get("valid_from"), spec.get("valid_to")
        for when in (valid_from, valid_to):
            if when is not None:
                try:
                    date.fromisoformat(when)
                except ValueError as err:
                    raise InvalidInput(
                        f"vouchers[{index}]: {when!r} is not a date", code="bad_date"
                    ) from err
        if valid_from and valid_to and valid_to < valid_from:
            raise InvalidInput(f"vouchers[{index}]: ends before it starts", code="bad_date")
        vouchers.append(
            {"code": code, "amount": amount, "valid_from": valid_from, "valid_to": valid_to,
             "member": spec.get("member")}
        )  # fmt: skip
    codes = [v["code"] for v in vouchers]
    if len(set(codes)) != len(codes):
        raise InvalidInput("a code is named twice", code="bad_code")

    def command(tx: Tx) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(codes))
        taken = [
            r[0]
            for r in tx.conn.execute(f"SELECT code FROM vouchers WHERE code IN ({marks})", codes)
        ]
        if taken:
            raise Conflict(f"already issued: {', '.join(taken[:5])}", code="voucher_exists")
        members = sorted({v["member"] for v in vouchers if v["member"]})
        for member in members:
            if not tx.conn.execute("SELECT 1 FROM members WHERE id = ?", (member,)).fetchone():
                raise NotFound(f"no member {member}", code="unknown_member")
        tx.append("voucher.issued", {"vouchers": vouchers}, staff=actor.staff, till=actor.till)
        return vouchers

    return await ledger.submit(command)


async def voucher_state(ledger: Ledger, code: str) -> dict[str, Any]:
    """Return a voucher: its value, validity, member and the sale that used it."""
    row = await ledger.reader.fetch_one(
        "SELECT v.code, v.amount, v.valid_from, v.valid_to, v.member, r.sale_id FROM vouchers v"
        " LEFT JOIN vouchers_redeemed r ON r.code = v.code WHERE v.code = ?",
        (code,),
    )
    if row is None:
        raise NotFound(f"no voucher {code}", code="unknown_voucher")
    keys = ("code", "amount", "valid_from", "valid_to", "member", "used_by_sale")
    return dict(zip(keys, row, strict=True))
