"""Members as the till knows them: who they are, how to find them, how their phone is shown.

A phone number is personal data: screens and receipts show it masked (138****8000); it is
searchable only exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge.domain.fields import FieldReader

MEMBER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
PHONE = re.compile(r"^\+?[0-9]{6,15}$")
CARD_NO = re.compile(r"^[A-Za-z0-9-]{4,32}$")
TIER = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
MEMBER_FIELDS = ("id", "name", "phone", "card_no", "tier", "active", "birthday")
BIRTHDAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")  # MM-DD, no year kept
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
    birthday: str | None = None  # MM-DD (for birthday offers); the year is never asked

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
    f = FieldReader(raw)
    f.unknown(MEMBER_FIELDS, "member")

    def matching(name: str, pattern: re.Pattern[str], text: str) -> str | None:
        if text and not pattern.match(text):
            f.problem(name, f"does not match {pattern.pattern}")
        return text or None

    member_id = matching("id", MEMBER_ID, f.text("id", max_len=40)) or ""
    name = f.text("name", required=False, max_len=80)
    phone = matching("phone", PHONE, normalise_phone(f.text("phone", required=False)))
    card_no = matching("card_no", CARD_NO, f.text("card_no", required=False, max_len=32))
    tier = matching("tier", TIER, f.text("tier", required=False, max_len=20)) or "standard"
    active = f.flag("active", default=True)
    birthday = matching("birthday", BIRTHDAY, f.text("birthday", required=False, max_len=5))
    if phone is None and card_no is None:
        f.problem("phone", "a member needs a phone number or a card number")
    f.check()
    return Member(member_id, name, phone, card_no, tier, active, birthday)
