"""`@value`: a frozen dataclass that is quick to build, for the values a sale makes many of.

A frozen dataclass's generated `__init__` stores each field through `object.__setattr__`,
which costs about as much as the rest of building the object; a sale builds some forty of
them. `@value` is `@dataclass(frozen=True)` with an `__init__` that writes the fields into
the new instance's `__dict__` instead: the same signature, defaults, equality, hash, repr
and refusal of assignment, at about half the cost. It takes plain fields only (no
`default_factory`, `init=False`, keyword-only fields, `__post_init__` or slots) and says so
at import time otherwise.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True)
def value(cls: type[T]) -> type[T]:
    """Make `cls` a frozen dataclass with a quick `__init__` (see the module's notes)."""
    made = dataclass(frozen=True)(cls)
    if hasattr(made, "__post_init__") or hasattr(made, "__slots__"):
        raise TypeError(f"@value {cls.__name__}: no __post_init__ or __slots__")
    params, stores = [], []
    defaults: dict[str, Any] = {}
    for field in fields(made):  # type: ignore[arg-type]  # made is a dataclass now
        if not field.init or field.kw_only or field.default_factory is not MISSING:
            raise TypeError(f"@value {cls.__name__}.{field.name}: plain fields only")
        if field.default is MISSING:
            params.append(field.name)
        else:
            defaults[f"_default_{field.name}"] = field.default
            params.append(f"{field.name}=_default_{field.name}")
        stores.append(f"    d[{field.name!r}] = {field.name}\n")
    source = f"def __init__(self, {', '.join(params)}):\n    d = self.__dict__\n{''.join(stores)}"
    namespace: dict[str, Any] = dict(defaults)
    exec(source, namespace)  # noqa: S102 - the source is built from the field names above
    init = namespace["__init__"]
    init.__qualname__ = f"{made.__qualname__}.__init__"
    init.__doc__ = made.__init__.__doc__
    made.__init__ = init  # type: ignore[method-assign]
    return made
