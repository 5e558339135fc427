"""Barcodes: GTIN check digits, UPC-E, GS1 variable measure (cross-checked with biip), PLU."""

from __future__ import annotations

from decimal import Decimal

import pytest
from biip import ParseConfig, ParseError
from biip.checksums import gs1_price_weight_check_digit
from biip.gtin import Gtin
from biip.rcn import Rcn, RcnRegion
from biip.upc import Upc
from hypothesis import assume, given
from hypothesis import strategies as st

from edge.domain.barcode import (
    ParsedBarcode,
    VariableMeasureRule,
    gtin14,
    gtin_check_digit,
    is_valid_gtin,
    measure_check_digit,
    parse_barcode,
    upce_to_upca,
)
from edge.domain.errors import DomainError, InvalidInput

# Layouts as biip 5 encodes them (biip/rcn.py _RCN_RULES), written as our store config.
GB_RULES = (VariableMeasureRule("20", "price", 5, 4, 2, has_verifier=True),)
DE_RULES = (
    VariableMeasureRule("22", "price", 4, 5, 2, has_verifier=True),
    VariableMeasureRule("23", "price", 4, 5, 2, has_verifier=True),
    VariableMeasureRule("28", "weight", 4, 5, 3, has_verifier=True),
    VariableMeasureRule("29", "weight", 4, 5, 3, has_verifier=True),
)
SE_RULES = (
    VariableMeasureRule("20", "price", 6, 4, 2, has_verifier=False),
    VariableMeasureRule("21", "price", 6, 4, 1, has_verifier=False),
    VariableMeasureRule("22", "price", 6, 4, 0, has_verifier=False),
    VariableMeasureRule("23", "weight", 6, 4, 3, has_verifier=False),
    VariableMeasureRule("24", "weight", 6, 4, 2, has_verifier=False),
    VariableMeasureRule("25", "weight", 6, 4, 1, has_verifier=False),
)
# US random-weight UPC-A: number system 2, item (5), price verifier, price in cents (4).
US_RULES = (VariableMeasureRule("02", "price", 5, 4, 2, has_verifier=True),)


def full_width(text: str) -> str:
    """Spell ASCII digits as full-width digits (U+FF10-U+FF19), which str.isdigit accepts."""
    return "".join(chr(0xFF10 + int(digit)) for digit in text)


FULL_WIDTH_123 = full_width("123")


def rejected(code: str, rules: tuple[VariableMeasureRule, ...] = ()) -> str:
    """Return the error code parse_barcode refuses `code` with."""
    with pytest.raises(InvalidInput) as caught:
        parse_barcode(code, rules)
    return caught.value.code


def with_check(body: str) -> str:
    return body + str(gtin_check_digit(body))


def rcn(prefix: str, item: str, value: str) -> str:
    """Lay out an EAN-13 with a correct price/weight verifier and check digit."""
    return with_check(prefix + item + str(measure_check_digit(value)) + value)


# --- GTIN check digits -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("400638133393", 1),  # DEVICES.md
        ("9501234", 6),  # DEVICES.md, EAN-8 95012346
        ("590123412345", 7),  # 5901234123457
        ("03600029145", 2),  # UPC-A 036000291452
        ("9638507", 4),  # EAN-8 96385074
        ("950110153100", 0),  # GS1 General Specifications example
        ("1003600029145", 9),  # GTIN-14 10036000291459 (case of 036000291452)
    ],
)
def test_check_digit_known_answers(body: str, check: int) -> None:
    assert gtin_check_digit(body) == check
    assert is_valid_gtin(body + str(check))


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("4006381333931", "04006381333931"),
        ("5901234123457", "05901234123457"),
        ("036000291452", "00036000291452"),
        ("0036000291452", "00036000291452"),
        ("00036000291452", "00036000291452"),
        ("96385074", "00000096385074"),
        ("10036000291459", "10036000291459"),
    ],
)
def test_gtin14_normalises_every_length(code: str, expected: str) -> None:
    assert gtin14(code) == expected
    assert parse_barcode(code) == ParsedBarcode(kind="gtin", code=code, gtin14=expected)


def test_upca_and_its_ean13_are_one_key() -> None:
    assert parse_barcode("036000291452").gtin14 == parse_barcode("0036000291452").gtin14


@pytest.mark.parametrize("body", ["", "12a4", FULL_WIDTH_123, " 123"])
def test_check_digit_of_non_digits_is_refused(body: str) -> None:
    with pytest.raises(InvalidInput):
        gtin_check_digit(body)


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_any_body_with_its_check_digit_validates(body: str) -> None:
    code = with_check(body)
    assert is_valid_gtin(code)
    assert gtin14(code) == "0" + code


@given(
    st.sampled_from([7, 11, 12, 13]).flatmap(
        lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)
    ),
    st.data(),
)
def test_every_single_digit_error_is_detected(body: str, data: st.DataObject) -> None:
    code = with_check(body)
    position = data.draw(st.integers(0, len(code) - 1))
    replacement = data.draw(st.sampled_from("0123456789").filter(lambda d: d != code[position]))
    broken = code[:position] + replacement + code[position + 1 :]
    assert not is_valid_gtin(broken)
    with pytest.raises(InvalidInput) as caught:
        gtin14(broken)
    assert caught.value.code == "bad_check_digit"


@given(
    st.sampled_from([8, 12, 13, 14]).flatmap(
        lambda n: st.text("0123456789", min_size=n, max_size=n)
    )
)
def test_biip_agrees_on_check_digits(code: str) -> None:
    try:
        Gtin.parse(code)
    except ParseError:
        biip_valid = False
    else:
        biip_valid = True
    assert is_valid_gtin(code) == biip_valid


@given(
    st.sampled_from([8, 12, 13, 14]).flatmap(
        lambda n: st.text("0123456789", min_size=n - 1, max_size=n - 1)
    )
)
def test_biip_agrees_on_normalisation(body: str) -> None:
    code = with_check(body)
    assert gtin14(code) == Gtin.parse(code).as_gtin_14()


# --- UPC-E -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("upce", "upca"),
    [
        ("01234565", "012345000065"),  # last digit 5-9: manufacturer 12345, item 0000x
        ("04252614", "042100005264"),  # last digit 0-2
        ("01234505", "012000003455"),
        ("01234531", "012300000451"),  # last digit 3
        ("01234543", "012340000053"),  # last digit 4
        ("06543217", "065100004327"),
        ("11234562", "112345000062"),  # number system 1
    ],
)
def test_upce_known_expansions(upce: str, upca: str) -> None:
    assert upce_to_upca(upce) == upca
    assert is_valid_gtin(upca)
    assert Upc.parse(upce).as_upc_a() == upca
    parsed = parse_barcode(upce, symbology="UPCE")
    assert parsed == ParsedBarcode(kind="gtin", code=upce, gtin14="00" + upca)


def test_upce_without_check_digit_or_number_system() -> None:
    assert upce_to_upca("123456") == "012345000065"
    assert upce_to_upca("0123456") == "012345000065"
    assert upce_to_upca("1123456") == "112345000062"
    assert parse_barcode("123456", symbology="UPCE").gtin14 == "00012345000065"


def test_eight_digits_are_ean8_unless_upce_is_asked() -> None:
    # 01234565 happens to be a valid EAN-8 too: a different item from its UPC-E reading.
    assert parse_barcode("01234565").gtin14 == "00000001234565"
    assert parse_barcode("01234565", symbology="UPCE").gtin14 == "00012345000065"
    # 04252614 is a valid UPC-E only (its EAN-8 check digit would be 0).
    assert gtin_check_digit("0425261") == 0
    assert rejected("04252614") == "bad_check_digit"
    assert parse_barcode("04252614", symbology="UPCE").gtin14 == "00042100005264"


@pytest.mark.parametrize(
    ("upce", "error"),
    [
        ("01234564", "bad_check_digit"),
        ("21234565", "bad_upce"),
        ("2123456", "bad_upce"),
        ("12345", "bad_upce"),
        ("012345656", "bad_upce"),
        ("01234a65", "bad_upce"),
    ],
)
def test_upce_refusals(upce: str, error: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_barcode(upce, symbology="UPCE")
    assert caught.value.code == error


@given(st.sampled_from("01"), st.text(alphabet="0123456789", min_size=6, max_size=6))
def test_upce_expansion_matches_biip(system: str, six: str) -> None:
    upca = upce_to_upca(system + six)
    assert len(upca) == 12
    assert is_valid_gtin(upca)
    eight = system + six + upca[-1]
    assert upce_to_upca(eight) == upca
    assert Upc.parse(eight).as_upc_a() == upca
    # Compressing again (biip) and expanding gives the same UPC-A, even where two
    # UPC-E codes expand to one UPC-A (e.g. 12 0 45 0 and 12 0 45 3).
    assert upce_to_upca(Upc.parse(upca).as_upc_e()) == upca


# --- price/weight verifier ---------------------------------------------------------------


@pytest.mark.parametrize(("value", "check"), [("2875", 9), ("14685", 6), ("0299", 6)])
def test_measure_check_digit_known_answers(value: str, check: int) -> None:
    assert measure_check_digit(value) == check


def test_measure_check_digit_agrees_with_biip_everywhere() -> None:
    for width in (4, 5):
        for number in range(10**width):
            value = str(number).zfill(width)
            assert measure_check_digit(value) == gs1_price_weight_check_digit(value), value


@pytest.mark.parametrize("value", ["287", "123456", "28a5", ""])
def test_measure_check_digit_needs_four_or_five_digits(value: str) -> None:
    with pytest.raises(InvalidInput):
        measure_check_digit(value)


# --- variable-measure rules --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"prefix": "30"}, "prefix"),
        ({"prefix": "2"}, "prefix"),
        ({"prefix": 20}, "prefix"),
        ({"measure": "count"}, "measure"),
        ({"item_digits": 6}, "item_digits"),
        ({"item_digits": 0, "value_digits": 9}, "item_digits"),
        ({"item_digits": True}, "item_digits"),
        ({"value_digits": 0, "item_digits": 9}, "value_digits"),
        ({"item_digits": 6, "value_digits": 3}, "value_digits"),
        ({"decimals": -1}, "decimals"),
        ({"decimals": 5}, "decimals"),
        ({"has_verifier": 1}, "has_verifier"),
        ({"minor_unit_digits": -1}, "minor_unit_digits"),
    ],
)
def test_rule_refuses_bad_layouts_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    values: dict[str, object] = {
        "prefix": "20",
        "measure": "price",
        "item_digits": 5,
        "value_digits": 4,
        "decimals": 2,
        "has_verifier": True,
    }
    values.update(kwargs)
    with pytest.raises(InvalidInput, match=rf"VariableMeasureRule\.{field} ") as caught:
        VariableMeasureRule(**values)  # type: ignore[arg-type]
    assert caught.value.code == "bad_measure_rule"
    assert isinstance(caught.value, DomainError)


def test_two_rules_for_one_prefix_are_refused() -> None:
    assert rejected("4006381333931", GB_RULES + GB_RULES) == "bad_measure_rule"


# --- variable-measure parsing ------------------------------------------------------------


def test_uk_price_barcode() -> None:
    # 20 | item 12345 | verifier 6 | £2.99 | check 1
    parsed = parse_barcode("2012345602991", GB_RULES)
    assert parsed == ParsedBarcode(
        kind="variable_measure",
        code="2012345602991",
        prefix="20",
        item_ref="2012345",
        price_minor=299,
    )


def test_de_weight_barcode() -> None:
    # 28 | item 1234 | verifier 1 | 1.234 kg | check 9
    parsed = parse_barcode("2812341012349", DE_RULES)
    assert (parsed.kind, parsed.item_ref, parsed.grams, parsed.price_minor) == (
        "variable_measure",
        "281234",
        1234,
        None,
    )
    assert parsed.gtin14 is None


def test_se_weight_barcode_without_verifier() -> None:
    parsed = parse_barcode("2312345607508", SE_RULES)
    assert (parsed.item_ref, parsed.grams) == ("23123456", 750)


def test_upca_number_system_2_is_prefix_02() -> None:
    parsed = parse_barcode("212345602997", US_RULES)
    assert (parsed.kind, parsed.prefix, parsed.item_ref, parsed.price_minor) == (
        "variable_measure",
        "02",
        "0212345",
        299,
    )
    assert parse_barcode("0212345602997", US_RULES) == ParsedBarcode(
        kind="variable_measure",
        code="0212345602997",
        prefix="02",
        item_ref="0212345",
        price_minor=299,
    )


def test_wrong_price_verifier_is_refused() -> None:
    # Same UK code with verifier 5 instead of 6 and the EAN check digit recomputed.
    code = with_check("201234550299")
    assert rejected(code, GB_RULES) == "bad_measure_check_digit"


def test_prefix_without_rule_is_a_plain_gtin() -> None:
    assert parse_barcode("2012345602991").kind == "gtin"
    assert parse_barcode("2812341012349", GB_RULES) == ParsedBarcode(
        kind="gtin", code="2812341012349", gtin14="02812341012349"
    )
    # A UPC-A outside number system 2 never meets the 02 rule.
    assert parse_barcode("036000291452", US_RULES).kind == "gtin"


def test_ean8_and_indicator_digit_gtin14_are_not_variable_measure() -> None:
    rules = (*GB_RULES, VariableMeasureRule("02", "weight", 4, 5, 3, has_verifier=True))
    ean8 = with_check("0212345")
    assert parse_barcode(ean8, rules).kind == "gtin"
    case = with_check("1201234560299")
    assert parse_barcode(case, rules).kind == "gtin"
    # Indicator 0 is the EAN-13 itself, padded.
    assert parse_barcode("02012345602991", rules).item_ref == "2012345"


def test_weight_and_price_scaling() -> None:
    grams_per_10 = (VariableMeasureRule("24", "weight", 6, 4, 2, has_verifier=False),)
    assert parse_barcode(with_check("240000011234"), grams_per_10).grams == 12340
    tenth_gram = (VariableMeasureRule("25", "weight", 6, 4, 4, has_verifier=False),)
    assert parse_barcode(with_check("250000011230"), tenth_gram).grams == 123
    assert rejected(with_check("250000011234"), tenth_gram) == "bad_measure_value"
    yen = (VariableMeasureRule("21", "price", 5, 5, 0, has_verifier=False, minor_unit_digits=0),)
    assert parse_barcode(with_check("210000101980"), yen).price_minor == 1980
    whole_kronor = (VariableMeasureRule("22", "price", 6, 4, 0, has_verifier=False),)
    assert parse_barcode(with_check("220000010015"), whole_kronor).price_minor == 1500
    mills = (VariableMeasureRule("26", "price", 4, 5, 3, has_verifier=True),)
    assert parse_barcode(rcn("26", "0001", "12340"), mills).price_minor == 1234
    assert rejected(rcn("26", "0001", "12345"), mills) == "bad_measure_value"


REGIONS = [
    pytest.param(RcnRegion.GREAT_BRITAIN, GB_RULES, id="gb"),
    pytest.param(RcnRegion.GERMANY, DE_RULES, id="de"),
    pytest.param(RcnRegion.SWEDEN, SE_RULES, id="se"),
]


@st.composite
def rcn_codes(draw: st.DrawFn, rules: tuple[VariableMeasureRule, ...]) -> str:
    """Draw an EAN-13 laid out by one of `rules`; the verifier is right 3 times out of 4."""
    rule = draw(st.sampled_from(rules))
    item = draw(st.text("0123456789", min_size=rule.item_digits, max_size=rule.item_digits))
    value = draw(st.text("0123456789", min_size=rule.value_digits, max_size=rule.value_digits))
    verifier = ""
    if rule.has_verifier:
        right = str(measure_check_digit(value))
        verifier = draw(st.sampled_from([right, right, right, *"0123456789"]))
    return with_check(rule.prefix + item + verifier + value)


@pytest.mark.parametrize(("region", "rules"), REGIONS)
@given(data=st.data())
def test_variable_measure_agrees_with_biip(
    region: RcnRegion, rules: tuple[VariableMeasureRule, ...], data: st.DataObject
) -> None:
    code = data.draw(rcn_codes(rules))
    try:
        theirs = Gtin.parse(code, config=ParseConfig(rcn_region=region))
    except ParseError:
        assert rejected(code, rules) == "bad_measure_check_digit"
        return
    ours = parse_barcode(code, rules)
    assert isinstance(theirs, Rcn)
    assert ours.kind == "variable_measure"
    assert ours.item_ref == code[:2] + str(theirs.item_reference)
    if theirs.price is not None:
        assert ours.grams is None
        assert Decimal(str(ours.price_minor)) == theirs.price * 100
    else:
        assert theirs.weight is not None
        assert ours.price_minor is None
        assert Decimal(str(ours.grams)) == theirs.weight * 1000


# --- PLU, other codes and refusals -------------------------------------------------------


@pytest.mark.parametrize("code", ["4011", "94011", "0001", " 3082\r\n"])
def test_four_and_five_digits_are_plu(code: str) -> None:
    assert parse_barcode(code) == ParsedBarcode(kind="plu", code=code.strip())


@pytest.mark.parametrize(
    "code", ["ABC-123", "SKU 42", "X" * 48, "R2024-0001-A", "a1b2c3d4e5f6", "ABCDEFGH"]
)
def test_printable_ascii_is_other(code: str) -> None:
    assert parse_barcode(code) == ParsedBarcode(kind="other", code=code)


def test_surrounding_whitespace_is_stripped() -> None:
    assert parse_barcode("\t4006381333931\r\n").gtin14 == "04006381333931"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("", "bad_barcode"),
        ("   ", "bad_barcode"),
        ("\r\n", "bad_barcode"),
        ("40063813339O1", "bad_barcode"),  # letter O for zero
        ("4006381 333931", "bad_barcode"),  # a stray space
        ("59012341234S7", "bad_barcode"),
        ("0360002914S2", "bad_barcode"),
        ("9638507A", "bad_barcode"),
        ("4006381\x00333931", "bad_barcode"),
        ("ABC\x1d123", "bad_barcode"),
        (full_width("4006381333931"), "bad_barcode"),
        ("Café", "bad_barcode"),
        ("X" * 49, "bad_barcode"),
        ("4006381333932", "bad_check_digit"),
        ("5901234123456", "bad_check_digit"),
        ("036000291453", "bad_check_digit"),
        ("96385075", "bad_check_digit"),
        ("10036000291458", "bad_check_digit"),
        ("400638133393", "bad_check_digit"),  # 4006381333931 missing its last digit
        ("590123412345", "bad_check_digit"),  # 5901234123457 missing its last digit
        ("123", "bad_barcode_length"),
        ("123456", "bad_barcode_length"),
        ("1234567", "bad_barcode_length"),
        ("123456789", "bad_barcode_length"),
        ("1234567890", "bad_barcode_length"),
        ("12345678901", "bad_barcode_length"),
        ("123456789012345", "bad_barcode_length"),
        ("1" * 48, "bad_barcode_length"),
    ],
)
def test_bad_input_is_refused(code: str, error: str) -> None:
    assert rejected(code) == error


@given(st.text(alphabet="0123456789", min_size=15, max_size=48))
def test_long_digit_strings_are_refused(code: str) -> None:
    assert rejected(code) == "bad_barcode_length"


@given(st.text(min_size=1, max_size=60))
def test_anything_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        parsed = parse_barcode(text)
    except InvalidInput as error:
        assert error.code in {"bad_barcode", "bad_barcode_length", "bad_check_digit"}
        return
    assert parsed.code == text.strip()
    assert parsed.code.isascii()
    assert parsed.code.isprintable()
    if parsed.kind == "gtin":
        assert parsed.gtin14 is not None
        assert is_valid_gtin(parsed.gtin14)


@given(st.text(alphabet="0123456789", min_size=12, max_size=12), st.integers(1, 12))
def test_truncated_ean13_is_never_the_same_item(body: str, keep: int) -> None:
    code = with_check(body)
    assume(set(code) != {"0"})  # only 0000000000000 stays the same number when cut short
    truncated = code[:keep]
    try:
        parsed = parse_barcode(truncated)
    except InvalidInput:
        return
    assert parsed.kind in {"gtin", "plu"}
    assert parsed.gtin14 != gtin14(code)
    if keep in (8, 12):
        assert is_valid_gtin(truncated)
    else:
        assert keep in (4, 5)


def test_unknown_symbology_is_refused() -> None:
    with pytest.raises(InvalidInput):
        parse_barcode("4006381333931", symbology="EAN13")  # type: ignore[arg-type]
