"""Self-checkout kiosks: their calls for an attendant and the bagging-area check.

A kiosk's browser calls for an attendant over HTTP the way a kiosk device does with
`evt/attendant`: the call lands in device health, so the attendant screen sees it on the
`attendant` channel and `GET /api/v1/kiosks`. The bagging check compares the scale bound to
the kiosk with what the basket should weigh (edge/domain/kiosk.py) and is shown there too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from edge.domain.devices import Device
from edge.domain.errors import Conflict, Forbidden, NotFound
from edge.domain.kiosk import HEALTH_REASONS, BagExpectation, BagItem, check_bagging, expected_bag
from edge.ledger.ledger import Ledger
from edge.services.auth import Principal
from edge.services.device_center import DeviceCenter

HEALTH_TO_REASON = {v: k for k, v in HEALTH_REASONS.items()}


def kiosk_device(center: DeviceCenter, kiosk: str) -> Device:
    """Return the kiosk device (404 unknown_kiosk for anything else)."""
    device = center.devices.get(kiosk)
    if device is None or device.type != "kiosk":
        raise NotFound(f"no kiosk {kiosk}", code="unknown_kiosk")
    return device


def own_kiosk(center: DeviceCenter, principal: Principal | None, kiosk: str) -> Device:
    """Return the kiosk the caller is (a kiosk acts only for itself: 403 otherwise)."""
    device = kiosk_device(center, kiosk)
    if principal is None or principal.till != device.id:
        raise Forbidden(f"only {device.id} itself may do this", code="not_this_kiosk")
    return device


def call_view(kiosk: str, call: dict[str, Any]) -> dict[str, Any]:
    """Return a call as the kiosk API shows it (reasons in the kiosk's words)."""
    return {
        "id": call["id"],
        "kiosk": kiosk,
        "reason": HEALTH_TO_REASON.get(call["reason"], call["reason"]),
        "detail": call.get("detail", ""),
        "at": call.get("at"),
    }


def open_calls(center: DeviceCenter, kiosk: str) -> list[dict[str, Any]]:
    """Return a kiosk's open calls."""
    return [call_view(kiosk, c) for c in center.health.get(kiosk).attendant]


def call_attendant(center: DeviceCenter, kiosk: Device, reason: str, detail: str) -> dict[str, Any]:
    """Record a kiosk's call for an attendant (pushed to the attendant screen)."""
    health = center.health.get(kiosk.id)
    if len(health.attendant) >= 20:
        raise Conflict(f"{kiosk.id} has too many open calls", code="too_many_calls")
    call_id = uuid.uuid4().hex
    center.health.attendant(
        kiosk.id, {"id": call_id, "reason": HEALTH_REASONS[reason], "detail": detail}
    )
    call = next(c for c in center.health.get(kiosk.id).attendant if c["id"] == call_id)
    return call_view(kiosk.id, call)


def cancel_call(center: DeviceCenter, kiosk: Device, call: str) -> None:
    """Withdraw a kiosk's own open call (404 unknown_call when it is not open)."""
    if not any(c["id"] == call for c in center.health.get(kiosk.id).attendant):
        raise NotFound(f"no open call {call} at {kiosk.id}", code="unknown_call")
    center.health.clear_call(kiosk.id, call)


async def check_bag(
    ledger: Ledger,
    center: DeviceCenter,
    kiosk: Device,
    lines: Sequence[dict[str, Any]],
    *,
    offset_grams: int = 0,
    abs_grams: int,
    percent_bp: int,
) -> dict[str, Any]:
    """Compare the kiosk's bagging scale with what the basket lines (and an offset) should weigh."""
    scale = center.bound(kiosk.id, "scale")
    if scale is None:
        raise Conflict(f"no scale is bound to {kiosk.id}", code="no_bagging_scale")
    ids = sorted({str(line["product"]) for line in lines})
    weights: dict[str, int | None] = {}
    if ids:
        marks = ",".join("?" * len(ids))
        rows = ledger.reader.quick(
            f"SELECT id, unit_grams, sold_by_weight FROM products WHERE id IN ({marks})", ids
        )
        weights = {row[0]: row[1] for row in rows}
        missing = [i for i in ids if i not in weights]
        if missing:
            raise NotFound(f"no product {missing[0]}", code="unknown_product")
    listed = expected_bag(
        BagItem(int(line.get("quantity", 1)), weights[str(line["product"])], line.get("grams"))
        for line in lines
    )
    expectation = BagExpectation(max(0, listed.grams + offset_grams), listed.unknown)
    reading = center.weight(scale.id)
    if reading is None or not reading.get("stable", True):
        result: dict[str, Any] = {
            "expected_grams": expectation.grams,
            "actual_grams": None,
            "tolerance_grams": None,
            "unknown": expectation.unknown,
            "ok": False,
            "settled": False,
            "scale": scale.id,
        }
        return result
    check = check_bagging(
        expectation, int(reading["grams"]), abs_grams=abs_grams, percent_bp=percent_bp
    )
    center.health.bagging(
        kiosk.id,
        {"expected_grams": check.expected_grams, "actual_grams": check.actual_grams,
         "ok": check.ok},
    )  # fmt: skip
    return {
        "expected_grams": check.expected_grams,
        "actual_grams": check.actual_grams,
        "tolerance_grams": check.tolerance_grams,
        "unknown": check.unknown,
        "ok": check.ok,
        "settled": True,
        "scale": scale.id,
    }
