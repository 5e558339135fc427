"""Properties of pricing and refunds over random baskets, promotions and tax policies."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.domain.errors import Conflict
from edge.domain.pricing import (
    BasketInput,
    LineInput,
    ManualDiscount,
    PricedBasket,
    PriceOverride,
    price_basket,
)
from edge.domain.promotions import Promotion, PromotionKind, Scope
from edge.domain.returns import SoldLine, refund_for_line
from edge.domain.tax import TaxPolicy

SH = ZoneInfo("Asia/Shanghai")
AT = datetime(2024, 5, 10, 12, 0, tzinfo=SH)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)

# (id, category, tax class, unit price, member price, sold by weight)
CATALOG = (
    ("cola", "drinks", "standard", 350, 300, False),
    ("juice", "drinks", "standard", 400, None, False),
    ("water", "drinks", "zero", 199, 150, False),
    ("bread", "bakery", "reduced", 1200, 1000, False),
    ("rice", "grocery", "reduced", 5990, None, False),
    ("apples", "fruit", "reduced", 1280, 1100, True),
    ("beef", "meat", "standard", 8800, 7900, True),
    ("free", None, "standard", 0, None, False),
)
PRODUCTS = tuple(row[0] for row in CATALOG)
CATEGORIES = ("drinks", "bakery", "grocery", "fruit", "meat")
COUPONS = ("C1", "C2")
KINDS: tuple[PromotionKind, ...] = (
    "percent_off",
    "amount_off",
    "multi_buy",
    "buy_n_get_m",
    "spend_save",
    "basket_percent",
)


@st.composite
def manual_discounts(draw: st.DrawFn) -> ManualDiscount:
    """Draw a cashier's discount."""
    if draw(st.booleans()):
        return ManualDiscount(percent_bp=draw(st.integers(1, 10000)), reason="r")
    return ManualDiscount(amount=draw(st.integers(1, 5000)), reason="r")


@st.composite
def lines(draw: st.DrawFn) -> LineInput:
    """Draw a line of a catalog product, maybe weighed, labelled, overridden or discounted."""
    pid, category, tax_class, unit_price, member_price, weighed = draw(st.sampled_from(CATALOG))
    fixed_price = draw(st.none() | st.integers(0, 20000)) if weighed else None
    grams = draw(st.integers(1, 5000)) if weighed and fixed_price is None else None
    if weighed and fixed_price is not None and draw(st.booleans()):
        grams = draw(st.integers(1, 5000))  # a price label may carry the weight too
    override = None
    if draw(st.integers(0, 9)) == 0:
        override = PriceOverride(draw(st.integers(0, 10000)), "why", "sup")
    return LineInput(
        product_id=pid,
        name_zh=pid,
        name_en=pid,
        category=category,
        tax_class=tax_class,
        unit_price=unit_price,
        member_price=member_price,
        quantity=1 if weighed else draw(st.integers(1, 12)),
        grams=grams,
        fixed_price=fixed_price,
        override=override,
        discount=draw(st.none() | manual_discounts()) if draw(st.integers(0, 5)) == 0 else None,
    )


@st.composite
def promotions(draw: st.DrawFn, index: int) -> Promotion:
    """Draw a promotion of any kind with random scope, priority, gating and parameters."""
    kind: PromotionKind = draw(st.sampled_from(KINDS))
    scope = draw(
        st.sampled_from(
            [
                Scope(),
                Scope(products=tuple(draw(st.sets(st.sampled_from(PRODUCTS), max_size=3)))),
                Scope(categories=tuple(draw(st.sets(st.sampled_from(CATEGORIES), max_size=2)))),
            ]
        )
    )
    params: dict[str, Any] = {}
    if kind in ("percent_off", "basket_percent"):
        params["percent_bp"] = draw(st.integers(1, 10000))
    if kind == "amount_off":
        params["amount"] = draw(st.integers(1, 2000))
    if kind == "multi_buy":
        params["quantity"] = draw(st.integers(1, 5))
        params["price"] = draw(st.integers(0, 3000))
    if kind == "buy_n_get_m":
        params["buy"] = draw(st.integers(1, 4))
        params["get"] = draw(st.integers(1, 3))
        params["percent_bp"] = draw(st.integers(1, 10000))
    if kind == "spend_save":
        params["threshold"] = draw(st.integers(1, 20000))
        params["amount"] = draw(st.integers(1, 25000))
        params["repeat"] = draw(st.booleans())
    if kind == "basket_percent":
        params["threshold"] = draw(st.integers(0, 20000))
    return Promotion(
        id=f"P{index}",
        name_zh=f"促销{index}",
        name_en=f"Promotion {index}",
        kind=kind,
        scope=scope,
        priority=draw(st.integers(0, 3)),
        exclusive=draw(st.integers(0, 3)) == 0,
        members_only=draw(st.integers(0, 4)) == 0,
        coupon_code=draw(st.none() | st.sampled_from(COUPONS)) if draw(st.booleans()) else None,
        **params,
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[BasketInput, list[Promotion], TaxPolicy]:
    """Draw a basket with the store's promotions and tax policy."""
    count = draw(st.integers(0, 6))
    rules = [draw(promotions(index)) for index in range(count)]
    member = draw(st.booleans())
    usable = sorted(
        {p.coupon_code for p in rules if p.coupon_code and (member or not p.members_only)}
    )
    basket = BasketInput(
        lines=tuple(draw(st.lists(lines(), min_size=1, max_size=8))),
        at=AT,
        member=member,
        coupons=tuple(draw(st.lists(st.sampled_from(usable), max_size=2))) if usable else (),
        discount=draw(manual_discounts()) if draw(st.integers(0, 4)) == 0 else None,
    )
    policy = TaxPolicy(
        mode=draw(st.sampled_from(["inclusive", "exclusive"])),
        rounding=draw(st.sampled_from(["line", "receipt"])),
        rates={
            "standard": draw(st.sampled_from([1300, 2000, 725])),
            "reduced": draw(st.sampled_from([900, 600, 500])),
            "zero": 0,
        },
    )
    return basket, rules, policy


def price(basket: BasketInput, rules: list[Promotion], policy: TaxPolicy) -> PricedBasket:
    """Price a scenario in Shanghai."""
    return price_basket(basket, rules, policy, SH)


@given(scenarios())
@PROPERTY_SETTINGS
def test_totals_add_up_and_nothing_goes_negative(
    scenario: tuple[BasketInput, list[Promotion], TaxPolicy],
) -> None:
    basket, rules, policy = scenario
    priced = price(basket, rules, policy)
    assert [line.index for line in priced.lines] == list(range(len(basket.lines)))
    for line in priced.lines:
        line_discounts = sum(d.amount for d in line.discounts)
        assert all(d.amount > 0 for d in line.discounts)
        assert line_discounts + line.basket_share <= line.gross
        assert line.net == line.gross - line_discounts - line.basket_share
        assert line.net >= 0
        assert line.tax >= 0
        expected_amount = line.net if policy.mode == "inclusive" else line.net + line.tax
        assert line.amount == expected_amount
        assert line.tax_rate_bp == policy.rate_of(line.tax_class)
    for given_line, line in zip(basket.lines, priced.lines, strict=True):
        if given_line.fixed_price is not None and given_line.override is None:
            assert line.gross == given_line.fixed_price
        if given_line.fixed_price is not None or given_line.override is not None:
            assert not any(d.kind in ("promotion", "coupon") for d in line.discounts)
    assert all(d.amount > 0 for d in priced.basket_discounts)
    assert sum(d.amount for d in priced.basket_discounts) == sum(
        line.basket_share for line in priced.lines
    )
    assert priced.subtotal == sum(line.gross for line in priced.lines)
    assert priced.discount_total == sum(
        d.amount for line in priced.lines for d in line.discounts
    ) + sum(d.amount for d in priced.basket_discounts)
    assert priced.tax_total == sum(line.tax for line in priced.lines)
    assert priced.tax_total == sum(row.tax for row in priced.tax)
    assert priced.total == sum(line.amount for line in priced.lines)
    assert priced.total >= 0
    for row in priced.tax:
        assert row.net + row.tax == row.gross
        assert row.tax >= 0
        rate_lines = [line for line in priced.lines if line.tax_rate_bp == row.rate_bp]
        assert row.tax == sum(line.tax for line in rate_lines)
        assert row.gross == sum(line.amount for line in rate_lines)
    if policy.mode == "inclusive":
        assert priced.total == priced.subtotal - priced.discount_total
    else:
        assert priced.total == priced.subtotal - priced.discount_total + priced.tax_total
    assert json.loads(json.dumps(priced.to_data())) == priced.to_data()


def _signature(priced: PricedBasket) -> dict[str, Any]:
    """Return what must not depend on the scan order."""
    by_promotion: Counter[tuple[str, str | None]] = Counter()
    for line in priced.lines:
        for discount in line.discounts:
            by_promotion[discount.kind, discount.promotion] += discount.amount
    for discount in priced.basket_discounts:
        by_promotion[discount.kind, discount.promotion] += discount.amount
    lines = sorted(
        json.dumps({**line.to_data(), "index": None}, sort_keys=True) for line in priced.lines
    )
    return {
        "subtotal": priced.subtotal,
        "total": priced.total,
        "discount_total": priced.discount_total,
        "tax": priced.tax,
        "tax_total": priced.tax_total,
        "basket_discounts": priced.basket_discounts,
        "by_promotion": by_promotion,
        "lines": lines,
        "coupons_unused": priced.coupons_unused,
    }


@given(scenarios(), st.data())
@PROPERTY_SETTINGS
def test_scan_order_does_not_matter(
    scenario: tuple[BasketInput, list[Promotion], TaxPolicy], data: st.DataObject
) -> None:
    basket, rules, policy = scenario
    shuffled = data.draw(st.permutations(basket.lines))
    again = BasketInput(tuple(shuffled), basket.at, basket.member, basket.coupons, basket.discount)
    assert _signature(price(again, rules, policy)) == _signature(price(basket, rules, policy))


@st.composite
def sold_lines(draw: st.DrawFn) -> SoldLine:
    """Draw a sold line, by piece or by weight."""
    amount = draw(st.integers(0, 10**7))
    tax = draw(st.integers(0, amount))
    if draw(st.booleans()):
        return SoldLine(0, 1, draw(st.integers(1, 100_000)), amount, tax)
    return SoldLine(0, draw(st.integers(1, 500)), None, amount, tax)


@given(sold_lines(), st.data())
@PROPERTY_SETTINGS
def test_returns_never_refund_more_than_sold_and_all_of_it_exactly(
    sold: SoldLine, data: st.DataObject
) -> None:
    weighed = sold.grams is not None
    total = sold.grams if sold.grams is not None else sold.quantity
    state = sold
    while True:
        left = total - (state.returned_grams if weighed else state.returned_quantity)
        if left == 0:
            break
        take = data.draw(st.one_of(st.none(), st.integers(1, left)), label="take")
        if weighed:
            amount, tax = refund_for_line(state, grams=take)
        else:
            amount, tax = refund_for_line(state, quantity=take)
        taken = left if take is None else take
        assert amount >= 0
        assert tax >= 0
        state = SoldLine(
            index=state.index,
            quantity=state.quantity,
            grams=state.grams,
            amount=state.amount,
            tax=state.tax,
            returned_quantity=state.returned_quantity + (0 if weighed else taken),
            returned_grams=state.returned_grams + (taken if weighed else 0),
            returned_amount=state.returned_amount + amount,
            returned_tax=state.returned_tax + tax,
        )
        assert state.returned_amount <= sold.amount
        assert state.returned_tax <= sold.tax
    assert state.returned_amount == sold.amount
    assert state.returned_tax == sold.tax
    with pytest.raises(Conflict) as caught:
        refund_for_line(state, grams=1) if weighed else refund_for_line(state, quantity=1)
    assert caught.value.code == "return_exceeds_sale"
    assert caught.value.status == 409
