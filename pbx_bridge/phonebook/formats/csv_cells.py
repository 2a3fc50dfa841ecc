"""Spreadsheet-safe CSV cells: text that a spreadsheet would evaluate is neutralised, numbers stay numbers.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula by Excel,
LibreOffice and Google Sheets (``=HYPERLINK(...)``, ``+cmd|' /C calc'!A0``, ``@SUM(1)``). OWASP's advice
for CSV files is to prefix such a cell with a single quote, which the spreadsheet shows as text; the
full-width forms of the same characters are treated alike because some spreadsheets fold them.
Leading spaces do not protect a cell (LibreOffice's "trim spaces" import option removes them), and a
line break inside a cell starts a new row for importers that do not honour quotes, so text cells follow
the display rule first (breaks and tabs become a space, other controls go, the ends are trimmed).
OWASP also warns that a separator inside a cell can start a new cell: a spreadsheet whose list
separator is ``;`` (German, French locales) reads ``Acme;=cmd|...`` as two cells, the second a formula.
So a formula character after a ``,`` or ``;`` (spaces and quotes between) gets the quote too.
Phone-number columns are not text: they may only hold dial characters (digits, ``*``, ``#`` and one
leading ``+``), so ``+14125550101`` stays dialable and a value that is anything else is refused.
"""

from __future__ import annotations

import re

from pbx_bridge.phonebook.text import clean

__all__ = ["number_cell", "text_cell"]

_FORMULA_START = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_FORMULA = "=+\\-@\uff1d\uff0b\uff0d\uff20"
_AFTER_SEPARATOR = re.compile(f"([,;][\\s\"']*)([{_FORMULA}])")
_DIAL = re.compile(r"\+?[0-9*#]*")


def text_cell(value: str) -> str:
    """``value`` as a text cell a spreadsheet shows and never evaluates."""
    value = clean(value)
    if ("," in value or ";" in value) and _AFTER_SEPARATOR.search(value):
        value = _AFTER_SEPARATOR.sub(r"\1'\2", value)
    if value and value[0] in _FORMULA_START:
        return "'" + value
    return value


def number_cell(value: str) -> str | None:
    """``value`` when it is a dialable number (or empty), ``None`` when it is not (the caller drops it)."""
    return value if _DIAL.fullmatch(value) else None
