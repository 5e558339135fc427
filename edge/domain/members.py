"""Members as the till knows them: who they are, how to find them, how their phone is shown.

A phone number is personal data: screens and receipts show it masked (138****8000); it is
searchable only exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge.domain.errors import ValidationFailed

MEMBER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
PHONE = re.compile(r"^\+?[0-9]{6,15}$")
CARD_NO = re.compile(r"^[A-Za-z0-9-]{4,32}$")
TIER = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
MEMBER_FIELDS = ("id", "name", "phone", "card_no", "tier", "active")
MAX_TOP_UP = 10_000_000  # 100,000.00 in minor units


@dataclass(frozen=True)
class Member:
    """A store member (loyalty programme customer)."""

    id: str
    name: str
    phone: str | None
    card_no: str | None
    tier: str = "standard"
    active: bool = True

    def to_data(self) -> dict[str, Any]:
        """Return the event data form."""
        return {name: getattr(self, name) for name in MEMBER_FIELDS}

    @property
    def display(self) -> str:
        """Return what a till or receipt may show: the masked phone, else the card number."""
        if self.phone:
            return mask_phone(self.phone)
        return self.card_no or self.id


def mask_phone(phone: str) -> str:
    """Mask all but the first 3 and last 4 digits (13812348000 -> 138****8000)."""
    digits = phone.lstrip("+")
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def normalise_phone(text: str) -> str:
    """Remove spaces and dashes people type into phone numbers."""
    return re.sub(r"[\s-]", "", text)


def member_from_fields(raw: Mapping[str, Any]) -> Member:
    """Check a member record (API JSON) and return it; report every problem at once."""
    problems: list[tuple[str, str]] = [
        (name, "is not a member field") for name in sorted(set(raw) - set(MEMBER_FIELDS))
    ]

    def text(name: str, pattern: re.Pattern[str] | None, *, required: bool = False) -> str | None:
        value = raw.get(name)
        if value is None or value == "":
            if required:
                problems.append((name, "is required"))
            return None
        if not isinstance(value, str):
            problems.append((name, "must be text"))
            return None
        value = value.strip()
        if name == "phone":
            value = normalise_phone(value)
        if pattern is not None and not pattern.match(value):
            problems.append((name, f"does not match {pattern.pattern}"))
        if pattern is None and (len(value) > 80 or any(ord(c) < 32 for c in value)):
            problems.append((name, "must be at most 80 printable characters"))
        return value

    member_id = text("id", MEMBER_ID, required=True) or ""
    name = text("name", None) or ""
    phone = text("phone", PHONE)
    card_no = text("card_no", CARD_NO)
    tier = text("tier", TIER) or "standard"
    active = raw.get("active", True)
    if not isinstance(active, bool):
        problems.append(("active", "must be true or false"))
    if phone is None and card_no is None:
        problems.append(("phone", "a member needs a phone number or a card number"))
    if problems:
        raise ValidationFailed(problems)
    return Member(member_id, name, phone, card_no, tier, bool(active))
