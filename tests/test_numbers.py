"""NumberPlan: every way a number reaches us meets on one E.164 key (table-driven)."""

from __future__ import annotations

import pytest

from pbx_bridge.numbers import NumberPlan, NumbersSettings

US = NumberPlan()

ALICE = "+14125550101"


@pytest.mark.parametrize(
    ("raw", "country_code", "expected"),
    [
        # The four spellings of one number the issue names.
        ("+1 (412) 555-0101", "", ALICE),
        ("14125550101", "", ALICE),
        ("4125550101", "", ALICE),
        ("0114125550101", "", ALICE),  # 011 before a national number (not Switzerland +41)
        ("01114125550101", "", ALICE),  # 011 1 ...: the textbook international form
        ("+14125550101", "", ALICE),
        ("412.555.0101", "", ALICE),
        ("(412) 555-0101 x23", "", ALICE),  # an extension is not part of the key
        (" 4125550101\r\n", "", ALICE),  # control characters from a channel variable
        # ITFlow's separate country-code column: '', NULL, '1', or the code typed into the number.
        ("4125550101", None, ALICE),
        ("4125550101", "1", ALICE),
        ("14125550101", "1", ALICE),
        ("4125550101", "+1", ALICE),
        ("2071234567", "44", "+442071234567"),
        ("02071234567", "44", "+442071234567"),  # trunk 0 typed in
        ("442071234567", "44", "+442071234567"),  # code typed in as well
        ("00442071234567", "", "+442071234567"),
        ("+44 20 7123 4567", "", "+442071234567"),
        # 555-01xx is "invalid" to libphonenumber but possible: people call from such numbers.
        ("4125550199", "", "+14125550199"),
        # Not numbers we can key.
        ("5550101", "", None),  # local only: no area code
        ("101", "", None),
        ("", "", None),
        ("anonymous", "", None),
        ("Restricted", "", None),
        ("sip:alice@example.com", "", None),
        ("+1", "", None),
        ("12345678901234567890", "", None),
    ],
)
def test_canonical(raw: str, country_code: str | None, expected: str | None) -> None:
    assert US.canonical(raw, country_code) == expected


@pytest.mark.parametrize(
    ("raw", "lookupable", "internal"),
    [
        ("4125550101", True, False),
        ("+1 (412) 555-0101", True, False),
        ("201", False, True),  # an extension
        ("20", False, True),
        ("123456", False, True),
        ("anonymous", False, False),
        ("Unknown", False, False),
        ("restricted", False, False),
        ("", False, False),
        (None, False, False),
        ("5550101", False, False),
    ],
)
def test_lookupable_and_internal(raw: str | None, lookupable: bool, internal: bool) -> None:
    assert US.lookupable(raw) is lookupable
    assert US.is_internal(raw) is internal


def test_internal_pattern_is_configurable() -> None:
    plan = NumberPlan(NumbersSettings(internal_pattern=r"^(1\d{3}|\*\d+)$"))
    assert plan.is_internal("1001") and plan.is_internal("*97")
    assert not plan.is_internal("201")
    assert not plan.lookupable("1001")


def test_other_default_region() -> None:
    gb = NumberPlan(NumbersSettings(default_region="GB"))
    assert gb.canonical("020 7123 4567") == "+442071234567"
    assert gb.canonical("00 1 412 555 0101") == ALICE
    assert gb.format("+442071234567", "national") == "02071234567"
    assert gb.format(ALICE, "national") == "0014125550101"


def test_outside_line_prefix() -> None:
    plan = NumberPlan(NumbersSettings(outside_line_prefix="9"))
    assert plan.canonical("94125550101") == ALICE
    assert plan.canonical("914125550101") == ALICE
    # 916 is a real area code: as dialled first, the prefix only when that reading is not possible.
    assert plan.canonical("9165550101") == "+19165550101"
    assert plan.canonical("99165550101") == "+19165550101"


def test_local_area_code() -> None:
    plan = NumberPlan(NumbersSettings(local_area_code="412"))
    assert plan.canonical("5550101") == ALICE


@pytest.mark.parametrize(
    ("e164", "variants"),
    [
        (ALICE, ["4125550101", "14125550101"]),
        ("+442071234567", ["2071234567", "442071234567", "02071234567"]),
        ("not a number", []),
    ],
)
def test_digit_variants(e164: str, variants: list[str]) -> None:
    assert US.digit_variants(e164) == variants


@pytest.mark.parametrize(
    ("e164", "form", "prefix", "expected"),
    [
        (ALICE, "e164", "", "+14125550101"),
        (ALICE, "e164-no-plus", "", "14125550101"),
        (ALICE, "national", "", "4125550101"),
        (ALICE, "national", "9", "94125550101"),
        (ALICE, "e164-no-plus", "9", "914125550101"),
        (ALICE, "international", "", "+1 412-555-0101"),
        ("+442071234567", "national", "", "011442071234567"),
        ("+442071234567", "e164", "", "+442071234567"),
    ],
)
def test_format(e164: str, form: str, prefix: str, expected: str) -> None:
    assert US.format(e164, form, dial_prefix=prefix) == expected


def test_format_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="dial prefix"):
        US.format(ALICE, "e164", dial_prefix="9")
    with pytest.raises(ValueError, match="unknown number form"):
        US.format(ALICE, "dotted")
    with pytest.raises(ValueError, match=r"not an E\.164"):
        US.format("hello")


def test_settings_are_validated() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown region"):
        NumbersSettings(default_region="XX")
    with pytest.raises(ValidationError, match="regular expression"):
        NumbersSettings(internal_pattern="([")
    with pytest.raises(ValidationError, match="digits"):
        NumbersSettings(international_prefixes=["+"])


def test_fingerprint_changes_with_keying_settings() -> None:
    assert US.fingerprint() == NumberPlan().fingerprint()
    assert US.fingerprint() != NumberPlan(NumbersSettings(default_region="CA")).fingerprint()
