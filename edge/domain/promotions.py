"""Promotions as the store keeps them: what they are, when they run, and what a valid one is.

Item promotions discount lines: percent_off, amount_off (per piece), multi_buy (N for a price)
and buy_n_get_m. Basket promotions discount the eligible subtotal: spend_save (满减, 每满X减Y
with `repeat`) and basket_percent. A promotion can be members-only, gated by a coupon code,
exclusive, and limited to a window of dates, weekdays and a daily time band in store-local
time. Applying promotions to a basket lives in `promotion_engine`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from typing import Any, Literal, cast, get_args

from edge.domain.errors import InvalidInput
from edge.domain.fields import NAME, FieldReader

PromotionKind = Literal[
    "percent_off", "amount_off", "multi_buy", "buy_n_get_m", "spend_save", "basket_percent"
]
PROMOTION_KINDS: tuple[str, ...] = get_args(PromotionKind)
ITEM_KINDS = frozenset({"percent_off", "amount_off", "multi_buy", "buy_n_get_m"})
BASKET_KINDS = frozenset({"spend_save", "basket_percent"})
MULTI_UNIT_KINDS = frozenset({"multi_buy", "buy_n_get_m"})
PIECE_KINDS = frozenset({"amount_off", "multi_buy", "buy_n_get_m"})  # never weighed lines
PARAMETERS = ("percent_bp", "amount", "buy", "get", "quantity", "price", "threshold")
PROMOTION_FIELDS = (
    "id",
    "name_zh",
    "name_en",
    "kind",
    "scope",
    "window",
    "priority",
    "exclusive",
    "members_only",
    "tiers",
    "birthday_only",
    "coupon_code",
    "active",
    *PARAMETERS,
    "repeat",
)


@dataclass(frozen=True)
class Scope:
    """Which products a promotion covers: listed products or categories; none listed = all."""

    products: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def matches(self, product_id: str, category: str | None) -> bool:
        """Tell whether a product (in a category, if any) is covered."""
        if not self.products and not self.categories:
            return True
        return product_id in self.products or (category is not None and category in self.categories)

    def to_data(self) -> dict[str, Any]:
        """Return the event data form."""
        return {"products": list(self.products), "categories": list(self.categories)}


@dataclass(frozen=True)
class Window:
    """When a promotion runs: [starts_at, ends_at), ISO weekdays, a daily [time_from, time_to).

    Weekdays and times are store-local. A daily band whose time_from is after its time_to runs
    past midnight, and its after-midnight part belongs to the weekday it started on: a Friday
    22:00-02:00 happy hour includes Saturday 01:00.
    """

    starts_at: datetime | None = None
    ends_at: datetime | None = None
    weekdays: tuple[int, ...] = ()
    time_from: time | None = None
    time_to: time | None = None

    def contains(self, moment: datetime, tz: tzinfo) -> bool:
        """Tell whether an aware moment falls in the window, the store being in `tz`."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise InvalidInput("promotion windows need an aware datetime", code="naive_datetime")
        if self.starts_at is not None and moment < self.starts_at:
            return False
        if self.ends_at is not None and moment >= self.ends_at:
            return False
        local = moment.astimezone(tz)
        weekday = local.isoweekday()
        clock = local.time()
        start, end = self.time_from, self.time_to
        if start is not None and end is not None and start >= end:
            if clock < end:
                weekday = weekday - 1 or 7  # the band opened the evening before
            elif clock < start:
                return False
        elif (start is not None and clock < start) or (end is not None and clock >= end):
            return False
        return not self.weekdays or weekday in self.weekdays

    def to_data(self) -> dict[str, Any]:
        """Return the event data form (ISO datetimes with their offset, times as HH:MM)."""
        return {
            "starts_at": _iso(self.starts_at),
            "ends_at": _iso(self.ends_at),
            "weekdays": list(self.weekdays),
            "time_from": _clock(self.time_from),
            "time_to": _clock(self.time_to),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Window:
        """Rebuild a window from its event data."""
        return cls(
            starts_at=_parse_iso(data.get("starts_at")),
            ends_at=_parse_iso(data.get("ends_at")),
            weekdays=tuple(data.get("weekdays") or ()),
            time_from=_parse_clock(data.get("time_from")),
            time_to=_parse_clock(data.get("time_to")),
        )


@dataclass(frozen=True)
class Promotion:
    """A promotion with its kind's parameters (see the module docstring and `KIND_PARAMETERS`)."""

    id: str
    name_zh: str
    name_en: str
    kind: PromotionKind
    scope: Scope = Scope()
    window: Window = Window()
    priority: int = 0
    exclusive: bool = False
    members_only: bool = False
    tiers: tuple[str, ...] = ()  # only members of these tiers (a tier discount); empty: any
    birthday_only: bool = False  # only for a member on their birthday (a birthday offer)
    coupon_code: str | None = None
    active: bool = True
    percent_bp: int | None = None
    amount: int | None = None
    buy: int | None = None
    get: int | None = None
    quantity: int | None = None
    price: int | None = None
    threshold: int | None = None
    repeat: bool = False

    def is_live(self, moment: datetime, tz: tzinfo) -> bool:
        """Tell whether the promotion is active and its window contains `moment`."""
        return self.active and self.window.contains(moment, tz)

    def to_data(self) -> dict[str, Any]:
        """Return the event data form (JSON-safe: no floats, ISO datetimes, HH:MM times)."""
        data: dict[str, Any] = {name: getattr(self, name) for name in PROMOTION_FIELDS}
        return data | {
            "scope": self.scope.to_data(),
            "window": self.window.to_data(),
            "tiers": list(self.tiers),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Promotion:
        """Rebuild a promotion from its event data."""
        scope = data.get("scope") or {}
        return cls(
            id=data["id"],
            name_zh=data["name_zh"],
            name_en=data["name_en"],
            kind=data["kind"],
            scope=Scope(tuple(scope.get("products") or ()), tuple(scope.get("categories") or ())),
            window=Window.from_data(data.get("window") or {}),
            priority=data.get("priority", 0),
            exclusive=data.get("exclusive", False),
            members_only=data.get("members_only", False),
            tiers=tuple(data.get("tiers") or ()),
            birthday_only=data.get("birthday_only", False),
            coupon_code=data.get("coupon_code"),
            active=data.get("active", True),
            **{name: data.get(name) for name in PARAMETERS},
            repeat=data.get("repeat", False),
        )


def _iso(moment: datetime | None) -> str | None:
    """Return an aware datetime as ISO 8601 with its offset."""
    return None if moment is None else moment.isoformat()


def _parse_iso(text: str | None) -> datetime | None:
    """Read an ISO 8601 datetime."""
    return None if text is None else datetime.fromisoformat(text)


def _clock(value: time | None) -> str | None:
    """Return a time of day as HH:MM (HH:MM:SS if it has seconds)."""
    if value is None:
        return None
    if value.second or value.microsecond:
        return value.isoformat()
    return value.strftime("%H:%M")


def _parse_clock(text: str | None) -> time | None:
    """Read a time of day."""
    return None if text is None else time.fromisoformat(text)


PROMOTION_ID = NAME
COUPON_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_MONEY = 100_000_000
MAX_UNITS = 9999
MAX_PRIORITY = 1_000_000

# kind -> (required parameters, optional parameters); every other parameter must be null.
KIND_PARAMETERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "percent_off": (("percent_bp",), ()),
    "amount_off": (("amount",), ()),
    "multi_buy": (("quantity", "price"), ()),
    "buy_n_get_m": (("buy", "get"), ("percent_bp",)),
    "spend_save": (("threshold", "amount"), ()),
    "basket_percent": (("percent_bp",), ("threshold",)),
}
# parameter -> (least, most) accepted for it
PARAMETER_RANGES: dict[str, tuple[int, int]] = {
    "percent_bp": (1, 10_000),
    "amount": (1, MAX_MONEY),
    "buy": (1, MAX_UNITS),
    "get": (1, MAX_UNITS),
    "quantity": (1, MAX_UNITS),
    "price": (0, MAX_MONEY),
    "threshold": (0, MAX_MONEY),
}


def _scope(f: FieldReader) -> Scope:
    """Read the scope object."""
    s = f.section("scope")
    s.unknown(("products", "categories"), "scope")
    scope = Scope(products=s.names("products"), categories=s.names("categories"))
    f.absorb(s)
    return scope


def _window(f: FieldReader) -> Window:
    """Read the window object."""
    w = f.section("window")
    w.unknown(("starts_at", "ends_at", "weekdays", "time_from", "time_to"), "window")
    starts_at, ends_at = w.moment("starts_at"), w.moment("ends_at")
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        w.problem("ends_at", "must be after starts_at")
    weekdays = w.raw.get("weekdays") or []
    if not isinstance(weekdays, list) or not all(
        type(day) is int and 1 <= day <= 7 for day in weekdays
    ):
        w.problem("weekdays", "must be a list of ISO weekdays 1 (Monday) to 7 (Sunday)")
        weekdays = []
    time_from, time_to = w.clock("time_from"), w.clock("time_to")
    if time_from is not None and time_from == time_to:
        w.problem("time_to", "must differ from time_from")
    f.absorb(w)
    return Window(starts_at, ends_at, tuple(sorted(set(weekdays))), time_from, time_to)


def promotion_from_fields(raw: Mapping[str, Any], *, prefix: str = "") -> Promotion:
    """Check a promotion record (API JSON, the to_data field names); report every problem."""
    f = FieldReader(raw, prefix)
    f.unknown(PROMOTION_FIELDS, "promotion")
    promotion_id = f.text("id", max_len=40)
    if 0 < len(promotion_id) <= 40 and not PROMOTION_ID.match(promotion_id):
        f.problem("id", "must be 1-40 letters, digits, '.', '_' or '-'")
    name_zh = f.text("name_zh")
    name_en = f.text("name_en", required=False) or name_zh
    kind = raw.get("kind")
    if kind not in PROMOTION_KINDS:
        f.problem("kind", f"must be one of {', '.join(PROMOTION_KINDS)}")
    coupon_code = f.text("coupon_code", required=False, max_len=32) or None
    if coupon_code is not None and len(coupon_code) <= 32 and not COUPON_CODE.match(coupon_code):
        f.problem("coupon_code", "must be 1-32 letters, digits, '_' or '-'")
    params = {name: f.integer(name, *PARAMETER_RANGES[name]) for name in PARAMETERS}
    repeat = f.flag("repeat", default=False)
    if isinstance(kind, str) and kind in KIND_PARAMETERS:
        required, optional = KIND_PARAMETERS[kind]
        for name in PARAMETERS:
            if name in required and raw.get(name) is None:
                f.problem(name, f"is required for {kind}")
            elif name not in required + optional and raw.get(name) is not None:
                f.problem(name, f"is not a parameter of {kind}")
        if kind == "spend_save" and params["threshold"] == 0:
            f.problem("threshold", "must be at least 1 for spend_save")
        if repeat and kind != "spend_save":
            f.problem("repeat", "only applies to spend_save")
        if kind == "buy_n_get_m" and params["percent_bp"] is None:
            params["percent_bp"] = 10_000
        if kind == "basket_percent" and params["threshold"] is None:
            params["threshold"] = 0
    promotion = Promotion(
        id=promotion_id,
        name_zh=name_zh,
        name_en=name_en,
        kind=cast(PromotionKind, kind) if kind in PROMOTION_KINDS else "percent_off",
        scope=_scope(f),
        window=_window(f),
        priority=f.integer("priority", -MAX_PRIORITY, MAX_PRIORITY) or 0,
        exclusive=f.flag("exclusive", default=False),
        members_only=f.flag("members_only", default=False),
        tiers=f.names("tiers"),
        birthday_only=f.flag("birthday_only", default=False),
        coupon_code=coupon_code,
        active=f.flag("active", default=True),
        percent_bp=params["percent_bp"],
        amount=params["amount"],
        buy=params["buy"],
        get=params["get"],
        quantity=params["quantity"],
        price=params["price"],
        threshold=params["threshold"],
        repeat=repeat,
    )
    f.check()
    return promotion
