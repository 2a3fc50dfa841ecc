"""PHP and MariaDB behaviours the simulator must copy byte for byte.

ITFlow's answers are shaped by PHP functions (``intval``, ``strip_tags``, ``json_encode``, float
printing) and by MariaDB comparisons (``*_general_ci`` collation, string-to-number conversion).
These helpers reproduce just the parts docs/itflow-api.md relies on; each names the PHP/SQL construct it
copies.
"""

from __future__ import annotations

import json
import re

__all__ = [
    "PhpEncodeError",
    "intval",
    "json_encode",
    "php_empty",
    "php_float_str",
    "sql_eq",
    "sql_like",
    "sql_num",
    "strip_tags",
]

_INT_MAX = 2**63 - 1
_INT_MIN = -(2**63)
_INTVAL = re.compile(r"^[ \t\n\r\v\f]*([+-]?\d+)")
_SQL_NUM = re.compile(r"^[ \t\n\r\v\f]*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")


class PhpEncodeError(ValueError):
    """``json_encode`` failed (a value is not valid UTF-8): PHP then echoes nothing."""


def intval(value: object) -> int:
    """PHP ``intval`` on a request value: leading whitespace and sign, digits up to the first non-digit.

    Non-numeric or empty gives 0; values past the 64-bit range saturate, as PHP 7+ does.
    """
    if value is None or isinstance(value, (list, dict)):
        return 0 if not value else 1
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return max(_INT_MIN, min(_INT_MAX, value))
    if isinstance(value, float):
        return int(value) if abs(value) < 2**63 else 0
    m = _INTVAL.match(str(value))
    if not m:
        return 0
    return max(_INT_MIN, min(_INT_MAX, int(m.group(1))))


def php_empty(value: object) -> bool:
    """PHP ``empty()``: absent, "", "0", 0, null, empty array."""
    return value in (None, "", "0", 0, False) or value == [] or value == {}


def sql_num(value: str | None) -> float | None:
    """MariaDB's implicit string->number conversion for ``varchar_col = <int>``.

    The longest numeric prefix counts; empty or non-numeric text (including the literal 'NULL') is 0;
    SQL NULL stays NULL and never matches.
    """
    if value is None:
        return None
    m = _SQL_NUM.match(value)
    return float(m.group(1)) if m else 0.0


def _ci(value: str) -> str:
    # *_general_ci: case-insensitive and PAD SPACE (trailing spaces ignored).
    return value.rstrip(" ").casefold()


def sql_eq(column: str | None, value: str) -> bool:
    """``column = 'value'`` under a ``*_general_ci`` collation. NULL never matches."""
    return column is not None and _ci(column) == _ci(value)


def sql_like(column: str | None, pattern: str) -> bool:
    """``column LIKE 'pattern'`` (``%`` and ``_`` wildcards, case-insensitive). NULL never matches."""
    if column is None:
        return False
    rx = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(rx, column, flags=re.IGNORECASE | re.DOTALL) is not None


def strip_tags(text: str) -> str:
    """PHP ``strip_tags``: drops ``<...>`` runs (and an unclosed one to the end of the string).

    A ``<`` followed by whitespace is not a tag start, as in PHP.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "<" and i + 1 < n and not text[i + 1].isspace():
            end = text.find(">", i + 1)
            if end < 0:
                break
            i = end + 1
            continue
        if ch == "<" and i + 1 == n:
            break
        out.append(ch)
        i += 1
    return "".join(out)


def _check_utf8(obj: object) -> None:
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise PhpEncodeError("Malformed UTF-8 characters") from exc
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _check_utf8(k)
            _check_utf8(v)
    elif isinstance(obj, list):
        for v in obj:
            _check_utf8(v)


def json_encode(obj: object) -> bytes:
    """PHP ``json_encode`` with default flags: compact, ``/`` escaped, non-ASCII as ``\\uXXXX``.

    Raises :class:`PhpEncodeError` when a string holds invalid UTF-8 (stored in the simulator's
    tables as lone surrogates, e.g. ``b"Caf\\xe9".decode("utf-8", "surrogateescape")``).
    """
    _check_utf8(obj)
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
    # '/' occurs only inside strings in our output, so escaping it globally is exact.
    return text.replace("/", "\\/").encode("ascii")


def php_float_str(value: float | int) -> str:
    """``echo`` of a PHP number: ints as-is, floats at ``precision=14`` (``100.5``, ``150``, ``1.0E+15``)."""
    if isinstance(value, int):
        return str(value)
    if value != value:
        return "NAN"
    if value in (float("inf"), float("-inf")):
        return "INF" if value > 0 else "-INF"
    text = f"{value:.14G}"
    if "E" in text:
        mant, exp = text.split("E")
        if "." not in mant:
            mant += ".0"
        sign = exp[0]
        digits = exp[1:].lstrip("0") or "0"
        text = f"{mant}E{sign}{digits}"
    if text == "-0":
        return "-0"
    return text
