"""Members: validation reports every problem; phones are shown masked."""

from __future__ import annotations

import pytest

from edge.domain.errors import ValidationFailed
from edge.domain.members import mask_phone, member_from_fields


def test_phone_is_normalised_and_shown_masked() -> None:
    member = member_from_fields({"id": "M1", "phone": "138 1234-8000", "name": "王小明"})
    assert (member.phone, member.display, member.tier) == ("13812348000", "138****8000", "standard")
    assert member_from_fields({"id": "M2", "card_no": "VIP-9"}).display == "VIP-9"
    assert mask_phone("+8613812348000") == "861******8000"
    assert mask_phone("1234567") == "*******"


def test_every_problem_is_reported() -> None:
    with pytest.raises(ValidationFailed) as caught:
        member_from_fields(
            {"id": "bad id", "phone": "call me", "tier": "Gold", "active": "y", "x": 1}
        )
    assert [path for path, _ in caught.value.problems] == ["x", "id", "phone", "tier", "active"]
    with pytest.raises(ValidationFailed) as caught:
        member_from_fields({"id": "M3"})
    assert caught.value.problems == [("phone", "a member needs a phone number or a card number")]
