"""Spreadsheet-safe CSV cells: text that a spreadsheet would evaluate is neutralised, numbers stay numbers.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula by Excel,
LibreOffice and Google Sheets (``=HYPERLINK(...)``, ``+cmd|' /C calc'!A0``, ``@SUM(1)``). OWASP's advice
for CSV files is to prefix such a cell with a single quote, which the spreadsheet shows as text; the
full-width forms of the same characters are treated alike because some spreadsheets fold them.
Phone-number columns are not text: they may only hold dial characters (digits, ``*``, ``#`` and one
leading ``+``), so ``+14125550101`` stays dialable and a value that is anything else is refused.
"""

from __future__ import annotations

import re

__all__ = ["number_cell", "text_cell"]

_FORMULA_START = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_DIAL = re.compile(r"^\+?[0-9*#]*$")


def text_cell(value: str) -> str:
    """``value`` as a text cell a spreadsheet shows and never evaluates."""
    if value and value[0] in _FORMULA_START:
        return "'" + value
    return value


def number_cell(value: str) -> str | None:
    """``value`` when it is a dialable number (or empty), ``None`` when it is not (the caller drops it)."""
    return value if _DIAL.match(value) else None
