"""A request body's idempotency fingerprint: stable across versions, blind to presented data."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edge.services.checkout import fingerprint
from edge.web.sales import SALE_SCHEMA
from edge.web.schema import validate

text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30)
lines = st.lists(
    st.fixed_dictionaries(
        {"quantity": st.integers(1, 9999)},
        optional={"code": text, "product": text, "grams": st.integers(1, 1_000_000)},
    ),
    min_size=1,
    max_size=6,
)
tenders = st.lists(
    st.fixed_dictionaries(
        {"kind": st.sampled_from(["cash", "card", "qr"]), "amount": st.integers(1, 10**8)},
        optional={"presented": text},
    ),
    max_size=3,
)
bodies = st.fixed_dictionaries(
    {"id": st.uuids().map(str), "lines": lines, "tenders": tenders},
    optional={"member": st.none() | text, "coupons": st.lists(text, max_size=3)},
)


def _as_before(body: dict[str, Any]) -> str:
    """The fingerprint as the json module made it: what sales recorded earlier carry."""
    kept = {
        key: [{k: v for k, v in t.items() if k != "presented"} for t in value]
        if key == "tenders"
        else value
        for key, value in body.items()
    }
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@given(bodies)
def test_a_valid_body_keeps_the_fingerprint_sales_were_recorded_with(body: dict[str, Any]) -> None:
    assert validate(body, SALE_SCHEMA) == []
    assert fingerprint(body) == _as_before(body)


def test_what_a_shopper_presented_does_not_change_the_fingerprint() -> None:
    body = {"id": "x", "lines": [{"code": "1", "quantity": 1}], "tenders": [{"kind": "card"}]}
    shown = body | {"tenders": [{"kind": "card", "presented": "4111111111111111"}]}
    assert fingerprint(shown) == fingerprint(body)
    assert fingerprint(body | {"member": "M1"}) != fingerprint(body)
