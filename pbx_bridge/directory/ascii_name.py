"""A caller name in plain ASCII, for a consumer that mangles everything else (FreePBX's Superfecta).

Superfecta hard-wires its "IA5" filter: every byte of a UTF-8 letter is mapped to some ASCII letter
(``Müller`` comes out as garbage), and ``'``, ``"`` and ``;`` are deleted. Folding first keeps the name
readable there: accents are dropped (``Müller`` -> ``Muller``), letters that do not decompose get their
usual spelling (``ß`` -> ``ss``), quotes of every kind become a backtick (``O'Brien`` -> ``O`Brien``),
angle brackets a space (Superfecta strips ``<Ltd>`` as a tag), and what has no ASCII form (other
scripts, emoji) is left out.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ascii_name"]

_LETTERS = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "SS",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "ı": "i",
        "ħ": "h",
        "Ħ": "H",
        "'": "`",
        '"': "`",
        "\u2018": "`",
        "\u2019": "`",
        "\u201a": "`",
        "\u201b": "`",
        "\u201c": "`",
        "\u201d": "`",
        "\u201e": "`",
        "\u00ab": "`",
        "\u00bb": "`",
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
        "<": " ",
        ">": " ",  # Superfecta strips anything between them as an HTML tag: "ACME <Ltd>" -> "ACME"
    }
)
_SPACES = re.compile(r" {2,}")


def ascii_name(text: str) -> str:
    """``text`` in printable ASCII only (see the module docstring); runs of spaces merged, ends trimmed."""
    folded = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    kept = "".join(ch for ch in folded if " " <= ch <= "~")
    return _SPACES.sub(" ", kept).strip()
