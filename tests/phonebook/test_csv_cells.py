"""CSV cells as a spreadsheet reads them: no text cell starts a formula, whatever precedes it (spaces,
a line break, another cell's separator), and number cells hold dial characters only."""

from __future__ import annotations

import csv
import io

import pytest

from pbx_bridge.phonebook.formats.csv_cells import number_cell, text_cell
from tests.phonebook.test_formats import OFF, contact, render

STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


@pytest.mark.parametrize(
    "value",
    [
        " =1+1",
        "\u00a0@SUM(1)",
        "\t=cmd",
        "\r\n+cmd|' /C calc'!A0",
        "  -2+3",
    ],
)
def test_leading_whitespace_does_not_hide_a_formula(value):
    cell = text_cell(value)
    # LibreOffice's "trim spaces" import removes what precedes the formula: the cell must not start one
    assert cell.lstrip()[:1] not in STARTS and cell.startswith("'"), repr(cell)


@pytest.mark.parametrize("value", ["Acme\r=cmd()", "Acme\n@SUM(1)", "Acme\r\n+cmd", "Acme\u2028=1"])
def test_a_line_break_inside_a_cell_cannot_start_a_row(value):
    cell = text_cell(value)
    assert "\r" not in cell and "\n" not in cell and "\u2028" not in cell
    assert cell.startswith("Acme ")


def test_number_cells_are_dial_characters_only():
    assert number_cell("+14125550101") == "+14125550101"
    assert number_cell("*72#") == "*72#"
    assert number_cell("") == ""
    for bad in ("123\n", "+1 412", "-2+3", "=1", "+1+2", "12a"):
        assert number_cell(bad) is None, repr(bad)


@pytest.mark.parametrize("format_id", ["csv", "panasonic-csv"])
@pytest.mark.parametrize("separator", [",", ";"])
def test_a_semicolon_locale_spreadsheet_sees_no_formula(format_id, separator):
    # OWASP: a separator inside a cell can start a new cell. A spreadsheet whose list separator is ";"
    # splits "Acme;=cmd|..." (no double quote, so minimal quoting leaves it bare) into a formula cell.
    name = "Acme;=cmd|' /C calc'!A0, @SUM(1);\"+1+1"
    parties = [contact(1, name, "Org;@SUM(1)", (OFF, "4125550101"))]
    body = render(format_id, parties).body
    text = body[2:].decode("utf-16-le") if format_id == "panasonic-csv" else body.decode("utf-8")
    for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator):
        for cell in row:
            start = cell.lstrip(' "')[:1]
            assert start not in STARTS or cell.startswith("+1412555"), (separator, cell)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    names = [r[0] if format_id == "csv" else r[1] for r in rows]
    assert any(n.startswith("Acme;'=cmd") for n in names)  # kept, readable, inert
    assert "+14125550101" in {c for r in rows for c in r}  # the number is untouched
    if format_id == "panasonic-csv":
        assert all(len(n) <= 24 for n in names)
