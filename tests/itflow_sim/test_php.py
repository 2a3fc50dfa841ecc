"""PHP/MariaDB behaviours the simulator copies (docs/itflow-api.md §1.5, §1.8, §2.2), against PHP's
documented output."""

from __future__ import annotations

import pytest

from itflow_sim.php import (
    PhpEncodeError,
    intval,
    json_encode,
    php_float_str,
    sql_eq,
    sql_like,
    sql_num,
    strip_tags,
)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("4125551234", 4125551234),
        ("+14125551234", 14125551234),
        ("+1 (412) 555-1234", 1),
        ("0412345678", 412345678),
        ("abc", 0),
        ("", 0),
        ("  -7x", -7),
        ("9" * 30, 2**63 - 1),
    ],
)
def test_intval(raw, value):
    assert intval(raw) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (150.0 - 49.5, "100.5"),
        (150.0, "150"),
        (0, "0"),
        (100.0 - 125.0, "-25"),
        (1e15, "1.0E+15"),
        (1.5e15, "1.5E+15"),
        (0.1 + 0.2, "0.3"),
        (99.9, "99.9"),
    ],
)
def test_php_float_str_precision_14(value, text):
    assert php_float_str(value) == text


@pytest.mark.parametrize(
    ("stored", "number"),
    [
        ("4125551234", 4125551234.0),
        ("", 0.0),
        ("NULL", 0.0),
        ("0412", 412.0),
        ("412-555", 412.0),
        (None, None),
    ],
)
def test_sql_num_string_to_number(stored, number):
    assert sql_num(stored) == number


def test_general_ci_comparisons():
    assert sql_eq("Alice@Example.com  ", "alice@example.com")
    assert not sql_eq(None, "")
    assert not sql_eq(" x", "x")
    assert sql_like("12", "%") and sql_like("1", "1") and not sql_like("12", "1") and not sql_like(None, "%")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Missed call from <+14125550101>", "Missed call from "),
        ("<b>Hi</b> there", "Hi there"),
        ("a < b", "a < b"),
        ("open <tag", "open "),
        ("x<", "x"),
    ],
)
def test_strip_tags(raw, clean):
    assert strip_tags(raw) == clean


def test_json_encode_is_php_default_flags():
    assert (
        json_encode({"a": "x/y", "b": "é", "c": None, "d": 1})
        == b'{"a":"x\\/y","b":"\\u00e9","c":null,"d":1}'
    )
    with pytest.raises(PhpEncodeError):
        json_encode({"a": b"\xe9".decode("utf-8", "surrogateescape")})


async def test_seed_balance_facts_match_the_documented_formula(itflow_sim):
    from decimal import Decimal

    sim = await itflow_sim("v1-head")
    assert sim.db.balance(1) == Decimal("230.50")  # Draft, Cancelled, Non-Billable excluded (v25.06+)
    assert sim.db.balance(1, exclude=("draft", "cancelled")) == Decimal("290.50")  # legacy formula
    assert [sim.db.balance(c) for c in (2, 3, 4, 5)] == [
        Decimal("150.00"),
        Decimal("-25.00"),
        0,
        Decimal("100.50"),
    ]
