"""Device rules and the broker's rights, pure."""

from __future__ import annotations

import pytest

from edge.domain.devices import (
    Device,
    add_commands,
    broker_document,
    check_device,
    move_commands,
    password_line,
    role_acls,
)
from edge.domain.errors import InvalidInput
from edge.protocol.mqtt import MessageError, check_event, decode, parse_topic


def test_a_gateway_role_grants_its_own_and_its_devices_topics_only() -> None:
    gateway = Device("gw-01", "gateway")
    mine = Device("scale-01", "scale", "gw-01", "T01")
    other = Device("scale-02", "scale", None, "T02")
    acls = role_acls("S1", gateway, [gateway, mine, other])
    topics = {a["topic"] for a in acls}
    assert "pos/v1/S1/scale/scale-01/evt/#" in topics
    assert "pos/v1/S1/gateway/gw-01/status" in topics
    assert not any("scale-02" in t for t in topics)
    assert all(a["allow"] for a in acls)
    assert {a["acltype"] for a in acls} == {"publishClientSend", "subscribePattern"}


def test_the_broker_document_refuses_by_default_and_holds_no_password() -> None:
    devices = [Device("scale-01", "scale", None, "T01")]
    line = password_line("scale-01", "pw", salt=b"0123456789ab")
    document = broker_document("S1", devices, [line, ""])
    assert document["defaultACLAccess"]["subscribe"] is False
    assert document["defaultACLAccess"]["publishClientSend"] is False
    client = document["clients"][0]
    assert client["username"] == "scale-01" and client["iterations"] == 101
    assert "pw" not in str(client.values())
    assert [r["rolename"] for r in document["roles"]] == ["edge-edge-server", "edge-scale-01"]


def test_moving_a_device_between_gateways_moves_its_rights() -> None:
    before = Device("scale-01", "scale", "gw-01")
    after = Device("scale-01", "scale", "gw-02")
    commands = move_commands("S1", before, after)
    assert {c["rolename"] for c in commands if c["command"] == "removeRoleACL"} == {"edge-gw-01"}
    assert {c["rolename"] for c in commands if c["command"] == "addRoleACL"} == {"edge-gw-02"}
    assert move_commands("S1", before, before) == []
    created = add_commands("S1", before, [before], "pw")
    assert [c["command"] for c in created[:2]] == ["createRole", "createClient"]


@pytest.mark.parametrize(
    "device",
    [
        Device("bad id", "scale"),
        Device("x", "toaster"),
        Device("edge-server", "scale"),
        Device("k1", "kiosk", till="T01"),
        Device("g1", "gateway", gateway="g0"),
    ],
)
def test_bad_devices_are_refused(device: Device) -> None:
    with pytest.raises(InvalidInput):
        check_device(device)


@pytest.mark.parametrize(
    "text",
    ["pos/v1/S1/scale/s1", "pos/v2/S1/scale/s1/status", "pos/v1/S1/toaster/s1/status",
     "pos/v1/S1/scale/s1/evt", "pos/v1/S1/scale/s1/evt/a/b", "pos/v1/S1/scale/s 1/status"],
)  # fmt: skip
def test_bad_topics_are_refused(text: str) -> None:
    with pytest.raises(MessageError):
        parse_topic(text)


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("scan", {"id": "a", "ts": 1, "code": "\x00"}),
        ("scan", {"id": "", "ts": 1, "code": "1"}),
        ("weight", {"id": "a", "ts": 1, "grams": 1.5, "stable": True}),
        ("weight", {"id": "a", "ts": 1, "grams": 10, "stable": "yes"}),
        ("weight", {"id": "a", "ts": 1, "grams": 10**9, "stable": True}),
        ("weight", {"id": "a", "ts": True, "grams": 10, "stable": True}),
        ("launch", {"id": "a", "ts": 1}),
    ],
)
def test_bad_events_are_refused(kind: str, payload: dict[str, object]) -> None:
    with pytest.raises(MessageError):
        check_event(kind, payload)


def test_payloads_must_be_small_json_objects() -> None:
    for raw in (b"", b"[]", b"\xff", b"x" * 300_000, b'"text"'):
        with pytest.raises(MessageError):
            decode(raw)
    assert decode('{"a":"中"}'.encode()) == {"a": "中"}
