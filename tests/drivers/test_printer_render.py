"""Receipt documents rendered to ESC/POS with the shipped profiles, then read back."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from drivers.base import load_profile
from drivers.printer.profile import PrinterSettings, load_settings
from drivers.printer.render import Rendered, RenderError, ean13_ok, render
from drivers.sim import escpos_reader as reader
from edge.protocol import receipt as r

URL = "https://receipts.example.cn/r/S001-20240501-000123?k=9f2c"


def settings(name: str, **changes: Any) -> PrinterSettings:
    """Load a shipped printer profile, with some tables changed."""
    profile = copy.deepcopy(load_profile("printer", name))
    for table, values in changes.items():
        profile.setdefault(table, {}).update(values)
    return load_settings(profile)


def printed(doc: dict[str, Any], printer: PrinterSettings) -> tuple[Rendered, list[reader.Op]]:
    """Render a document and read its bytes back the way the printer's profile prints them."""
    rendered = render(doc, printer)
    kanji = not printer.charset.kanji_mode  # without FS &, these printers boot in Chinese mode
    return rendered, reader.read(rendered.data, encoding="gb18030", kanji=kanji)


def text_ops(ops: list[reader.Op]) -> list[reader.Op]:
    """Return the non-empty text lines."""
    return [op for op in ops if op.kind == "text" and str(op.value).strip()]


def test_every_block_kind_comes_back(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    Image.new("RGB", (800, 200), "black").save(logo)
    printer = settings("epson_tm_t88v", images={"files": {"logo": str(logo)}})
    doc = r.document([
        r.image("logo"),
        r.text("Big Store", align="center", bold=True, size=2),
        r.text("plain", align="right"),
        r.columns("Milk 1L", "12.50", bold=True),
        r.rule("="),
        r.barcode("4006381333931", "EAN13"),
        r.barcode("S001-000123", "CODE128"),
        r.qr(URL, size=6),
        r.feed(3),
        r.cut(),
        r.drawer(5),
    ])  # fmt: skip
    rendered, ops = printed(doc, printer)
    assert rendered.notes == []

    lines = text_ops(ops)
    title = lines[0]
    assert title.value == "Big Store"
    assert title.style == reader.Style(bold=True, align="center", width=2, height=2)
    assert lines[1].value == "plain" and lines[1].style == reader.Style(align="right")
    assert lines[2].style is not None and lines[2].style.bold
    assert lines[2].value == "Milk 1L" + " " * 30 + "12.50"
    assert lines[3].value == "=" * 42

    images = reader.values(ops, "image")
    assert len(images) == 1 and images[0]["width"] <= 512  # scaled down to the paper
    assert reader.values(ops, "barcode") == [
        {"symbology": "EAN13", "data": "4006381333931"},
        {"symbology": "CODE128", "data": "S001-000123"},
    ]
    assert reader.values(ops, "qr") == [URL]
    assert reader.values(ops, "qr_size") == [6]
    assert 3 in reader.values(ops, "feed")
    assert reader.values(ops, "cut") == ["full"]
    assert reader.values(ops, "drawer") == [5]
    kinds = [op.kind for op in ops]
    assert kinds.index("cut") < kinds.index("drawer")  # in document order
    assert ops[0].kind == "init"


def test_bytes_are_the_documented_escpos_commands() -> None:
    printer = settings("epson_tm_t88v")
    data = render(
        r.document([r.barcode("400638133393", "EAN13"), r.cut(), r.drawer(2)]), printer
    ).data
    assert b"\x1d\x6b\x02400638133393\x00" in data  # EAN-13, format A, NUL-terminated
    assert b"\x1b\x64\x06\x1d\x56\x00" in data  # feed 6, full cut
    assert data.endswith(b"\x1b\x70\x00\x32\x32")  # pin 2, 100 ms on/off
    code128 = render(r.document([r.barcode("AB12")]), printer).data
    assert b"\x1d\x6b\x49\x06{BAB12" in code128  # format B with length, code set B


def test_chinese_text_goes_out_as_gb18030_in_kanji_mode() -> None:
    printer = settings("epson_tm_t88v")
    doc = r.document([r.text("欢迎光临 测试店"), r.columns("可口可乐 330ml", "￥3.50")])
    rendered, ops = printed(doc, printer)
    assert "欢迎光临 测试店".encode("gb18030") in rendered.data
    assert b"?" not in rendered.data
    assert b"\x1c\x26" + "欢迎光临".encode("gb18030") in rendered.data  # FS & before
    assert reader.lines(ops) == ["欢迎光临 测试店", "可口可乐 330ml" + " " * 22 + "￥3.50"]
    # without FS & a printer in single-byte mode would print code-page symbols instead
    plain = rendered.data.replace(b"\x1c\x26", b"").replace(b"\x1c\x2e", b"")
    assert "欢迎" not in "".join(reader.lines(reader.read(plain, kanji=False)))


def test_chinese_on_a_printer_that_boots_in_chinese_mode_needs_no_fs() -> None:
    printer = settings("generic_58mm")
    rendered, ops = printed(r.document([r.text("收银员：张三")]), printer)
    assert b"\x1c\x26" not in rendered.data
    assert "收银员：张三".encode("gb18030") in rendered.data
    assert reader.lines(ops) == ["收银员：张三"]


@pytest.mark.parametrize(("name", "columns"), [("generic_58mm", 32), ("epson_tm_t88v", 42)])
@pytest.mark.parametrize(
    ("left", "right"),
    [("Milk 1L", "12.50"), ("可口可乐 330ml", "3.50"), ("五常大米 5kg ×2", "￥119.80")],
)
def test_two_columns_fill_the_paper_width_counting_cjk_double(
    name: str, columns: int, left: str, right: str
) -> None:
    printer = settings(name)
    _, ops = printed(r.document([r.columns(left, right)]), printer)
    [line] = text_ops(ops)
    # a double-byte character is two cells wide on the printer: count GB18030 bytes
    assert len(line.value.encode("gb18030")) == columns
    assert line.value.startswith(left) and line.value.endswith(right)


def test_a_long_item_name_wraps_and_keeps_its_amount_on_the_last_line() -> None:
    printer = settings("generic_58mm")
    name = "有机绿色蔬菜礼盒装特级精选冬季限定款超长名称"
    _, ops = printed(r.document([r.columns(name, "88.00")]), printer)
    lines = [op.value for op in text_ops(ops)]
    assert len(lines) >= 2
    assert "".join(line.rstrip(" 8.0") for line in lines) == name
    assert all(len(line.encode("gb18030")) <= 32 for line in lines)
    assert lines[-1].endswith("88.00")


def test_double_size_text_wraps_at_half_the_columns() -> None:
    printer = settings("generic_58mm")
    _, ops = printed(r.document([r.text("TOTAL DUE NOW 123.45 CNY", size=2)]), printer)
    lines = [op.value for op in text_ops(ops)]
    assert lines == ["TOTAL DUE NOW", "123.45 CNY"]
    assert all(len(line) <= 16 for line in lines)


def test_a_missing_logo_is_skipped_with_a_note_and_the_rest_prints() -> None:
    printer = settings("epson_tm_t88v")  # names images/store-logo.png, not shipped
    rendered, ops = printed(r.document([r.image("logo"), r.text("ok"), r.image("nope")]), printer)
    assert len(rendered.notes) == 2
    assert "logo" in rendered.notes[0] and "nope" in rendered.notes[1]
    assert reader.values(ops, "image") == []
    assert reader.lines(ops) == ["ok"]


def test_bad_documents_are_refused() -> None:
    printer = settings("epson_tm_t88v")
    with pytest.raises(RenderError, match="EAN13"):
        render(r.document([r.barcode("4006381333932", "EAN13")]), printer)  # wrong check digit
    with pytest.raises(RenderError, match="EAN13"):
        render(r.document([r.barcode("40063813", "EAN13")]), printer)
    with pytest.raises(RenderError, match="CODE128"):
        render(r.document([r.barcode("价格", "CODE128")]), printer)
    with pytest.raises(RenderError, match="version"):
        render({"blocks": [r.cut()]}, printer)
    with pytest.raises(RenderError, match="kind"):
        render(r.document([{"kind": "poem"}]), printer)
    assert ean13_ok("4006381333931") and ean13_ok("400638133393")


def test_control_characters_in_text_cannot_become_commands() -> None:
    printer = settings("epson_tm_t88v")
    sneaky = "Thanks\x1bp\x00\x32\x32\x1dV\x00"
    _, ops = printed(r.document([r.text(sneaky), r.columns("a\x1b@", "1\x10\x04\x04")]), printer)
    assert reader.values(ops, "drawer") == []
    assert reader.values(ops, "cut") == []
    assert reader.values(ops, "status") == []
    assert [op.kind for op in ops].count("init") == 1


def test_a_single_byte_code_page_is_selected_with_esc_t() -> None:
    printer = settings("epson_tm_t88v", text={"encoding": "CP858", "kanji_mode": False})
    rendered, ops = printed(r.document([r.text("Café 5,00 €")]), printer)
    assert b"\x1b\x74\x13" in rendered.data  # ESC t 19: CP858
    assert "Café 5,00 €".encode("cp858") in rendered.data
    assert reader.lines(reader.read(rendered.data)) == ["Café 5,00 €"]
    assert reader.values(ops, "codepage") == [19]


def test_image_mode_draws_qr_and_barcodes_as_pictures() -> None:
    printer = settings("generic_58mm", qr={"mode": "image"}, barcode={"mode": "image"})
    _, ops = printed(r.document([r.qr(URL), r.barcode("4006381333931", "EAN13")]), printer)
    assert reader.values(ops, "qr") == []
    assert reader.values(ops, "barcode") == []
    assert len(reader.values(ops, "image")) == 2
    assert all(image["width"] <= 384 for image in reader.values(ops, "image"))


def test_a_drawer_pin_the_printer_lacks_is_skipped_with_a_note() -> None:
    printer = settings("generic_58mm")  # pin 2 only
    rendered, ops = printed(r.document([r.drawer(5), r.drawer(2)]), printer)
    assert reader.values(ops, "drawer") == [2]
    assert rendered.notes and "pin 5" in rendered.notes[0]


def test_the_reader_sees_status_requests_realtime_kicks_and_cut_short_input() -> None:
    ops = reader.read(b"\x10\x04\x04ab\x10\x04\x02c\n\x10\x14\x01\x01\x03\x1d\x28\x6b\x20\x00\x31")
    assert reader.values(ops, "status") == [4, 2]
    assert reader.lines(ops) == ["abc"]
    assert reader.values(ops, "drawer") == [5]
    assert ops[-1].kind == "truncated"


def test_jobs_split_at_each_cut_without_status_requests() -> None:
    printer = settings("epson_tm_t88v")
    one = render(r.document([r.text("one"), r.cut()]), printer).data
    two = render(r.document([r.text("two"), r.cut()]), printer).data
    stream = b"\x10\x04\x04" + one + b"\x10\x04\x02\x10\x04\x04" + two + b"\x1b\x70\x00\x32\x32"
    assert reader.jobs(stream) == [one, two, b"\x1b\x70\x00\x32\x32"]
