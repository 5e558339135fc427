"""Promotions: scopes, windows (dates, weekdays, happy hours, time zones), records and events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from edge.domain.errors import InvalidInput, ValidationFailed
from edge.domain.promotions import Promotion, Scope, Window, promotion_from_fields

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
KINDS_MESSAGE = (
    "must be one of percent_off, amount_off, multi_buy, buy_n_get_m, spend_save, basket_percent"
)


def at(day: int, hour: int, minute: int = 0, tz: Any = SH) -> datetime:
    """Return a moment in May 2024 (1 May 2024 is a Wednesday)."""
    return datetime(2024, 5, day, hour, minute, tzinfo=tz)


def test_scope_matches_products_or_categories() -> None:
    assert Scope().matches("cola", None)
    assert Scope().matches("cola", "drinks")
    products = Scope(products=("cola", "tea"))
    assert products.matches("tea", "drinks")
    assert not products.matches("bread", "bakery")
    categories = Scope(categories=("drinks",))
    assert categories.matches("juice", "drinks")
    assert not categories.matches("juice", None)
    both = Scope(products=("bread",), categories=("drinks",))
    assert both.matches("bread", "bakery")
    assert both.matches("juice", "drinks")
    assert not both.matches("rice", "grocery")


def test_window_dates_start_inclusive_end_exclusive() -> None:
    window = Window(starts_at=at(1, 0), ends_at=at(8, 0))
    assert not window.contains(at(1, 0) - timedelta(microseconds=1), SH)
    assert window.contains(at(1, 0), SH)
    assert window.contains(at(7, 23, 59), SH)
    assert not window.contains(at(8, 0), SH)
    # the same instants written in UTC
    assert window.contains(datetime(2024, 4, 30, 16, 0, tzinfo=UTC), SH)
    assert not window.contains(datetime(2024, 5, 7, 16, 0, tzinfo=UTC), SH)
    assert Window().contains(at(1, 0), SH)


def test_window_weekdays_are_store_local() -> None:
    weekend = Window(weekdays=(6, 7))
    assert weekend.contains(at(4, 10), SH)  # Saturday
    assert weekend.contains(at(5, 23, 59), SH)  # Sunday
    assert not weekend.contains(at(6, 0), SH)  # Monday
    # Friday 17:00 UTC is already Saturday 01:00 in Shanghai, still Friday in New York
    friday_utc = datetime(2024, 5, 3, 17, 0, tzinfo=UTC)
    assert weekend.contains(friday_utc, SH)
    assert not weekend.contains(friday_utc, NY)


def test_window_daily_band() -> None:
    lunch = Window(time_from=time(11, 30), time_to=time(13, 0))
    assert not lunch.contains(at(2, 11, 29), SH)
    assert lunch.contains(at(2, 11, 30), SH)
    assert lunch.contains(at(2, 12, 59), SH)
    assert not lunch.contains(at(2, 13, 0), SH)
    # 04:00 UTC is 12:00 in Shanghai
    assert lunch.contains(datetime(2024, 5, 2, 4, 0, tzinfo=UTC), SH)
    assert not lunch.contains(datetime(2024, 5, 2, 4, 0, tzinfo=UTC), UTC)
    assert Window(time_from=time(20, 0)).contains(at(2, 21), SH)
    assert not Window(time_from=time(20, 0)).contains(at(2, 19), SH)
    assert Window(time_to=time(9, 0)).contains(at(2, 8, 59), SH)
    assert not Window(time_to=time(9, 0)).contains(at(2, 9), SH)


def test_happy_hour_across_midnight_belongs_to_the_day_it_started() -> None:
    friday_night = Window(weekdays=(5,), time_from=time(22, 0), time_to=time(2, 0))
    assert not friday_night.contains(at(3, 21, 59), SH)  # Friday
    assert friday_night.contains(at(3, 22, 0), SH)
    assert friday_night.contains(at(3, 23, 59), SH)
    assert friday_night.contains(at(4, 0, 0), SH)  # Saturday 00:00, Friday's night
    assert friday_night.contains(at(4, 1, 59), SH)
    assert not friday_night.contains(at(4, 2, 0), SH)
    assert not friday_night.contains(at(4, 12, 0), SH)
    assert not friday_night.contains(at(4, 22, 30), SH)  # Saturday night
    assert not friday_night.contains(at(3, 1, 0), SH)  # Thursday's night


def test_window_refuses_a_naive_moment() -> None:
    with pytest.raises(InvalidInput) as caught:
        Window().contains(datetime(2024, 5, 1, 12, 0), SH)  # noqa: DTZ001
    assert caught.value.code == "naive_datetime"


def test_is_live_needs_active_and_window() -> None:
    window = Window(starts_at=at(1, 0), ends_at=at(2, 0))
    live = Promotion("p1", "测试", "Test", "percent_off", window=window, percent_bp=1000)
    assert live.is_live(at(1, 12), SH)
    assert not live.is_live(at(2, 12), SH)
    off = Promotion("p2", "测试", "Test", "percent_off", active=False, percent_bp=1000)
    assert not off.is_live(at(1, 12), SH)


FULL = Promotion(
    id="HAPPY.hour-1",
    name_zh="欢乐时光 饮料8折",
    name_en="Happy hour: drinks 20% off",
    kind="percent_off",
    scope=Scope(products=("cola",), categories=("drinks", "juice")),
    window=Window(
        starts_at=datetime(2024, 5, 1, 0, 0, tzinfo=timezone(timedelta(hours=8))),
        ends_at=datetime(2024, 6, 1, 0, 0, 30, 500, tzinfo=UTC),
        weekdays=(5, 6),
        time_from=time(22, 0),
        time_to=time(2, 0),
    ),
    priority=7,
    exclusive=True,
    members_only=True,
    coupon_code="HH-2024",
    percent_bp=2000,
)


def test_to_data_is_json_safe_and_round_trips() -> None:
    data = FULL.to_data()
    assert data["window"] == {
        "starts_at": "2024-05-01T00:00:00+08:00",
        "ends_at": "2024-06-01T00:00:30.000500+00:00",
        "weekdays": [5, 6],
        "time_from": "22:00",
        "time_to": "02:00",
    }
    assert data["scope"] == {"products": ["cola"], "categories": ["drinks", "juice"]}
    assert data["percent_bp"] == 2000
    assert data["amount"] is None
    text = json.dumps(data, sort_keys=True)
    assert "." not in text.replace("HAPPY.hour", "").replace("30.000500", "")  # no floats
    again = Promotion.from_data(json.loads(text))
    assert again == FULL
    assert again.to_data() == data
    plain = Promotion(
        "p", "满100减10", "Save 10 on 100", "spend_save", threshold=10000, amount=1000
    )
    assert Promotion.from_data(json.loads(json.dumps(plain.to_data()))) == plain


def test_from_fields_accepts_the_event_form() -> None:
    assert promotion_from_fields(FULL.to_data()) == FULL


def test_from_fields_fills_defaults() -> None:
    bogof = promotion_from_fields(
        {"id": "b1", "name_zh": "买一送一", "kind": "buy_n_get_m", "buy": 1, "get": 1}
    )
    assert bogof.percent_bp == 10000
    assert bogof.name_en == "买一送一"
    assert bogof.scope == Scope()
    assert bogof.window == Window()
    assert bogof.active
    assert not bogof.exclusive
    assert bogof.priority == 0
    basket = promotion_from_fields(
        {"id": "bp", "name_zh": "全场95折", "kind": "basket_percent", "percent_bp": 500}
    )
    assert basket.threshold == 0
    save = promotion_from_fields(
        {
            "id": "ss",
            "name_zh": "每满100减10",
            "name_en": "10 off every 100",
            "kind": "spend_save",
            "threshold": 10000,
            "amount": 1000,
            "repeat": True,
            "window": {"starts_at": "2024-05-01T00:00:00Z", "weekdays": [7, 6, 6]},
        }
    )
    assert save.repeat
    assert save.window.starts_at == datetime(2024, 5, 1, tzinfo=UTC)
    assert save.window.weekdays == (6, 7)


def problems_of(raw: dict[str, Any], prefix: str = "") -> set[tuple[str, str]]:
    """Return every problem promotion_from_fields reports for a record."""
    with pytest.raises(ValidationFailed) as caught:
        promotion_from_fields(raw, prefix=prefix)
    assert caught.value.code == "validation_failed"
    assert caught.value.status == 400
    return set(caught.value.problems)


def test_from_fields_reports_every_problem_at_once() -> None:
    raw = {
        "id": "-bad id",
        "name_zh": "",
        "kind": "multi_buy",
        "quantity": 0,
        "price": -5,
        "percent_bp": 500,
        "coupon_code": "NO SPACES",
        "exclusive": "yes",
        "priority": 1.5,
        "colour": "red",
        "scope": {"products": ["ok", "not ok"], "brands": []},
        "window": {
            "starts_at": "2024-05-02T00:00:00+08:00",
            "ends_at": "2024-05-01T00:00:00+08:00",
            "weekdays": [0, 8],
            "time_from": "25:00",
            "time_to": "9am",
        },
        "repeat": True,
    }
    assert problems_of(raw, prefix="promotions[3].") == {
        ("promotions[3].colour", "is not a promotion field"),
        ("promotions[3].id", "must be 1-40 letters, digits, '.', '_' or '-'"),
        ("promotions[3].name_zh", "is required"),
        ("promotions[3].coupon_code", "must be 1-32 letters, digits, '_' or '-'"),
        ("promotions[3].quantity", "must be between 1 and 9999"),
        ("promotions[3].price", "must be between 0 and 100000000"),
        ("promotions[3].percent_bp", "is not a parameter of multi_buy"),
        ("promotions[3].repeat", "only applies to spend_save"),
        ("promotions[3].exclusive", "must be true or false"),
        ("promotions[3].priority", "must be an integer"),
        ("promotions[3].scope.brands", "is not a scope field"),
        ("promotions[3].scope.products[1]", "must be 1-40 letters, digits, '.', '_' or '-'"),
        ("promotions[3].window.ends_at", "must be after starts_at"),
        (
            "promotions[3].window.weekdays",
            "must be a list of ISO weekdays 1 (Monday) to 7 (Sunday)",
        ),
        ("promotions[3].window.time_from", "must be a time of day HH:MM"),
        ("promotions[3].window.time_to", "must be a time of day HH:MM"),
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"kind": "percent_off"}, {("percent_bp", "is required for percent_off")}),
        ({"kind": "percent_off", "percent_bp": 0}, {("percent_bp", "must be between 1 and 10000")}),
        (
            {"kind": "percent_off", "percent_bp": 10001},
            {("percent_bp", "must be between 1 and 10000")},
        ),
        ({"kind": "amount_off", "amount": 0}, {("amount", "must be between 1 and 100000000")}),
        (
            {"kind": "amount_off", "amount": 100_000_001},
            {("amount", "must be between 1 and 100000000")},
        ),
        (
            {"kind": "multi_buy"},
            {("quantity", "is required for multi_buy"), ("price", "is required for multi_buy")},
        ),
        (
            {"kind": "buy_n_get_m", "buy": 0, "get": True},
            {("buy", "must be between 1 and 9999"), ("get", "must be an integer")},
        ),
        (
            {"kind": "spend_save", "threshold": 0, "amount": 100},
            {("threshold", "must be at least 1 for spend_save")},
        ),
        (
            {"kind": "spend_save", "amount": "10.00"},
            {("threshold", "is required for spend_save"), ("amount", "must be an integer")},
        ),
        (
            {"kind": "basket_percent", "percent_bp": 500, "threshold": -1},
            {("threshold", "must be between 0 and 100000000")},
        ),
        (
            {"kind": "cashback"},
            {("kind", KINDS_MESSAGE)},
        ),
        (
            {"kind": "percent_off", "percent_bp": 100, "window": {"starts_at": "2024-05-01T00:00"}},
            {("window.starts_at", "must include a UTC offset (e.g. +08:00)")},
        ),
        (
            {"kind": "percent_off", "percent_bp": 100, "window": {"ends_at": "tomorrow"}},
            {("window.ends_at", "must be an ISO 8601 date and time")},
        ),
        (
            {
                "kind": "percent_off",
                "percent_bp": 100,
                "window": {"time_from": "10:00", "time_to": "10:00"},
            },
            {("window.time_to", "must differ from time_from")},
        ),
        (
            {"kind": "percent_off", "percent_bp": 100, "scope": ["cola"], "window": 5},
            {("scope", "must be an object"), ("window", "must be an object")},
        ),
        (
            {"kind": "percent_off", "percent_bp": 100, "coupon_code": "X" * 33},
            {("coupon_code", "must have at most 32 characters")},
        ),
    ],
)
def test_from_fields_parameter_problems(
    raw: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    assert problems_of({"id": "p1", "name_zh": "促销", **raw}) == expected


def test_from_fields_requires_id_name_and_kind() -> None:
    assert problems_of({}) == {
        ("id", "is required"),
        ("name_zh", "is required"),
        ("kind", KINDS_MESSAGE),
    }
