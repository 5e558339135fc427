"""`@value`: a frozen dataclass with a quick constructor behaves like `@dataclass(frozen=True)`."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field

import pytest

from edge.domain.values import value


@value
class Money:
    """A test value with a required field and defaults."""

    amount: int
    currency: str = "CNY"
    note: str | None = None


@dataclass(frozen=True)
class Reference:
    """The same fields as a plain frozen dataclass."""

    amount: int
    currency: str = "CNY"
    note: str | None = None


def test_builds_like_a_frozen_dataclass() -> None:
    pairs = [
        (Money(5), Reference(5)),
        (Money(5, "USD"), Reference(5, "USD")),
        (Money(amount=7, note="x"), Reference(amount=7, note="x")),
    ]
    for made, reference in pairs:
        assert dataclasses.astuple(made) == dataclasses.astuple(reference)
        assert repr(made) == repr(reference).replace("Reference", "Money")
    assert Money(5) == Money(5, "CNY", None)
    assert Money(5) != Money(6)
    assert hash(Money(5, "USD")) == hash(Money(5, "USD"))
    assert {Money(1), Money(1)} == {Money(1)}
    assert dataclasses.replace(Money(5), currency="USD") == Money(5, "USD")
    assert list(inspect.signature(Money).parameters) == ["amount", "currency", "note"]


def test_refuses_changes_and_bad_calls() -> None:
    money = Money(5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.amount = 6  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del money.currency
    with pytest.raises(TypeError):
        Money()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Money(1, "CNY", None, 4)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Money(1, amount=2)  # type: ignore[misc]
    with pytest.raises(TypeError):
        Money(1, colour="red")  # type: ignore[call-arg]


def test_defaults_are_not_shared_state() -> None:
    assert Money(1).currency == "CNY"
    assert Money(1, "USD").currency == "USD"
    assert Money(2).currency == "CNY"


def test_fields_it_cannot_build_are_refused_at_import() -> None:
    with pytest.raises(TypeError, match="plain fields only"):

        @value
        class WithFactory:
            items: list[int] = field(default_factory=list)

    with pytest.raises(TypeError, match="plain fields only"):

        @value
        class NotInInit:
            total: int = field(init=False, default=0)

    with pytest.raises(TypeError, match="__post_init__"):

        @value
        class Checked:
            amount: int

            def __post_init__(self) -> None:
                assert self.amount >= 0
