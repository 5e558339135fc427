"""Pricing a basket: list and member prices, overrides, promotions, manual discounts and tax.

`price_basket` is a pure function of the basket, the store's promotions, its tax policy and
its time zone. Line by line: gross (list price x quantity, by weight, or a price label's
price), then member price or a supervisor's override, item promotions in priority order, the
cashier's line discount; then basket promotions and the cashier's basket discount, shared
over the lines; then tax. Every discount names itself for the receipt. The result does not
depend on the scan order: ties are broken by a canonical order of the lines' contents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, tzinfo
from typing import Any

from edge.domain.errors import DomainError, InvalidInput
from edge.domain.promotion_engine import (
    WorkLine,
    apply_basket_promotion,
    apply_item_promotion,
    share_out,
    take_whole_line,
)
from edge.domain.promotions import BASKET_KINDS, Promotion
from edge.domain.rounding import div_round_half_up
from edge.domain.tax import TaxLine, TaxPolicy, compute_tax
from edge.domain.values import value

MAX_LINES = 500
MAX_QUANTITY = 9999
MAX_GRAMS = 1_000_000
MAX_PRICE = 100_000_000
FULL_BP = 10_000


@dataclass(frozen=True)
class ManualDiscount:
    """A cashier's discount on a line or on the basket: exactly one of percent_bp / amount."""

    percent_bp: int | None = None
    amount: int | None = None
    reason: str = ""
    approved_by: str | None = None


@dataclass(frozen=True)
class PriceOverride:
    """A supervisor's price change on a line (per piece, per kg, or the label's whole price)."""

    unit_price: int
    reason: str
    approved_by: str


@value
class LineInput:
    """One line to price: prices per piece, or per kg when `grams` is set."""

    product_id: str
    name_zh: str
    name_en: str
    category: str | None
    tax_class: str
    unit_price: int
    member_price: int | None = None
    quantity: int = 1
    grams: int | None = None
    fixed_price: int | None = None
    override: PriceOverride | None = None
    discount: ManualDiscount | None = None


@value
class BasketInput:
    """A basket to price at an aware moment, for a member or not, with coupons presented."""

    lines: tuple[LineInput, ...]
    at: datetime
    member: bool = False
    coupons: tuple[str, ...] = ()
    discount: ManualDiscount | None = None
    tier: str | None = None  # the member's tier, for promotions of some tiers only
    birthday: bool = False  # it is the member's birthday, for birthday offers


@value
class Discount:
    """One discount as the receipt shows it (kind: member_price, override, promotion, ...)."""

    kind: str
    promotion: str | None
    name_zh: str
    name_en: str
    amount: int
    approved_by: str | None = None  # who allowed an override or a manual discount

    def to_data(self) -> dict[str, Any]:
        """Return the event data form (with the approver when someone approved it)."""
        data: dict[str, Any] = {
            "kind": self.kind,
            "promotion": self.promotion,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "amount": self.amount,
        }
        if self.approved_by:
            data["approved_by"] = self.approved_by
        return data


@value
class PricedLine:
    """A priced line: gross - discounts - basket_share = net; amount is what the customer pays."""

    index: int
    product_id: str
    name_zh: str
    name_en: str
    category: str | None
    tax_class: str
    quantity: int
    grams: int | None
    unit_price: int
    gross: int
    discounts: tuple[Discount, ...]
    basket_share: int
    net: int
    tax_rate_bp: int
    tax: int
    amount: int

    def to_data(self) -> dict[str, Any]:
        """Return the event data form."""
        data = {field.name: getattr(self, field.name) for field in fields(self)}
        return data | {"discounts": [discount.to_data() for discount in self.discounts]}


@value
class PricedBasket:
    """A priced basket: its lines in input order, basket discounts, totals and tax summary."""

    lines: tuple[PricedLine, ...]
    basket_discounts: tuple[Discount, ...]
    subtotal: int
    discount_total: int
    tax: tuple[TaxLine, ...]
    tax_total: int
    total: int
    coupons_unused: tuple[str, ...]

    def to_data(self) -> dict[str, Any]:
        """Return the event data form (JSON-safe, integers only)."""
        return {
            "lines": [line.to_data() for line in self.lines],
            "basket_discounts": [discount.to_data() for discount in self.basket_discounts],
            "subtotal": self.subtotal,
            "discount_total": self.discount_total,
            "tax": [row.to_data() for row in self.tax],
            "tax_total": self.tax_total,
            "total": self.total,
            "coupons_unused": list(self.coupons_unused),
        }


def _check_int(value: object, least: int, most: int, what: str, code: str) -> None:
    """Refuse a value that is not an integer within [least, most]."""
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise InvalidInput(f"{what} must be an integer from {least} to {most}", code=code)


def _check_manual(discount: ManualDiscount | None, where: str) -> None:
    """Refuse a manual discount without exactly one of percent_bp (1..10000) / amount (>= 1)."""
    if discount is None:
        return
    if (discount.percent_bp is None) == (discount.amount is None):
        raise InvalidInput(f"{where}: give a percentage or an amount", code="bad_discount")
    if discount.percent_bp is not None:
        _check_int(discount.percent_bp, 1, FULL_BP, f"{where}.percent_bp", "bad_discount")
    else:
        _check_int(discount.amount, 1, MAX_PRICE, f"{where}.amount", "bad_discount")


def _check_line(line: LineInput, where: str) -> None:
    """Refuse a line with quantities or prices out of range."""
    for name in ("unit_price", "member_price", "fixed_price"):
        value = getattr(line, name)
        if value is not None or name == "unit_price":
            _check_int(value, 0, MAX_PRICE, f"{where}.{name}", "bad_price")
    if line.grams is not None:
        _check_int(line.grams, 1, MAX_GRAMS, f"{where}.grams", "bad_weight")
    most = 1 if line.grams is not None or line.fixed_price is not None else MAX_QUANTITY
    _check_int(line.quantity, 1, most, f"{where}.quantity", "bad_quantity")
    if line.override is not None:
        _check_int(line.override.unit_price, 0, MAX_PRICE, f"{where}.override", "bad_override")
        if not line.override.approved_by:
            raise InvalidInput(f"{where}: a price override needs approval", code="bad_override")
    _check_manual(line.discount, f"{where}.discount")


def _check_basket(basket: BasketInput) -> None:
    """Refuse a basket that cannot be priced."""
    if basket.at.tzinfo is None or basket.at.utcoffset() is None:
        raise InvalidInput("a basket is priced at an aware moment", code="naive_datetime")
    if not basket.lines:
        raise InvalidInput("the basket has no lines", code="empty_basket")
    if len(basket.lines) > MAX_LINES:
        raise InvalidInput(f"a basket has at most {MAX_LINES} lines", code="too_many_lines")
    for index, line in enumerate(basket.lines):
        _check_line(line, f"lines[{index}]")
    _check_manual(basket.discount, "discount")


def _usable_promotions(
    basket: BasketInput, promotions: Sequence[Promotion], tz: tzinfo
) -> tuple[list[Promotion], list[str]]:
    """Return the promotions that apply (priority order) and the coupon codes presented."""
    codes = list(dict.fromkeys(code.strip() for code in basket.coupons))
    usable = [
        promotion
        for promotion in promotions
        if promotion.is_live(basket.at, tz)
        and (basket.member or not promotion.members_only)
        and (not promotion.tiers or (basket.member and basket.tier in promotion.tiers))
        and (not promotion.birthday_only or (basket.member and basket.birthday))
    ]
    known = {promotion.coupon_code for promotion in usable if promotion.coupon_code}
    for code in codes:
        if code not in known:
            raise DomainError(f"coupon {code!r} is not valid now", code="invalid_coupon")
    chosen = [p for p in usable if p.coupon_code is None or p.coupon_code in codes]
    chosen.sort(key=lambda promotion: (-promotion.priority, promotion.id))
    return chosen, codes


def _sortable(value: int | str | None) -> tuple[int, int | str]:
    """Make an optional value comparable with others of its field (None first)."""
    return (0, 0) if value is None else (1, value)


def _content_key(line: LineInput) -> tuple[object, ...]:
    """Return a canonical key of everything that prices a line (not its position)."""
    override, discount = line.override, line.discount
    return (
        line.product_id,
        line.unit_price,
        _sortable(line.member_price),
        line.quantity,
        _sortable(line.grams),
        _sortable(line.fixed_price),
        _sortable(line.category),
        line.tax_class,
        line.name_zh,
        line.name_en,
        (0,)
        if override is None
        else (1, override.unit_price, override.reason, override.approved_by),
        (0,)
        if discount is None
        else (
            1,
            _sortable(discount.percent_bp),
            _sortable(discount.amount),
            discount.reason,
            _sortable(discount.approved_by),
        ),
    )


def _at_price(line: LineInput, unit_price: int) -> int:
    """Return a line's total at a unit price (a price label's line counts as one piece)."""
    if line.fixed_price is not None:
        return unit_price
    if line.grams is not None:
        return div_round_half_up(line.grams * unit_price, 1000)
    return unit_price * line.quantity


def _manual(discount: ManualDiscount, base: int) -> Discount | None:
    """Return a manual discount on `base` (None when it comes to nothing)."""
    if discount.percent_bp is not None:
        amount = div_round_half_up(base * discount.percent_bp, FULL_BP)
    else:
        amount = min(discount.amount or 0, base)
    reason = discount.reason.strip()
    name_zh = f"手工折扣: {reason}" if reason else "手工折扣"
    name_en = f"Manual discount: {reason}" if reason else "Manual discount"
    if amount <= 0:
        return None
    return Discount("manual", None, name_zh, name_en, amount, discount.approved_by)


def _by_promotion(promotion: Promotion, amount: int) -> Discount:
    """Return a promotion's discount, a coupon's if the promotion is coupon-gated."""
    kind = "coupon" if promotion.coupon_code else "promotion"
    return Discount(kind, promotion.id, promotion.name_zh, promotion.name_en, amount)


def _start_line(
    line: LineInput, rank: int, member: bool
) -> tuple[int, int, WorkLine, Discount | None]:
    """Return a line's shown unit price, gross, working state and member/override discount."""
    unit_price = line.unit_price
    gross = line.fixed_price if line.fixed_price is not None else _at_price(line, unit_price)
    discount = None
    if line.override is not None:
        overridden = _at_price(line, line.override.unit_price)
        if overridden < gross:
            reason = line.override.reason.strip()
            name_zh = f"改价: {reason}" if reason else "改价"
            name_en = f"Price override: {reason}" if reason else "Price override"
            discount = Discount(
                "override", None, name_zh, name_en, gross - overridden, line.override.approved_by
            )
        else:
            unit_price, gross = line.override.unit_price, overridden
    elif member and line.member_price is not None and line.fixed_price is None:
        saved = gross - _at_price(line, line.member_price)
        if saved > 0:
            discount = Discount("member_price", None, "会员价", "Member price", saved)
    current = gross - (discount.amount if discount else 0)
    pieces = line.grams is None and line.fixed_price is None
    work = WorkLine(
        rank=rank,
        product_id=line.product_id,
        category=line.category,
        quantity=line.quantity,
        weighed=line.grams is not None,
        promotable=line.fixed_price is None and line.override is None,
        current=current,
        free_units=line.quantity if pieces else 0,
        free_value=current if pieces else 0,
    )
    return unit_price, gross, work, discount


def _apply_discounts(
    basket: BasketInput,
    chosen: Sequence[Promotion],
    work: Sequence[WorkLine],
    line_discounts: Sequence[list[Discount]],
) -> tuple[list[int], list[Discount], set[str]]:
    """Apply promotions and manual discounts; return basket shares, basket discounts, givers."""
    gave: set[str] = set()
    for promotion in chosen:
        if promotion.kind not in BASKET_KINDS:
            for position, amount in apply_item_promotion(promotion, work).items():
                line_discounts[position].append(_by_promotion(promotion, amount))
                gave.add(promotion.id)
    for position, line in enumerate(basket.lines):
        manual = _manual(line.discount, work[position].current) if line.discount else None
        if manual is not None:
            take_whole_line(work[position], manual.amount)
            line_discounts[position].append(manual)
    shares = [0 for _ in work]
    basket_discounts: list[Discount] = []
    for promotion in chosen:
        if promotion.kind in BASKET_KINDS:
            amounts = apply_basket_promotion(promotion, work)
            if amounts:
                basket_discounts.append(_by_promotion(promotion, sum(amounts.values())))
                gave.add(promotion.id)
            for position, amount in amounts.items():
                shares[position] += amount
    if basket.discount is not None:
        manual = _manual(basket.discount, sum(line.current for line in work))
        if manual is not None:
            amounts = share_out(manual.amount, work, range(len(work)))
            basket_discounts.append(manual)
            for position, amount in amounts.items():
                shares[position] += amount
    return shares, basket_discounts, gave


def price_basket(
    basket: BasketInput, promotions: Sequence[Promotion], policy: TaxPolicy, tz: tzinfo
) -> PricedBasket:
    """Price a basket with the store's promotions and tax policy at `basket.at` in `tz`."""
    _check_basket(basket)
    rates = [policy.rate_of(line.tax_class) for line in basket.lines]
    chosen, codes = _usable_promotions(basket, promotions, tz)
    keys = [_content_key(line) for line in basket.lines]
    order = sorted(range(len(keys)), key=lambda i: (keys[i], i))
    ranks = {position: rank for rank, position in enumerate(order)}
    started = [_start_line(line, ranks[i], basket.member) for i, line in enumerate(basket.lines)]
    work = [state for _, _, state, _ in started]
    line_discounts: list[list[Discount]] = [[d] if d else [] for _, _, _, d in started]
    shares, basket_discounts, gave = _apply_discounts(basket, chosen, work, line_discounts)
    summary, canonical_tax = compute_tax([(rates[i], work[i].current) for i in order], policy)
    line_tax = dict(zip(order, canonical_tax, strict=True))
    lines = []
    for position, line in enumerate(basket.lines):
        unit_price, gross, state, _ = started[position]
        net, tax = state.current, line_tax[position]
        lines.append(
            PricedLine(
                index=position,
                product_id=line.product_id,
                name_zh=line.name_zh,
                name_en=line.name_en,
                category=line.category,
                tax_class=line.tax_class,
                quantity=line.quantity,
                grams=line.grams,
                unit_price=unit_price,
                gross=gross,
                discounts=tuple(line_discounts[position]),
                basket_share=shares[position],
                net=net,
                tax_rate_bp=rates[position],
                tax=tax,
                amount=net if policy.mode == "inclusive" else net + tax,
            )
        )
    coupon_ids = {code: {p.id for p in chosen if p.coupon_code == code} for code in codes}
    return PricedBasket(
        lines=tuple(lines),
        basket_discounts=tuple(basket_discounts),
        subtotal=sum(line.gross for line in lines),
        discount_total=sum(d.amount for line in lines for d in line.discounts)
        + sum(d.amount for d in basket_discounts),
        tax=tuple(summary),
        tax_total=sum(row.tax for row in summary),
        total=sum(line.amount for line in lines),
        coupons_unused=tuple(code for code in codes if not coupon_ids[code] & gave),
    )
