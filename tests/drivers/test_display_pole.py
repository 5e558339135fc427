"""The customer pole display: behind a receipt printer and on its own serial port."""

from __future__ import annotations

import copy
import os
import select
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from drivers import display, printer
from drivers.base import DeviceError, ProfileError, load_profile
from drivers.printer import PrinterDriver
from drivers.sim import escpos_reader as reader
from drivers.sim.printer import PrinterSimulator


def pole(**changes: Any) -> dict[str, Any]:
    """Return the shipped pole display profile, with some fields changed."""
    profile = copy.deepcopy(load_profile("display", "pole_2x20"))
    profile.update(changes)
    return profile


@pytest.fixture
def sim() -> Iterator[PrinterSimulator]:
    """Run a printer simulator."""
    with PrinterSimulator() as simulator:
        yield simulator


@pytest.fixture
async def receipt_printer(sim: PrinterSimulator) -> AsyncIterator[PrinterDriver]:
    """Start the printer the display hangs off."""
    profile = copy.deepcopy(load_profile("printer", "epson_tm_t88v"))
    profile["status"]["poll_seconds"] = 5.0
    created = printer.create("printer-01", {"host": f"127.0.0.1:{sim.port}"}, profile, {})
    await created.start()
    yield created
    await created.stop()


def shown(data: bytes, encoding: str = "cp437") -> list[reader.Op]:
    """Read display bytes back."""
    return reader.read(data, encoding=encoding, kanji=encoding == "gb18030")


async def test_lines_go_through_the_printer_padded_and_clipped(
    sim: PrinterSimulator, receipt_printer: PrinterDriver
) -> None:
    peers = {"printer-01": receipt_printer}
    customer = display.create("display-01", {"via": "printer-01"}, pole(), peers)
    await customer.start()
    result = await customer.command(
        "show", {"lines": ["Milk 1L        12.50", "TOTAL 38.90 - thank you for shopping"]}
    )
    assert result == {"lines": ["Milk 1L        12.50", "TOTAL 38.90 - thank "]}
    data = sim.wait_data(b"\x1b\x3d\x01")
    ops = shown(data[data.index(b"\x1b\x3d\x02") :])
    kinds = [op.kind for op in ops]
    assert kinds[:3] == ["select", "display_mode", "clear"]
    assert reader.values(ops, "select") == [2, 1]  # to the display, back to the printer
    assert reader.values(ops, "cursor") == [(1, 1), (1, 2)]
    texts = [op.value for op in ops if op.kind == "text"]
    assert texts == ["Milk 1L        12.50", "TOTAL 38.90 - thank "]
    assert all(len(text) == 20 for text in texts)
    await customer.stop()
    assert (await receipt_printer.command("status", {}))["online"] is True


async def test_short_and_missing_lines_are_padded_and_clear_blanks(
    sim: PrinterSimulator, receipt_printer: PrinterDriver
) -> None:
    customer = display.create(
        "display-01", {"via": "printer-01"}, pole(), {"printer-01": receipt_printer}
    )
    assert await customer.command("show", {"lines": ["Hi"]}) == {
        "lines": ["Hi" + " " * 18, " " * 20]
    }
    assert await customer.command("clear", {}) == {"lines": [" " * 20, " " * 20]}
    with pytest.raises(DeviceError) as bad:
        await customer.command("show", {"lines": "Hi"})
    assert bad.value.code == "invalid_payload"
    with pytest.raises(DeviceError) as verb:
        await customer.command("print", {})
    assert verb.value.code == "unsupported"


async def test_a_chinese_display_counts_cjk_double() -> None:
    customer = display.create(
        "display-01", {"via": "printer-01"}, pole(encoding="gb18030"), {"printer-01": _printer()}
    )
    frame = customer.frame(["合计 ￥38.90", "谢谢惠顾，欢迎下次光临本店"])
    texts = [op.value for op in shown(frame, "gb18030") if op.kind == "text"]
    assert texts[0] == "合计 ￥38.90" + " " * 8
    assert texts[1] == "谢谢惠顾，欢迎下次光"  # 10 characters fill 20 cells
    assert all(len(text.encode("gb18030")) == 20 for text in texts)


def _printer() -> PrinterDriver:
    """Return a printer driver that is never started (the frame is built without I/O)."""
    profile = load_profile("printer", "epson_tm_t88v")
    return printer.create("printer-01", {"host": "127.0.0.1:9"}, profile, {})


def _read_master(master: int, needle: bytes, timeout: float = 3.0) -> bytes:
    """Read the far end of a pty until `needle` arrives (or `timeout` passes)."""
    data = b""
    deadline = time.monotonic() + timeout
    while needle not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            data += os.read(master, 4096)
    return data


async def test_a_display_on_its_own_serial_port() -> None:
    master, slave = os.openpty()
    try:
        customer = display.create("display-02", {"port": os.ttyname(slave)}, pole(), {})
        await customer.start()
        assert _read_master(master, b"\x1b\x40") == b"\x1b\x40"  # initialised at start
        await customer.command("show", {"lines": ["Welcome", "欢迎"]})
        data = _read_master(master, b"\x1f\x24\x01\x02??" + b" " * 18)
        ops = shown(data)
        assert reader.values(ops, "select") == []  # no printer to route through
        assert [op.value for op in ops if op.kind == "text"] == [
            "Welcome" + " " * 13,
            "??" + " " * 18,
        ]
        await customer.stop()
    finally:
        os.close(master)
        os.close(slave)


def test_a_display_needs_a_printer_or_a_port() -> None:
    with pytest.raises(ProfileError, match="needs via"):
        display.create("display-01", {}, pole(), {})
    with pytest.raises(ProfileError, match="via"):
        display.create("display-01", {"via": "printer-07"}, pole(), {})
    broken = pole(rows=3)
    with pytest.raises(ProfileError, match="row_start"):
        display.create("display-01", {"port": "/dev/null"}, broken, {})
