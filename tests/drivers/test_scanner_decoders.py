"""Scanner decoders without I/O: code checks, serial framing, HID POS chunks, keyboard reports."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.base import load_profile
from drivers.scanner import (
    Frame,
    HidPosDecoder,
    HidPosFormat,
    KeyboardDecoder,
    Rejected,
    Rules,
    Scan,
    SerialDecoder,
    SerialFraming,
    accept,
    gtin_check_digit,
    keyboard_layout,
)
from drivers.sim.scanner import hid_pos_reports, keyboard_reports

RULES = Rules()
LAYOUT = keyboard_layout(load_profile("scanner", "usb_keyboard"))


def reasons(outcomes: list[Frame | Rejected]) -> list[str]:
    return [item.reason for item in outcomes if isinstance(item, Rejected)]


def frames(outcomes: list[Frame | Rejected]) -> list[Frame]:
    return [item for item in outcomes if isinstance(item, Frame)]


# -- checking finished codes -------------------------------------------------------------


def test_check_digits_match_the_gs1_examples() -> None:
    assert gtin_check_digit("400638133393") == 1
    assert gtin_check_digit("9501234") == 6
    assert gtin_check_digit("03600029145") == 2


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (Frame("4006381333931", "]E0"), Scan("4006381333931", "EAN13")),
        (Frame("036000291452", "]E0"), Scan("036000291452", "UPCA")),
        (Frame("95012346", "]E4"), Scan("95012346", "EAN8")),
        (Frame("ABC-123", "]C0"), Scan("ABC-123", "CODE128")),
        (Frame("0109501101530003", "]C1"), Scan("0109501101530003", "CODE128")),
        (Frame("https://x.cn/a", "]Q1"), Scan("https://x.cn/a", "QR")),
        (Frame("LOT7", "]d1"), Scan("LOT7", "DATAMATRIX")),
        (Frame("PLU42", "]Y5"), Scan("PLU42", "]Y5")),
        (Frame("400638133393115", "]E3"), Scan("400638133393115", "EAN13_ADDON")),
        (Frame("4006381333931"), Scan("4006381333931", "EAN13")),
        (Frame("12345670"), Scan("12345670", "EAN8")),
        (Frame("1234567"), Scan("1234567", "")),
        (Frame("12345678", "]C0"), Scan("12345678", "CODE128")),
    ],
)
def test_good_codes_are_named(frame: Frame, expected: Scan) -> None:
    assert accept(frame, RULES) == expected


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (Frame("4006381333932", "]E0"), "check_digit"),
        (Frame("4006381333932"), "check_digit"),
        (Frame("036000291453", "]E0"), "check_digit"),
        (Frame("95012347", "]E4"), "check_digit"),
        (Frame("12345678"), "check_digit"),
        (Frame("40063813339", "]E0"), "format"),
        (Frame("400638133393A", "]E0"), "format"),
        (Frame("400638133393215", "]E3"), "check_digit"),
        (Frame("AB\x1dCD", "]C1"), "unprintable"),
        (Frame("", ""), "unprintable"),
        (Frame("x" * 129), "length"),
        (Frame("ABC", "E0"), "format"),
    ],
)
def test_bad_codes_are_rejected(frame: Frame, reason: str) -> None:
    result = accept(frame, RULES)
    assert isinstance(result, Rejected)
    assert result.reason == reason


def test_unnamed_digit_check_can_be_turned_off_for_in_house_labels() -> None:
    rules = Rules(check_digits_unnamed=False)
    assert accept(Frame("12345678"), rules) == Scan("12345678", "")
    assert isinstance(accept(Frame("12345678", "]E4"), rules), Rejected)


def test_length_bounds_come_from_the_rules() -> None:
    rules = Rules(min_length=4, max_length=6)
    assert accept(Frame("ABC"), rules) == Rejected("length", 3)
    assert accept(Frame("ABCDEFG"), rules) == Rejected("length", 7)
    assert accept(Frame("ABCD"), rules) == Scan("ABCD", "")


# -- serial framing ------------------------------------------------------------------------


def serial(suffix: bytes = b"\r", **kwargs: object) -> SerialDecoder:
    return SerialDecoder(SerialFraming(suffix, **kwargs), 128, "ascii")  # type: ignore[arg-type]


def test_serial_splits_on_cr_and_joins_split_reads() -> None:
    decoder = serial()
    assert decoder.feed(b"40063813", 0.0) == []
    out = decoder.feed(b"33931\rABC-1\r96385", 0.01)
    assert out == [Frame("4006381333931"), Frame("ABC-1")]
    assert decoder.feed(b"074\r", 0.02) == [Frame("96385074")]


def test_serial_crlf_suffix_split_between_reads() -> None:
    decoder = serial(b"\r\n")
    assert decoder.feed(b"4006381333931\r", 0.0) == []
    assert decoder.feed(b"\n", 0.01) == [Frame("4006381333931")]


def test_serial_cr_profile_fed_crlf_rejects_the_codes_after_the_first() -> None:
    # a misconfigured suffix shows up as garbled reads, never as codes with junk in them
    decoder = serial(b"\r")
    out = decoder.feed(b"4006381333931\r\n96385074\r\n", 0.0)
    assert out[0] == Frame("4006381333931")
    assert out[1] == Frame("\n96385074")
    assert isinstance(accept(out[1], RULES), Rejected)


def test_serial_half_code_is_rejected_after_the_inter_character_timeout() -> None:
    decoder = serial(timeout=0.3)
    assert decoder.feed(b"400638", 0.0) == []
    assert decoder.expire(0.2) == []
    assert decoder.feed(b"133", 0.25) == []
    assert decoder.expire(0.5) == []  # the timer restarted at the last byte
    assert reasons(decoder.expire(0.6)) == ["incomplete"]
    assert decoder.feed(b"96385074\r", 0.7) == [Frame("96385074")]


def test_serial_half_code_then_a_late_rest_never_joins() -> None:
    decoder = serial(timeout=0.3)
    decoder.feed(b"4006381", 0.0)
    out = decoder.feed(b"333931\r", 1.0)
    assert reasons(out) == ["incomplete"]
    # the tail is framed alone; it looks like any short code, so only the profile's
    # min_length or a check digit can refuse it
    assert frames(out) == [Frame("333931")]


def test_serial_prefix_is_stripped_and_required() -> None:
    decoder = serial(prefix=b"\x02")
    out = decoder.feed(b"\x024006381333931\rXYZ\r", 0.0)
    assert out == [Frame("4006381333931"), Rejected("prefix", 3)]


def test_serial_aim_prefix() -> None:
    decoder = serial(aim_prefix=True)
    out = decoder.feed(b"]E04006381333931\r12\r", 0.0)
    assert out == [Frame("4006381333931", "]E0"), Rejected("format", 2)]


def test_serial_junk_is_rejected_and_the_stream_recovers() -> None:
    decoder = SerialDecoder(SerialFraming(), 128, "ascii")
    out = decoder.feed(b"\xff\xfe\x00\r\x1b[2J\r4006381333931\r", 0.0)
    assert reasons(out) == ["encoding"]
    assert [accept(frame, RULES) for frame in frames(out)] == [
        Rejected("unprintable", 4),
        Scan("4006381333931", "EAN13"),
    ]


def test_serial_endless_stream_without_suffix_is_bounded() -> None:
    decoder = SerialDecoder(SerialFraming(), 16, "ascii")
    out = decoder.feed(b"A" * 200, 0.0)
    assert reasons(out) == ["overlong"]
    assert decoder.feed(b"A" * 50 + b"\r", 0.01) == []  # the rest of the same junk
    assert decoder.feed(b"96385074\r", 0.02) == [Frame("96385074")]


def test_serial_empty_frames_are_skipped() -> None:
    assert serial().feed(b"\r\r96385074\r\r", 0.0) == [Frame("96385074")]


# -- HID POS -----------------------------------------------------------------------------


def hid(**kwargs: object) -> HidPosDecoder:
    return HidPosDecoder(HidPosFormat(**kwargs), 128, "utf-8")  # type: ignore[arg-type]


def test_hid_pos_single_report() -> None:
    (report,) = hid_pos_reports("4006381333931", "]E0")
    assert report[:5] == b"\x02\x0d]E0"
    assert len(report) == 64
    assert hid().feed(report, 0.0) == [Frame("4006381333931", "]E0")]


def test_hid_pos_chunks_are_joined() -> None:
    code = "https://example.cn/" + "x" * 150
    reports = hid_pos_reports(code, "]Q1")
    assert len(reports) == 3
    assert [report[-1] for report in reports] == [1, 1, 0]
    decoder = hid()
    out = [item for i, report in enumerate(reports) for item in decoder.feed(report, i * 0.01)]
    assert out == [Frame(code, "]Q1")]


def test_hid_pos_missing_last_chunk_is_rejected_after_the_timeout() -> None:
    first, *_ = hid_pos_reports("y" * 100, "]Q1")
    decoder = hid(timeout=0.3)
    assert decoder.feed(first, 0.0) == []
    assert decoder.expire(0.2) == []
    assert reasons(decoder.expire(0.4)) == ["incomplete"]
    assert decoder.feed(hid_pos_reports("96385074", "]E4")[0], 0.5) == [Frame("96385074", "]E4")]


def test_hid_pos_length_counting_the_aim_bytes() -> None:
    reports = hid_pos_reports("96385074", "]E4", length_includes_aim=True)
    assert reports[0][1] == 11
    assert hid(length_includes_aim=True).feed(reports[0], 0.0) == [Frame("96385074", "]E4")]
    (misread,) = hid().feed(reports[0], 0.0)  # the wrong setting takes 3 bytes of padding
    assert accept(misread, RULES) == Rejected("unprintable", 11)


def test_hid_pos_other_report_ids_and_broken_reports() -> None:
    decoder = hid()
    assert decoder.feed(bytes([0x04, 1, 0x80]) + bytes(61), 0.0) == []
    assert reasons(decoder.feed(b"\x02\x05]E0", 0.0)) == ["format"]
    assert reasons(decoder.feed(b"\x02\x50]E0" + bytes(60), 0.0)) == ["format"]
    assert decoder.feed(b"", 0.0) == []


def test_hid_pos_without_symbology_ids() -> None:
    (report,) = hid_pos_reports("4006381333931", "")
    (frame,) = hid().feed(report, 0.0)
    assert frame == Frame("4006381333931", "")
    assert accept(frame, RULES) == Scan("4006381333931", "EAN13")


def test_hid_pos_overlong_code_is_dropped_whole() -> None:
    decoder = HidPosDecoder(HidPosFormat(), 16, "utf-8")
    out = [item for report in hid_pos_reports("z" * 200, "]Q1") for item in decoder.feed(report, 0)]
    assert reasons(out) == ["overlong"]
    assert frames(out) == []
    assert decoder.feed(hid_pos_reports("ok", "]C0")[0], 0.0) == [Frame("ok", "]C0")]


# -- keyboard wedge ----------------------------------------------------------------------


def type_all(decoder: KeyboardDecoder, reports: list[bytes], start: float = 0.0) -> list:
    return [
        item for i, report in enumerate(reports) for item in decoder.feed(report, start + i / 1000)
    ]


def test_keyboard_reports_type_a_code() -> None:
    reports = keyboard_reports("Ab1!")
    assert reports[0] == bytes([0x02, 0, 0x04, 0, 0, 0, 0, 0])
    assert reports[1] == bytes(8)
    assert type_all(KeyboardDecoder(LAYOUT, 128), reports) == [Frame("Ab1!")]


def test_keyboard_repeated_key_needs_a_release() -> None:
    decoder = KeyboardDecoder(LAYOUT, 128)
    press_1 = bytes([0, 0, 0x1E, 0, 0, 0, 0, 0])
    enter = bytes([0, 0, 0x28, 0, 0, 0, 0, 0])
    out = type_all(decoder, [press_1, press_1, press_1, bytes(8), press_1, bytes(8), enter])
    assert out == [Frame("11")]


def test_keyboard_right_shift_and_shift_held_alone() -> None:
    reports = [
        bytes([0x20, 0, 0x1D, 0, 0, 0, 0, 0]),
        bytes(8),
        bytes([0x02, 0, 0, 0, 0, 0, 0, 0]),
        bytes([0x02, 0, 0x2D, 0, 0, 0, 0, 0]),
        bytes(8),
        bytes([0, 0, 0x58, 0, 0, 0, 0, 0]),
    ]
    assert type_all(KeyboardDecoder(LAYOUT, 128), reports) == [Frame("Z_")]


def test_keyboard_half_code_without_enter_is_rejected_after_the_timeout() -> None:
    decoder = KeyboardDecoder(LAYOUT, 128)
    type_all(decoder, keyboard_reports("400638", end=False))
    assert decoder.expire(0.1) == []
    assert reasons(decoder.expire(1.0)) == ["incomplete"]
    assert type_all(decoder, keyboard_reports("96385074"), 2.0) == [Frame("96385074")]


def test_keyboard_control_keys_make_the_code_unprintable() -> None:
    reports = [bytes([0x01, 0, 0x05, 0, 0, 0, 0, 0]), bytes(8), bytes([0, 0, 0x28, 0, 0, 0, 0, 0])]
    (frame,) = type_all(KeyboardDecoder(LAYOUT, 128), reports)
    assert accept(frame, RULES) == Rejected("unprintable", 1)


def test_keyboard_overlong_code_is_rejected() -> None:
    out = type_all(KeyboardDecoder(LAYOUT, 8), keyboard_reports("A" * 40))
    assert reasons(out) == ["overlong"]


PRINTABLE = st.text(alphabet=string.ascii_letters + string.digits + string.punctuation + " ")


@given(PRINTABLE.filter(bool))
def test_keyboard_decoding_inverts_typing(code: str) -> None:
    assert type_all(KeyboardDecoder(LAYOUT, 1000), keyboard_reports(code)) == [Frame(code)]


@given(st.text(min_size=1, max_size=300), st.sampled_from(["]E0", "]Q1", "]C0", ""]))
def test_hid_pos_decoding_inverts_chunking(code: str, aim: str) -> None:
    decoder = HidPosDecoder(HidPosFormat(), 300, "utf-8")
    out = [item for report in hid_pos_reports(code, aim) for item in decoder.feed(report, 0.0)]
    assert out == [Frame(code, aim)]
