"""Completing a sale: price on the server, take the payments, record it once, durably.

A sale is submitted with a client-generated id. The same id with the same body is the same
sale (the original result is returned, nothing is recorded or charged twice); the same id with
another body is refused. Electronic payments are authorised before the ledger write with keys
derived from the id and the body, and reversed if the sale cannot be recorded. Everything the
sale changes (the sale with its tenders, stored value, stock) is appended in one command, so
it is all durable or none of it is.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from edge.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from edge.domain.payments import Authorization, PaymentProvider, PaymentRequest
from edge.domain.points import PointsRules, points_earned, points_for_amount
from edge.domain.pricing import Discount, LineInput, PricedBasket, PricedLine
from edge.domain.rounding import CashRoundingMode
from edge.domain.tenders import ELECTRONIC, EXCHANGE, TenderInput, TenderPlan, plan_tenders
from edge.domain.values import value
from edge.ledger.errors import AnswerFailedError
from edge.ledger.journal import COLUMNS, Tx, row_to_event
from edge.ledger.ledger import Ledger
from edge.protocol.chain import Event, PreparedData, canonical_bytes, prepare_data
from edge.services.basket import BasketPricer, BasketRequest, Pricing
from edge.services.catalog import Actor
from edge.services.days import session_in_tx
from edge.services.inventory import check_available, check_not_expired
from edge.services.members import account_in_tx, find_member
from edge.services.payments import authorize_all, reverse_all


class InsufficientPoints(DomainError):
    """Raise when a member's points do not cover the points tender."""

    code = "insufficient_points"
    status = 402


class InsufficientStoredValue(DomainError):
    """Raise when a member's stored value does not cover the tender."""

    code = "insufficient_stored_value"
    status = 402


@dataclass(frozen=True)
class BasketMember:
    """The member a basket is for, as pricing needs them."""

    id: str
    display: str
    tier: str
    birthday: bool  # it is their birthday today (store time)


@value
class SaleRequest:
    """A sale as a till submits it."""

    id: str
    basket: BasketRequest
    tenders: tuple[TenderInput, ...]
    fingerprint: str  # hash of the request body: same id + same fingerprint = same sale
    actor: Actor


# the sale's fields only its ledger command knows (see `record`)
RECORDED_FIELDS = ("receipt_no", "token", "day", "till_session")


@value
class PreparedSale:
    """A priced and paid sale waiting for its ledger command."""

    request: SaleRequest
    data: dict[str, Any]
    items: list[dict[str, Any]]
    payment_keys: tuple[str, ...]
    credit_used: int
    payload: PreparedData  # `data`, checked and serialised before the writer's turn
    stock: PreparedData | None  # the stock movement's data, when anything moves


@value
class SaleRecord:
    """A recorded sale: its `sale.completed` event; `replayed` when it was recorded before.

    `data_json` is the event data's canonical text when the sale was just recorded (the
    answer is made from it rather than serialising the sale again).
    """

    event: Event
    replayed: bool
    data_json: str | None = None


R = TypeVar("R")


def _itself(record: SaleRecord) -> SaleRecord:
    """Return the record (the answer of `complete_sale`)."""
    return record


def receipt_token(receipt_no: int) -> str:
    """Return a new e-receipt token: the receipt number (8 hex digits), then 128 random bits.

    The random part makes it unguessable. The number in front makes the tokens of consecutive
    sales neighbours in the token index: recording a sale touches that index's last page
    instead of a random page of an index that grows with every sale the store ever makes
    (a third of the pages a group of sales wrote, and a page read per sale once the index
    outgrew the cache). The number is printed on the receipt anyway.
    """
    return f"{receipt_no:08x}{secrets.token_urlsafe(16)}"


def fingerprint(body: Mapping[str, Any]) -> str:
    """Hash a request body for idempotency (card and wallet data left out, never stored)."""

    def scrub(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items() if k != "presented"}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        return value

    # only tenders carry what a shopper presented: copy just those, not the whole body
    kept = {key: scrub(v) if key in ("tenders", "new") else v for key, v in body.items()}
    return hashlib.sha256(canonical_bytes(kept)).hexdigest()  # bodies hold no floats (schemas)


def line_data(line: PricedLine, code: str | None) -> dict[str, Any]:
    """Return a priced line's event form."""
    return {
        "index": line.index,
        "product": line.product_id,
        "code": code,
        "name_zh": line.name_zh,
        "name_en": line.name_en,
        "category": line.category,
        "tax_class": line.tax_class,
        "quantity": line.quantity,
        "grams": line.grams,
        "unit_price": line.unit_price,
        "gross": line.gross,
        "discounts": [discount_data(d) for d in line.discounts],
        "basket_share": line.basket_share,
        "net": line.net,
        "tax_rate_bp": line.tax_rate_bp,
        "tax": line.tax,
        "amount": line.amount,
    }


def discount_data(discount: Discount) -> dict[str, Any]:
    """Return a discount's event form."""
    return discount.to_data()


def basket_data(priced: PricedBasket, codes: list[str | None]) -> dict[str, Any]:
    """Return the priced basket's part of a sale event (or of a price preview)."""
    return {
        "lines": [line_data(line, codes[line.index]) for line in priced.lines],
        "basket_discounts": [discount_data(d) for d in priced.basket_discounts],
        "subtotal": priced.subtotal,
        "discount_total": priced.discount_total,
        "tax": [
            {"rate_bp": t.rate_bp, "net": t.net, "tax": t.tax, "gross": t.gross} for t in priced.tax
        ],
        "tax_total": priced.tax_total,
        "total": priced.total,
        "coupons_unused": list(priced.coupons_unused),
    }


def _tender_record(
    tender: TenderInput, plan: TenderPlan, auth: Authorization | None, member: str | None
) -> dict[str, Any]:
    """Return one tender's event form (never the card number)."""
    if tender.kind == "cash":
        return plan.cash_record()
    record: dict[str, Any] = {"kind": tender.kind, "amount": tender.amount}
    if auth is not None:
        record |= {
            "provider": auth.provider,
            "reference": auth.reference,
            "auth_code": auth.auth_code,
            "masked_pan": auth.masked_pan,
            "token": auth.token,
        }
    if tender.kind in ("stored_value", "points"):
        record["member"] = member
    if tender.kind == "coupon":
        record["code"] = tender.code
    if tender.kind == EXCHANGE:
        record["return"] = tender.code
    return record


def read_event(tx_or_conn: Any, seq: int) -> Event:
    """Read one journal event by seq (writer side)."""
    row = tx_or_conn.execute(f"SELECT {COLUMNS} FROM journal WHERE seq = ?", (seq,)).fetchone()
    return row_to_event(tuple(row))


class Checkout:
    """The store's checkout: pricing, payments and recording sales."""

    def __init__(
        self,
        ledger: Ledger,
        pricing: Pricing,
        payments: PaymentProvider,
        *,
        currency: str,
        exponent: int,
        cash_rounding: int,
        cash_rounding_mode: CashRoundingMode,
        clock: Callable[[], datetime],
        payment_timeout: float = 60.0,
        allow_negative: bool = True,
        points: PointsRules | None = None,
        tiers: Mapping[str, int] | None = None,
        block_expired: bool = True,
    ) -> None:
        """Keep the collaborators; `allow_negative=False` refuses sales beyond stock."""
        self.ledger = ledger
        self.pricing = pricing
        self.payments = payments
        self.currency = currency
        self.exponent = exponent
        self.cash_rounding = cash_rounding
        self.cash_rounding_mode = cash_rounding_mode
        self.clock = clock
        self.payment_timeout = payment_timeout
        self.allow_negative = allow_negative
        self.points = points or PointsRules()
        self.tiers = dict(tiers or {})  # tier -> cumulative spend that reaches it
        self.block_expired = block_expired
        self.pricer = BasketPricer(ledger, pricing)

    async def _member(self, member_id: str | None) -> BasketMember | None:
        """Return the basket's member (checking they may buy), or None for no member."""
        if member_id is None:
            return None
        account = await find_member(self.ledger, member_id)
        if not account.member.active or account.member.id != member_id:
            raise NotFound(f"no active member {member_id}", code="unknown_member")
        today = self.clock().astimezone(self.pricing.tz).strftime("%m-%d")
        member = account.member
        return BasketMember(member.id, member.display, member.tier, member.birthday == today)

    async def priced(
        self, basket: BasketRequest
    ) -> tuple[BasketMember | None, list[LineInput], PricedBasket]:
        """Find the basket's member and price the basket for them (tier, birthday included).

        The one pricing path of previews, sales and pickup orders.
        """
        member = await self._member(basket.member)
        inputs, priced = await self.pricer.price(
            basket,
            self.clock(),
            member=member is not None,
            tier=member.tier if member else None,
            birthday=member.birthday if member else False,
        )
        return member, inputs, priced

    async def price(self, basket: BasketRequest) -> dict[str, Any]:
        """Price a basket without recording anything (what the till shows while scanning)."""
        member, _, priced = await self.priced(basket)
        codes = [line.code for line in basket.lines]
        return basket_data(priced, codes) | {
            "member": member.id if member else None,
            "member_display": member.display if member else None,
        }

    async def recorded(self, sale_id: str) -> tuple[int, str] | None:
        """Return (seq, fingerprint) of a sale already recorded under this id."""
        rows = self.ledger.reader.quick(
            "SELECT seq, request_hash FROM sales WHERE id = ?", (sale_id,)
        )
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    async def complete_sale(self, request: SaleRequest) -> SaleRecord:
        """Price, pay and record a sale exactly once per client id."""
        return await self.complete_sale_then(request, _itself)

    async def complete_sale_then(self, request: SaleRequest, then: Callable[[SaleRecord], R]) -> R:
        """Complete a sale (as `complete_sale`) and return `then(record)`.

        A new sale's `then` runs while its COMMIT waits for the disk (the caller's answer is
        built meanwhile) and its value comes back only once the sale is durable.
        """
        electronic = [t for t in request.tenders if t.kind in ELECTRONIC]
        if electronic:  # a retry must not reach the terminal again
            done = await self.recorded(request.id)
            if done is not None:
                return then(await self._replay(request, *done))
        prepared = await self.prepare(request)
        self.ledger.pump()  # pricing took a while: a group whose turn came runs first
        try:
            return await self.ledger.submit(lambda tx: self.record(tx, prepared), then=then)
        except AnswerFailedError as err:  # recorded: the payments stay, only the answer failed
            raise err.error from err
        except BaseException:
            await self.release(prepared)
            raise

    async def prepare(
        self, request: SaleRequest, *, credit: int = 0, credit_from: str = ""
    ) -> PreparedSale:
        """Price the basket, plan the tenders and authorise card/QR payments.

        `credit` is what an exchange's return gives towards this sale (used up to the total,
        as an `exchange` tender naming the return `credit_from`).
        """
        if request.basket.member is None and any(
            t.kind in ("stored_value", "points") for t in request.tenders
        ):
            raise InvalidInput(
                "stored value and points pay only for a member's basket", code="no_member"
            )
        who, inputs, priced = await self.priced(request.basket)
        member, display = (who.id, who.display) if who else (None, None)
        used = min(credit, priced.total)
        given = request.tenders
        if used:
            given = (TenderInput("exchange", used, code=credit_from), *given)
        plan = plan_tenders(priced.total, given, self.cash_rounding, self.cash_rounding_mode)
        keys = [f"{request.id}:{request.fingerprint[:16]}:{i}" for i in range(len(plan.tenders))]
        payment_requests = [
            PaymentRequest(
                key=keys[i],
                method=cast(Any, t.kind),
                amount=t.amount,
                currency=self.currency,
                presented=t.presented,
            )
            for i, t in enumerate(plan.tenders)
            if t.kind in ELECTRONIC
        ]
        auths = (
            await authorize_all(self.payments, payment_requests, self.payment_timeout)
            if payment_requests
            else []
        )
        by_key = dict(zip((p.key for p in payment_requests), auths, strict=True))
        tenders = [
            _tender_record(t, plan, by_key.get(keys[i]), member) for i, t in enumerate(plan.tenders)
        ]
        redeemed = 0
        for tender in tenders:
            if tender["kind"] == "points":
                tender["points"] = points_for_amount(tender["amount"], self.points)
                redeemed += tender["points"]
        data = {
            "sale": request.id,
            "request_hash": request.fingerprint,
            "member": member,
            "member_display": display,
            "currency": self.currency,
            "exponent": self.exponent,
            "tax_mode": self.pricing.policy.mode,
            **basket_data(priced, [line.code for line in request.basket.lines]),
            "coupons": list(request.basket.coupons),
            "rounding": plan.rounding,
            "due": plan.due,
            "tenders": tenders,
            "change": plan.change,
        }
        if member is not None:
            paid_with_points = sum(t["amount"] for t in tenders if t["kind"] == "points")
            earned = points_earned(
                ((line.category or "", line.amount) for line in priced.lines),
                priced.total,
                paid_with_points,
                who.tier if who else None,
                self.points,
            )
            data["points"] = {"earned": earned, "redeemed": redeemed}
        # stock moves in pieces, or grams for weighed goods; a price label without a weight
        # (pre-packed goods priced by the scale) moves no stock here: it is counted at packing
        for line, given_line in zip(data["lines"], inputs, strict=True):
            line["stock"] = given_line.grams or (
                None if given_line.fixed_price is not None else given_line.quantity
            )
        items = [
            {"product": line["product"], "quantity": -line["stock"]}
            for line in data["lines"]
            if line["stock"]
        ]
        stock = (
            prepare_data({"reason": "sale", "sale": request.id, "items": items}) if items else None
        )
        return PreparedSale(
            request,
            data,
            items,
            tuple(p.key for p in payment_requests),
            used,
            prepare_data(data, later=RECORDED_FIELDS),
            stock,
        )

    async def release(self, prepared: PreparedSale) -> None:
        """Reverse a prepared sale's authorisations after it could not be recorded."""
        await reverse_all(self.payments, list(prepared.payment_keys))

    async def _replay(self, request: SaleRequest, seq: int, recorded_hash: str) -> SaleRecord:
        """Answer a retry with the recorded sale, or refuse another body under the same id."""
        if recorded_hash != request.fingerprint:
            raise Conflict(
                f"sale {request.id} was recorded with a different body", code="id_reused"
            )
        async with self.ledger.reader.connection() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT {COLUMNS} FROM journal WHERE seq = ?", (seq,)
            )
        return SaleRecord(row_to_event(tuple(next(iter(rows)))), replayed=True)

    def record(self, tx: Tx, prepared: PreparedSale) -> SaleRecord:
        """Append the sale and what it changes (runs in the writer's transaction)."""
        request, data = prepared.request, prepared.data
        done = tx.conn.execute(
            "SELECT s.seq, s.request_hash, d.last FROM (SELECT 1)"
            " LEFT JOIN sales s ON s.id = ? LEFT JOIN documents d ON d.id = 1",
            (request.id,),
        ).fetchone()
        if done[0] is not None:
            if done[1] != request.fingerprint:
                raise Conflict(
                    f"sale {request.id} was recorded with a different body", code="id_reused"
                )
            return SaleRecord(read_event(tx.conn, done[0]), replayed=True)
        balances: dict[str, int] = {}
        for tender in data["tenders"]:
            if tender["kind"] == "stored_value":
                account = account_in_tx(tx.conn, tender["member"])
                balance = balances.get(tender["member"], account.stored_value if account else 0)
                if balance < tender["amount"]:
                    raise InsufficientStoredValue(
                        f"the member's stored value is {balance}, not {tender['amount']}"
                    )
                balances[tender["member"]] = balance - tender["amount"]
            if tender["kind"] == "coupon":
                self._check_voucher(tx, tender, data)
        redeemed = data.get("points", {}).get("redeemed", 0)
        if redeemed:
            row = tx.conn.execute(
                "SELECT points FROM members WHERE id = ?", (data["member"],)
            ).fetchone()
            if row is None or row[0] < redeemed:
                raise InsufficientPoints(
                    f"the member has {row[0] if row else 0} points, not {redeemed}"
                )
        actor = request.actor
        session, day = session_in_tx(tx.conn, actor.till)
        if not self.allow_negative:
            check_available(tx.conn, prepared.items)
        if self.block_expired and prepared.items:
            today = tx.now().astimezone(self.pricing.tz).date().isoformat()
            check_not_expired(tx.conn, prepared.items, today)
        receipt_no = (done[2] or 0) + 1
        payload = prepared.payload.with_fields(
            receipt_no=receipt_no,
            token=receipt_token(receipt_no),
            day=day,
            till_session=session,
        )
        event = tx.append("sale.completed", payload, till=actor.till, staff=actor.staff)
        for member, balance in balances.items():
            spent = sum(
                t["amount"]
                for t in data["tenders"]
                if t["kind"] == "stored_value" and t["member"] == member
            )
            tx.append(
                "stored_value.spent",
                {"member": member, "sale": request.id, "amount": spent, "balance": balance},
                till=actor.till,
                staff=actor.staff,
            )
        if prepared.stock is not None:
            tx.append("stock.moved", prepared.stock, till=actor.till, staff=actor.staff)
        if data["member"] is not None and self.tiers:
            self._upgrade(tx, data["member"], actor)
        return SaleRecord(event, replayed=False, data_json=payload.canonical())

    def _upgrade(self, tx: Tx, member: str, actor: Actor) -> None:
        """Move a member up to the highest tier their spend reaches (never down)."""
        row = tx.conn.execute("SELECT tier, spend FROM members WHERE id = ?", (member,)).fetchone()
        if row is None:
            return
        tier, spend = row
        ladder = sorted(self.tiers.items(), key=lambda item: item[1])
        reached = [name for name, threshold in ladder if spend >= threshold]
        if not reached:
            return
        names = [name for name, _ in ladder]
        current = names.index(tier) if tier in names else -1
        if names.index(reached[-1]) > current:
            tx.append(
                "member.tier_changed",
                {"member": member, "from": tier, "to": reached[-1], "spend": spend},
                till=actor.till,
                staff=actor.staff,
            )

    def _check_voucher(self, tx: Tx, tender: dict[str, Any], data: dict[str, Any]) -> None:
        """Refuse a voucher tender that is unknown, used, out of date, another member's or short.

        A voucher pays once, at most its value (what it does not cover is never paid out).
        """
        code = tender["code"]
        row = tx.conn.execute(
            "SELECT v.amount, v.valid_from, v.valid_to, v.member, r.sale_id FROM vouchers v"
            " LEFT JOIN vouchers_redeemed r ON r.code = v.code WHERE v.code = ?",
            (code,),
        ).fetchone()
        if row is None:
            raise DomainError(f"no voucher {code} was issued", code="unknown_voucher")
        amount, valid_from, valid_to, member, used_by = row
        codes = [t.get("code") for t in data["tenders"] if t["kind"] == "coupon"]
        if used_by is not None or codes.count(code) > 1:
            raise Conflict(f"voucher {code} was already used", code="voucher_used")
        today = tx.now().astimezone(self.pricing.tz).date().isoformat()
        if (valid_from and today < valid_from) or (valid_to and today > valid_to):
            raise DomainError(f"voucher {code} is not valid today", code="voucher_expired")
        if member is not None and member != data["member"]:
            raise DomainError(f"voucher {code} is another member's", code="voucher_not_yours")
        if tender["amount"] > amount:
            raise DomainError(
                f"voucher {code} is worth {amount}, not {tender['amount']}", code="voucher_value"
            )

    async def sale_event(
        self, *, sale_id: str | None = None, receipt_no: int | None = None, token: str | None = None
    ) -> Event:
        """Return a recorded sale's event by id, receipt number or e-receipt token."""
        column, value = (
            ("id", sale_id)
            if sale_id is not None
            else ("receipt_no", receipt_no)
            if receipt_no is not None
            else ("token", token)
        )
        async with self.ledger.reader.connection() as conn:
            rows = list(
                await conn.execute_fetchall(
                    f"SELECT {COLUMNS} FROM journal WHERE seq ="
                    f" (SELECT seq FROM sales WHERE {column} = ?)",
                    (value,),
                )
            )
        if not rows:
            raise NotFound("no such sale", code="unknown_sale")
        return row_to_event(tuple(rows[0]))
