"""The device bus against a real Mosquitto: credentials, ACL, routing, junk, duplicates."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from aiohttp.test_utils import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from drivers.mqtt import PublishError
from edge.domain.devices import password_line, password_matches
from edge.protocol.mqtt import topic
from edge.settings import Settings
from edge.web.keys import LEDGER, SETTINGS
from tests.conftest import STORE
from tests.integration.bus_store import add_device, bus_client, bus_of, connect, until
from tests.integration.checkout_store import new_id, stock_up
from tests.integration.conftest import FakeClock, authorize

pytestmark = pytest.mark.timeout(60)
REFUSED = (0x86, 0x87)  # bad user name or password / not authorized: Mosquitto sends 0x87


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, clock: FakeClock) -> TestClient:
    client = await bus_client(aiohttp_client, settings, clock)
    await authorize(client, role="manager", till="T01")
    return client


def paho_attempt(
    port: int, user: str, password: str, subscribe: str | None = None, listen: float = 0.0,
    during: Any = None,
) -> dict[str, Any]:  # fmt: skip
    """Connect with plain paho (v5): report CONNACK, SUBACK and what the subscription got."""
    outcome: dict[str, Any] = {"got": []}
    done = threading.Event()
    mqttc = paho.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=paho.MQTTv5)
    mqttc.username_pw_set(user, password)

    def on_connect(c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        outcome["connect"] = reason.value
        if reason.is_failure or subscribe is None:
            done.set()
        else:
            c.subscribe(subscribe, qos=1)

    def on_subscribe(_c: paho.Client, _u: Any, _m: Any, reasons: list[Any], _p: Any) -> None:
        outcome["subscribe"] = [r.value for r in reasons]
        done.set()

    mqttc.on_connect = on_connect
    mqttc.on_subscribe = on_subscribe
    mqttc.on_message = lambda _c, _u, message: outcome["got"].append(message.topic)
    mqttc.connect("127.0.0.1", port)
    mqttc.loop_start()
    done.wait(5)
    if during is not None:
        during()
    time.sleep(listen)
    mqttc.disconnect()
    mqttc.loop_stop()
    return outcome


def test_password_lines_are_mosquitto_pbkdf2() -> None:
    line = password_line("scale-01", "s3cret", salt=b"0123456789ab")
    assert line.startswith("scale-01:$7$101$")
    assert password_matches(line, "s3cret")
    assert not password_matches(line, "s3cret!")


async def test_device_writes_only_its_own_topics(client: TestClient) -> None:
    scanner = await connect(client, "scanner-01", "scanner", till="T01")
    await add_device(client, "scale-01", "scale", till="T01")
    with pytest.raises(PublishError) as refused:
        await scanner.session.publish(
            topic(STORE.id, "scale", "scale-01", "evt", "weight"), b'{"id":"x"}'
        )
    assert refused.value.code == 0x87
    with pytest.raises(PublishError) as refused_cmd:
        await scanner.session.publish(topic(STORE.id, "printer", "p1", "cmd", "print"), b"{}")
    assert refused_cmd.value.code == 0x87
    await scanner.event("scan", code="6901234567892", symbology="EAN13")  # its own: accepted
    port = bus_of(client).broker_port
    assert port is not None
    _, password = await add_device(client, "scanner-02", "scanner")
    loop = asyncio.get_running_loop()

    def others_talk() -> None:
        asyncio.run_coroutine_threadsafe(
            scanner.event("scan", code="6901234567892", symbology="EAN13"), loop
        ).result(5)
        asyncio.run_coroutine_threadsafe(
            bus_of(client).send(bus_of(client).center.device("scale-01"), "tare", {}), loop
        ).result(5)

    everything = await asyncio.to_thread(
        paho_attempt, port, "scanner-02", password, "#", 0.5, others_talk
    )
    assert everything == {"connect": 0, "subscribe": [0x87], "got": []}
    await scanner.stop()


async def test_wrong_rotated_and_removed_credentials_are_refused(client: TestClient) -> None:
    port = bus_of(client).broker_port
    assert port is not None
    _, password = await add_device(client, "printer-01", "printer", till="T01")
    assert (await asyncio.to_thread(paho_attempt, port, "printer-01", password))["connect"] == 0
    bad = await asyncio.to_thread(paho_attempt, port, "printer-01", password + "x")
    assert bad["connect"] in REFUSED
    anonymous = await asyncio.to_thread(paho_attempt, port, "nobody", "")
    assert anonymous["connect"] in REFUSED
    rotated = await client.post("/api/v1/devices/printer-01/rotate")
    new_password = (await rotated.json())["password"]
    assert (await asyncio.to_thread(paho_attempt, port, "printer-01", password))[
        "connect"
    ] in REFUSED
    assert (await asyncio.to_thread(paho_attempt, port, "printer-01", new_password))["connect"] == 0
    removed = await client.delete("/api/v1/devices/printer-01")
    assert removed.status == 200
    gone = await asyncio.to_thread(paho_attempt, port, "printer-01", new_password)
    assert gone["connect"] in REFUSED
    listed = await (await client.get("/api/v1/devices")).json()
    assert [d["id"] for d in listed["devices"]] == []


async def test_no_password_reaches_the_ledger_or_the_acl(client: TestClient) -> None:
    _, password = await add_device(client, "scale-07", "scale", till="T01")
    path = client.server.app[LEDGER].path
    ledger_bytes = await asyncio.to_thread(
        lambda: Path(path).read_bytes() + Path(str(path) + "-wal").read_bytes()
    )
    assert password.encode() not in ledger_bytes
    settings = client.server.app[SETTINGS]
    hashes = await asyncio.to_thread((settings.mqtt_dir / "passwd").read_text)
    assert "scale-07:$7$" in hashes and password not in hashes
    await asyncio.sleep(0.2)  # the broker saves its document after a change
    document = await asyncio.to_thread((settings.mqtt_dir / "dynamic-security.json").read_text)
    assert password not in document
    role = next(r for r in json.loads(document)["roles"] if r["rolename"] == "edge-scale-07")
    assert {"acltype": "publishClientSend", "topic": f"pos/v1/{STORE.id}/scale/scale-07/evt/#",
            "priority": 0, "allow": True} in role["acls"]  # fmt: skip


async def test_a_scan_reaches_the_bound_tills_websocket_once(client: TestClient) -> None:
    await stock_up(client, till_float=None)
    scanner = await connect(client, "scanner-01", "scanner", till="T01")
    socket = await client.ws_connect("/api/v1/live?channels=till:T01")
    hello = await socket.receive_json(timeout=5)
    assert hello == {"type": "hello", "channels": ["till:T01"]}
    first = await scanner.event("scan", code="6901234567892", symbology="EAN13")
    message = await socket.receive_json(timeout=5)
    assert message["type"] == "scan" and message["event"] == first
    assert message["item"]["product"]["id"] == "COKE"
    assert message["item"]["product"]["list_price"] == 300
    await scanner.event("scan", id=first, code="6901234567892", symbology="EAN13")  # a resend
    unknown = await scanner.event("scan", code="4006381333931", symbology="EAN13")
    message = await socket.receive_json(timeout=5)
    assert message["event"] == unknown, "the duplicate was pushed"
    assert message["error"]["code"] == "unknown_barcode"
    assert bus_of(client).router.counts["duplicates"] == 1
    await socket.close()
    await scanner.stop()


async def test_junk_is_counted_and_dropped_and_the_bus_goes_on(client: TestClient) -> None:
    await stock_up(client, till_float=None)
    scanner = await connect(client, "scanner-01", "scanner", till="T01")
    socket = await client.ws_connect("/api/v1/live")
    await socket.receive_json(timeout=5)
    evt = topic(STORE.id, "scanner", "scanner-01", "evt", "scan")
    junk = [
        b"not json",
        b"\xff\xfe\x00",
        b"[1,2,3]",
        b'{"id": 5, "ts": 1, "code": "6901234567892"}',
        b'{"id": "a", "ts": -1, "code": "6901234567892"}',
        b'{"id": "b", "ts": 1, "code": ""}',
        b'{"id": "c", "ts": 1, "code": "69012\\u0000"}',
        b'{"id": "d", "ts": 1, "code": 6901234567892}',
        b"{" * 5000,
        b"x" * 300_000,
    ]
    for payload in junk:
        await scanner.raw(evt, payload)
    await scanner.raw(topic(STORE.id, "scanner", "scanner-01", "evt", "weight"),
                      b'{"id": "w", "ts": 1, "grams": 10, "stable": true}')  # fmt: skip
    good = await scanner.event("scan", code="6901234567816", symbology="EAN13")
    message = await socket.receive_json(timeout=5)
    assert message["event"] == good and message["item"]["product"]["id"] == "MILK"
    counts = bus_of(client).router.counts
    await until(lambda: counts["dropped_malformed"] == len(junk) + 1)
    devices = await (await client.get("/api/v1/devices")).json()
    assert devices["bus"]["counts"]["dropped_malformed"] == len(junk) + 1
    await scanner.stop()


async def test_weights_reach_the_till_and_status_follows_the_will(client: TestClient) -> None:
    scale = await connect(client, "scale-01", "scale", till="T01")
    socket = await client.ws_connect("/api/v1/live")
    await socket.receive_json(timeout=5)
    await scale.event("weight", grams=1250, stable=True, tare_grams=0)
    message = await socket.receive_json(timeout=5)
    assert (message["type"], message["grams"], message["stable"]) == ("weight", 1250, True)
    last = await (await client.get("/api/v1/devices/scale-01/weight")).json()
    assert last["grams"] == 1250

    def state() -> str:
        return next(d for d in bus_of(client).center.snapshot() if d["id"] == "scale-01")["state"]

    await until(lambda: state() == "online")
    # a dying device: the broker publishes its Will when the connection drops uncleanly
    scale.session._client._sock.close()  # type: ignore[union-attr]
    await until(lambda: state() == "lost", within=30)
    gone = await client.get("/api/v1/devices/scale-01/weight")  # nobody vouches for it now
    assert (gone.status, (await gone.json())["error"]["code"]) == (404, "no_weight")
    alerts = (await (await client.get("/api/v1/devices")).json())["alerts"]
    assert {"device": "scale-01", "kind": "lost"}.items() <= alerts[0].items()
    await socket.close()
    await scale.stop()


async def test_device_api_refuses_bad_input(client: TestClient) -> None:
    for body in (
        {"id": "bad id", "type": "scale"},
        {"id": "x", "type": "toaster"},
        {"id": "edge-server", "type": "scale"},
        {"id": "k1", "type": "kiosk", "till": "T01"},
        {"id": "s1", "type": "scale", "gateway": "no-such-gw"},
    ):
        response = await client.post("/api/v1/devices", json=body)
        assert response.status in (400, 404), (body, await response.text())
    await add_device(client, "scale-01", "scale")
    again = await client.post("/api/v1/devices", json={"id": "scale-01", "type": "scale"})
    assert again.status == 409
    wrong_verb = await client.post("/api/v1/devices/scale-01/commands/print", json={})
    assert wrong_verb.status == 400


async def test_kiosk_calls_reach_the_attendant_and_approval_goes_back(client: TestClient) -> None:
    kiosk = await connect(client, "kiosk-01", "kiosk", label="Kiosk 1")
    attendant = await client.ws_connect("/api/v1/live?channels=attendant,devices")
    assert (await attendant.receive_json(timeout=5))["channels"] == ["attendant", "devices"]
    call = await kiosk.event("attendant", reason="weight_mismatch", detail="expected 420 g")
    while (message := await attendant.receive_json(timeout=5))["channel"] != "attendant":
        pass
    assert message["kiosk"] == "kiosk-01"
    assert [c["reason"] for c in message["calls"]] == ["weight_mismatch"]
    await kiosk.event("bagging", expected_grams=420, actual_grams=610, ok=False)
    while (message := await attendant.receive_json(timeout=5))["channel"] != "attendant":
        pass
    assert message["bagging"] == {"expected_grams": 420, "actual_grams": 610, "ok": False}
    kiosks = await (await client.get("/api/v1/kiosks")).json()
    assert kiosks["kiosks"][0]["calls"][0]["id"] == call

    unknown = await client.post(f"/api/v1/kiosks/kiosk-01/calls/{'0' * 32}/approve")
    assert unknown.status == 404
    approved = await client.post(f"/api/v1/kiosks/kiosk-01/calls/{call}/approve")
    assert approved.status == 200, await approved.text()
    topic_, command = await kiosk.next()
    assert topic_.endswith("/cmd/approve") and command["call"] == call
    assert (await (await client.get("/api/v1/kiosks")).json())["kiosks"][0]["calls"] == []
    # a scale's weight is not a kiosk event: a kiosk may not claim to be a scanner either
    await kiosk.event("paper", state="out")
    await until(lambda: bus_of(client).router.counts["dropped_malformed"] >= 1)
    await attendant.close()
    await kiosk.stop()


async def test_a_cashier_follows_only_its_own_till(
    aiohttp_client: Any, settings: Settings, clock: FakeClock
) -> None:
    client = await bus_client(aiohttp_client, settings, clock)
    await authorize(client, role="cashier", till="T02")
    socket = await client.ws_connect("/api/v1/live?channels=till:T01,till:T02,attendant,devices")
    hello = await socket.receive_json(timeout=5)
    assert hello["channels"] == ["attendant", "devices", "till:T02"]
    await socket.close()
    plain = await client.get("/api/v1/live")
    assert plain.status == 404 and (await plain.json())["error"]["code"] == "websocket"


async def test_metrics_show_devices_and_bus_traffic(client: TestClient) -> None:
    printer = await connect(client, "printer-01", "printer", till="T01")
    await printer.event("paper", state="near_end")
    await until(lambda: bus_of(client).center.health.get("printer-01").paper == "near_end")
    text = await (await client.get("/metrics")).text()
    assert 'edge_device_up{device="printer-01",type="printer"} 1.0' in text
    assert 'edge_printer_paper{device="printer-01",state="near_end"} 1.0' in text
    assert 'edge_printer_paper{device="printer-01",state="out"} 0.0' in text
    assert 'edge_mqtt_messages_total{outcome="handled"}' in text
    assert "edge_mqtt_connected 1.0" in text
    # an error is an alert until the device says it is over
    await printer.event("error", code="cover_open")
    await until(lambda: bus_of(client).center.health.get("printer-01").error == "cover_open")
    alerts = (await (await client.get("/api/v1/devices")).json())["alerts"]
    assert {"device": "printer-01", "kind": "error", "code": "cover_open"} in [
        {k: a.get(k) for k in ("device", "kind", "code")} for a in alerts
    ]
    await printer.event("error", code="cover_open", cleared=True)
    await until(lambda: bus_of(client).center.health.get("printer-01").error is None)
    alerts = (await (await client.get("/api/v1/devices")).json())["alerts"]
    assert all(a["kind"] != "error" for a in alerts)
    assert "edge_device_error{" not in (await (await client.get("/metrics")).text())
    await printer.stop()


async def test_a_weighed_item_is_priced_from_the_tills_scale(client: TestClient) -> None:
    await stock_up(client)
    scale = await connect(client, "scale-01", "scale", till="T01")
    basket = {"lines": [{"product": "APPLE", "scale": "scale-01"}]}
    none_yet = await client.post("/api/v1/baskets/price", json=basket)
    assert (none_yet.status, (await none_yet.json())["error"]["code"]) == (404, "no_weight")
    await scale.event("weight", grams=1250, stable=False)
    await until(lambda: "scale-01" in bus_of(client).center.weights)
    moving = await client.post("/api/v1/baskets/price", json=basket)
    assert (moving.status, (await moving.json())["error"]["code"]) == (409, "unstable_weight")
    await scale.event("weight", grams=1250, stable=True)
    await until(lambda: bus_of(client).center.weights["scale-01"]["stable"])
    priced = await (await client.post("/api/v1/baskets/price", json=basket)).json()
    line = priced["lines"][0]
    assert line["grams"] == 1250 and line["amount"] == 1600  # 12.80/kg x 1.250 kg
    # the scale takes its weight back (goods moved, overload): it may not price goods any more
    socket = await client.ws_connect("/api/v1/live")
    await socket.receive_json(timeout=5)
    await scale.event("error", code="overload")
    withdrawn = await socket.receive_json(timeout=5)
    assert (withdrawn["type"], withdrawn["code"]) == ("weight_error", "overload")
    alerts = (await (await client.get("/api/v1/devices")).json())["alerts"]
    assert {"device": "scale-01", "kind": "error", "code": "overload"}.items() <= alerts[0].items()
    assert 'edge_device_error{code="overload",device="scale-01",type="scale"} 1.0' in (
        await (await client.get("/metrics")).text()
    )
    stale = await client.post("/api/v1/baskets/price", json=basket)
    assert (stale.status, (await stale.json())["error"]["code"]) == (404, "no_weight")
    await socket.close()
    await scale.event("weight", grams=1250, stable=True)  # a good weight clears the error
    await until(lambda: "scale-01" in bus_of(client).center.weights)
    assert bus_of(client).center.health.get("scale-01").error is None
    both = await client.post(
        "/api/v1/baskets/price",
        json={"lines": [{"product": "APPLE", "scale": "scale-01", "grams": 5}]},
    )
    assert both.status == 400
    await add_device(client, "scale-02", "scale", till="T02")
    other = await client.post(
        "/api/v1/baskets/price", json={"lines": [{"product": "APPLE", "scale": "scale-02"}]}
    )
    assert (other.status, (await other.json())["error"]["code"]) == (409, "scale_not_bound")
    sale = {"id": new_id(), **basket, "tenders": [{"kind": "cash", "amount": 1600}]}
    made = await client.post("/api/v1/sales", json=sale)
    assert made.status == 201, await made.text()
    await scale.event("weight", grams=900, stable=True)  # the next shopper's apples
    await until(lambda: bus_of(client).center.weights["scale-01"]["grams"] == 900)
    again = await client.post("/api/v1/sales", json=sale)  # a retry of the same sale
    assert again.status == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert (await again.json())["lines"][0]["grams"] == 1250
    await scale.stop()


async def test_the_customer_display_follows_the_basket_and_the_sale(client: TestClient) -> None:
    await stock_up(client)
    display = await connect(client, "display-01", "display", till="T01")
    basket = {"lines": [{"code": "6901234567816"}, {"code": "6901234567892", "quantity": 2}]}
    assert (await client.post("/api/v1/baskets/price", json=basket)).status == 200
    topic_, command = await display.next()
    assert topic_.endswith("/cmd/show")
    assert command["lines"] == ["可乐 6.00", "合计 12.50"]
    sale = {"id": new_id(), **basket, "tenders": [{"kind": "cash", "amount": 2000}]}
    assert (await client.post("/api/v1/sales", json=sale)).status == 201
    _, command = await display.next()
    assert command["lines"] == ["合计 12.50", "找零 7.50"]
    await display.stop()


async def test_a_gateway_speaks_only_for_the_devices_attached_to_it(client: TestClient) -> None:
    gateway = await connect(client, "gw-01", "gateway")
    await add_device(client, "scanner-01", "scanner", till="T01")
    await add_device(client, "scanner-02", "scanner", gateway="gw-01", till="T02")
    own = topic(STORE.id, "scanner", "scanner-02", "evt", "scan")
    other = topic(STORE.id, "scanner", "scanner-01", "evt", "scan")
    body = b'{"id":"a1","ts":1,"code":"6901234567892"}'
    await gateway.session.publish(own, body)  # accepted
    with pytest.raises(PublishError) as refused:
        await gateway.session.publish(other, body)
    assert refused.value.code == 0x87
    moved = await client.patch("/api/v1/devices/scanner-02", json={"gateway": None})
    assert moved.status == 200, await moved.text()
    with pytest.raises(PublishError) as after:
        await gateway.session.publish(own, body)
    assert after.value.code == 0x87
    back = await client.patch("/api/v1/devices/scanner-02", json={"gateway": "gw-01"})
    assert back.status == 200
    await gateway.session.publish(own, b'{"id":"a2","ts":1,"code":"6901234567892"}')
    busy = await client.delete("/api/v1/devices/gw-01")
    assert (busy.status, (await busy.json())["error"]["code"]) == (409, "gateway_in_use")
    await gateway.stop()
