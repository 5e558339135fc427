"""The printer driver against the TCP printer simulator: receipts, paper, cover, hangs, drops,
and the cash drawer kicked through the printer."""

from __future__ import annotations

import asyncio
import copy
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from drivers import drawer, printer
from drivers.base import DeviceError, DeviceEvent, ProfileError, TransportError, load_profile
from drivers.printer import PrinterDriver
from drivers.sim import escpos_reader as reader
from drivers.sim.printer import PrinterSimulator
from edge.protocol import receipt as r

E_RECEIPT = "https://receipts.example.cn/r/S001-T02-000457"


def fast_profile(name: str = "epson_tm_t88v") -> dict[str, Any]:
    """Return a shipped profile with test-sized timeouts and polling."""
    profile = copy.deepcopy(load_profile("printer", name))
    profile["status"].update(reply_timeout=0.3, poll_seconds=0.1)
    profile["link"].update(connect_timeout=1.0, job_timeout=2.0)
    return profile


def receipt() -> dict[str, Any]:
    """Build a real receipt the way the server does."""
    return r.document([
        r.text("鲜果超市 人民路店", align="center", bold=True, size=2),
        r.text("Fresh Mart · Renmin Rd", align="center"),
        r.text("单号 S001-T02-000457  收银员 张三"),
        r.rule(),
        r.columns("红富士苹果 1.25kg × ￥12.80", "16.00"),
        r.columns("可口可乐 330ml ×2", "7.00"),
        r.columns("Organic Milk 1L", "15.90"),
        r.rule(),
        r.columns("合计 Total", "38.90", bold=True),
        r.columns("微信支付 WeChat Pay", "38.90"),
        r.barcode("S001-T02-000457", "CODE128"),
        r.qr(E_RECEIPT, size=6),
        r.text("扫码获取电子发票", align="center"),
        r.cut(),
    ])  # fmt: skip


@pytest.fixture
def sim() -> Iterator[PrinterSimulator]:
    """Run a printer simulator."""
    with PrinterSimulator() as simulator:
        yield simulator


@pytest.fixture
async def driver(sim: PrinterSimulator) -> AsyncIterator[PrinterDriver]:
    """Start a printer driver on the simulator."""
    created = printer.create("printer-01", {"host": f"127.0.0.1:{sim.port}"}, fast_profile(), {})
    await created.start()
    yield created
    await created.stop()


def drained(driver: PrinterDriver) -> list[DeviceEvent]:
    """Take every queued event."""
    events = []
    while not driver.events.empty():
        events.append(driver.events.get_nowait())
    return events


def drawer_pins(sim: PrinterSimulator, count: int) -> list[int]:
    """Wait until `count` drawer kicks have arrived; return their pins."""
    deadline = time.monotonic() + 3
    pins = reader.values(reader.read(sim.data()), "drawer")
    while len(pins) < count and time.monotonic() < deadline:
        time.sleep(0.01)
        pins = reader.values(reader.read(sim.data()), "drawer")
    return pins


async def test_a_real_receipt_prints_over_tcp_and_reads_back(
    sim: PrinterSimulator, driver: PrinterDriver
) -> None:
    result = await driver.command("print", {"document": receipt()})
    [job] = sim.wait_jobs(1)
    assert result["bytes"] == len(job)
    assert result["paper"] == "ok"
    ops = reader.read(job)
    lines = reader.lines(ops)
    assert lines[0] == "鲜果超市 人民路店"
    assert "可口可乐 330ml ×2" in lines[5] and lines[5].endswith("7.00")
    assert any(line.startswith("合计 Total") and line.endswith("38.90") for line in lines)
    assert reader.values(ops, "qr") == [E_RECEIPT]
    assert reader.values(ops, "barcode") == [{"symbology": "CODE128", "data": "S001-T02-000457"}]
    assert reader.values(ops, "cut") == ["full"]
    assert 4 in sim.answered and 2 in sim.answered  # asked for status before printing


async def test_paper_out_refuses_the_job_and_reports_it(
    sim: PrinterSimulator, driver: PrinterDriver
) -> None:
    assert [e.data for e in drained(driver) if e.kind == "paper"] == [{"state": "ok"}]
    sim.set_paper("out")
    with pytest.raises(DeviceError) as refused:
        await driver.command("print", {"document": receipt()})
    assert refused.value.code == "paper_out"
    assert DeviceEvent("paper", {"state": "out"}) in drained(driver)
    await asyncio.sleep(0.2)
    assert sim.jobs() == []  # nothing was sent into the empty printer
    assert await driver.command("status", {}) == {"paper": "out", "online": True}
    sim.set_paper("ok")
    assert (await driver.command("print", {"document": receipt()}))["paper"] == "ok"
    assert len(sim.wait_jobs(1)) == 1


async def test_the_poll_reports_each_change_once(
    sim: PrinterSimulator, driver: PrinterDriver
) -> None:
    drained(driver)
    sim.set_paper("near_end")
    event = await asyncio.wait_for(driver.events.get(), 3.0)  # the poll noticed
    assert event == DeviceEvent("paper", {"state": "near_end"})
    await asyncio.sleep(0.4)  # several more polls, no change
    assert drained(driver) == []


async def test_near_end_still_prints_and_says_so(
    sim: PrinterSimulator, driver: PrinterDriver
) -> None:
    sim.set_paper("near_end")
    result = await driver.command("print", {"document": receipt()})
    assert result["paper"] == "near_end"
    assert len(sim.wait_jobs(1)) == 1
    assert DeviceEvent("paper", {"state": "near_end"}) in drained(driver)


async def test_cover_open_refuses_then_clears(sim: PrinterSimulator, driver: PrinterDriver) -> None:
    drained(driver)
    sim.set_cover_open(True)
    with pytest.raises(DeviceError) as refused:
        await driver.command("print", {"document": receipt()})
    assert refused.value.code == "cover_open"
    assert await driver.command("status", {}) == {"paper": "ok", "online": False}
    sim.set_cover_open(False)
    assert await driver.command("status", {}) == {"paper": "ok", "online": True}
    assert drained(driver) == [
        DeviceEvent("error", {"code": "cover_open"}),
        DeviceEvent("error", {"code": "cover_open", "cleared": True}),
    ]


async def test_a_printer_in_error_is_offline(sim: PrinterSimulator, driver: PrinterDriver) -> None:
    sim.set_offline(True)
    with pytest.raises(DeviceError) as refused:
        await driver.command("print", {"document": receipt()})
    assert refused.value.code == "offline"
    assert DeviceEvent("error", {"code": "offline"}) in drained(driver)


async def test_a_hung_printer_times_out_instead_of_hanging_the_sale(
    sim: PrinterSimulator, driver: PrinterDriver
) -> None:
    drained(driver)
    sim.hang()
    started = time.monotonic()
    with pytest.raises(DeviceError) as failed:
        await driver.command("print", {"document": receipt()})
    assert failed.value.code == "timeout"
    assert await driver.command("status", {}) == {"paper": "ok", "online": False}
    assert time.monotonic() - started < 3.0
    assert DeviceEvent("error", {"code": "offline"}) in drained(driver)
    sim.hang(False)
    await driver.command("print", {"document": receipt()})  # a new job gets a new connection
    assert len(sim.wait_jobs(1)) == 1
    assert DeviceEvent("error", {"code": "offline", "cleared": True}) in drained(driver)


async def test_a_broken_connection_is_replaced_on_the_next_job(
    sim: PrinterSimulator, driver: PrinterDriver
) -> None:
    await driver.command("print", {"document": receipt()})
    sim.close_connections()  # printer power-cycled between two sales
    await asyncio.sleep(0.05)
    await driver.command("print", {"document": receipt()})
    assert len(sim.wait_jobs(2)) == 2
    connections = len(sim.connections())
    assert connections >= 2

    sim.drop_next_connection()
    sim.close_connections()
    await asyncio.sleep(0.05)
    with pytest.raises(DeviceError) as failed:
        await driver.command("print", {"document": receipt()})
    assert failed.value.code == "offline"
    await driver.command("print", {"document": receipt()})
    assert len(sim.wait_jobs(3)) == 3


async def test_an_unreachable_printer_fails_fast(sim: PrinterSimulator) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    gone = printer.create("printer-09", {"host": "127.0.0.1", "tcp_port": free}, fast_profile(), {})
    with pytest.raises(TransportError):
        await gone.start()
    with pytest.raises(DeviceError) as failed:
        await gone.command("print", {"document": receipt()})
    assert failed.value.code == "offline"
    assert (await gone.command("status", {}))["online"] is False
    await gone.stop()


async def test_bad_documents_and_verbs_are_refused(
    sim: PrinterSimulator, driver: PrinterDriver
) -> None:
    with pytest.raises(DeviceError) as bad:
        await driver.command("print", {"document": {"version": 1, "blocks": []}})
    assert bad.value.code == "invalid_document"
    with pytest.raises(DeviceError) as missing:
        await driver.command("print", {})
    assert missing.value.code == "invalid_document"
    with pytest.raises(DeviceError) as verb:
        await driver.command("tare", {})
    assert verb.value.code == "unsupported"
    await asyncio.sleep(0.1)
    assert sim.jobs() == []


async def test_the_drawer_kicks_through_its_printer(
    sim: PrinterSimulator, driver: PrinterDriver
) -> None:
    till_drawer = drawer.create("drawer-01", {"via": "printer-01"}, {}, {"printer-01": driver})
    assert await till_drawer.command("open", {}) == {"pin": 2}
    assert b"\x1b\x70\x00\x32\x32" in sim.wait_data(b"\x1b\x70\x00\x32\x32")
    assert await till_drawer.command("open", {"pin": 5}) == {"pin": 5}
    assert b"\x1b\x70\x01\x32\x32" in sim.wait_data(b"\x1b\x70\x01\x32\x32")
    second = drawer.create("drawer-02", {"via": "printer-01", "pin": 5}, {}, {"printer-01": driver})
    await second.command("open", {})
    assert drawer_pins(sim, 3) == [2, 5, 5]
    with pytest.raises(DeviceError) as pin:
        await till_drawer.command("open", {"pin": 3})
    assert pin.value.code == "invalid_pin"
    with pytest.raises(DeviceError) as verb:
        await till_drawer.command("show", {})
    assert verb.value.code == "unsupported"
    assert till_drawer.describe()["via"] == "printer-01"
    await till_drawer.stop()  # leaves the printer's link alone
    assert (await driver.command("status", {}))["online"] is True


async def test_the_drawer_still_opens_when_the_paper_is_out(
    sim: PrinterSimulator, driver: PrinterDriver
) -> None:
    sim.set_paper("out")
    await driver.command("status", {})
    till_drawer = drawer.create("drawer-01", {"via": "printer-01"}, {}, {"printer-01": driver})
    await till_drawer.command("open", {})
    # ESC p would wait in the buffer of an offline printer: DLE DC4 pulses at once
    assert b"\x10\x14\x01\x00\x01" in sim.wait_data(b"\x10\x14\x01\x00\x01")
    assert b"\x1b\x70" not in sim.data()


def test_a_drawer_needs_a_printer_peer(driver: PrinterDriver) -> None:
    with pytest.raises(ProfileError, match="via"):
        drawer.create("drawer-01", {"via": "printer-02"}, {}, {"printer-01": driver})
    with pytest.raises(ProfileError, match="pin"):
        drawer.create("drawer-01", {"via": "printer-01", "pin": 4}, {}, {"printer-01": driver})


async def test_a_serial_url_printer_prints_too(sim: PrinterSimulator) -> None:
    config = {"port": f"socket://127.0.0.1:{sim.port}"}
    serial_printer = printer.create("printer-02", config, fast_profile("generic_58mm"), {})
    await serial_printer.start()
    result = await serial_printer.command("print", {"document": receipt()})
    [job] = sim.wait_jobs(1)
    assert result["bytes"] == len(job)
    assert reader.lines(reader.read(job, kanji=True))[0] == "鲜果超市"  # 16 cells at double size
    await serial_printer.stop()


async def test_a_printer_without_status_prints_without_asking(sim: PrinterSimulator) -> None:
    profile = fast_profile("generic_58mm")
    profile["status"] = {"enabled": False}
    quiet = printer.create("printer-04", {"host": f"127.0.0.1:{sim.port}"}, profile, {})
    await quiet.start()
    await quiet.command("print", {"document": receipt()})
    assert len(sim.wait_jobs(1)) == 1
    assert await quiet.command("status", {}) == {"paper": "unknown", "online": True}
    sim.close_connections()
    await asyncio.sleep(0.05)
    await quiet.command("print", {"document": receipt()})  # reconnects
    assert len(sim.wait_jobs(2)) == 2
    assert sim.answered == []
    await quiet.stop()
