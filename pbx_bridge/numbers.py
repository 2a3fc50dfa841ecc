"""Phone numbers: one canonical key (E.164) for every way a number reaches us.

A caller number from the PBX ("+1 (412) 555-0101", "14125550101", "0114125550101", "9 412 555 0101")
and a number as ITFlow stores it (digits only, the country code in a separate column that may be '',
NULL or '1', or typed into the number itself) must meet on the same key. Parsing is libphonenumber's
(``phonenumbers``); we only decide which reading to try first.

Possible, never valid: ``is_valid_number`` rejects 555-01xx and freshly assigned ranges, yet people call
from them, so a number is accepted when its length is possible for its country. A local-only number
(7 digits in North America) has no area code and could belong to any; it is refused unless
``numbers.local_area_code`` is set.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Literal

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, ValidationResult
from pydantic import Field, field_validator

from pbx_bridge.settings_base import Section

__all__ = ["FORMS", "Form", "NumberPlan", "NumbersSettings"]

Form = Literal["e164", "e164-no-plus", "national", "international"]
FORMS: tuple[str, ...] = ("e164", "e164-no-plus", "national", "international")

_NON_DIGITS = re.compile(r"\D")
# Characters a caller number may carry besides digits; anything else (letters, '@', ...) is not a number
# we look up (SIP URIs, names in the number field).
_NUMBERISH = re.compile(r"^\+?[\d\s().\-/]*(?:(?:x|ext\.?|;ext=)\s*\d+)?$", re.IGNORECASE)


class NumbersSettings(Section):
    """Config section ``numbers``: how caller numbers and ITFlow's numbers are read."""

    default_region: str = Field(
        default="US", description="ISO 3166 region of numbers without a country code (US, GB, DE, ...)"
    )
    international_prefixes: list[str] = Field(
        default_factory=lambda: ["011", "00"],
        description="dialled before a country code (011 in North America, 00 in most other places)",
    )
    outside_line_prefix: str = Field(
        default="", description="digit(s) the PBX or ITFlow may put before an outside number, e.g. 9"
    )
    internal_pattern: str = Field(
        default=r"^\d{2,6}$", description="regex: a caller number matching it is an internal extension"
    )
    anonymous_values: list[str] = Field(
        default_factory=lambda: ["anonymous", "unknown", "restricted", "private", "unavailable", "withheld"],
        description="caller numbers (case-insensitive) that mean 'no number'; never looked up",
    )
    local_area_code: str = Field(
        default="", description="area code for local-only numbers (7 digits in NANP); empty: refuse them"
    )

    @field_validator("default_region")
    @classmethod
    def _region(cls, v: str) -> str:
        v = v.strip().upper()
        if v not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {v!r} (an ISO 3166 code such as US, GB, DE)")
        return v

    @field_validator("international_prefixes")
    @classmethod
    def _prefixes(cls, v: list[str]) -> list[str]:
        for p in v:
            if not p.isdigit():
                raise ValueError(f"international prefix {p!r} must be digits")
        return v

    @field_validator("outside_line_prefix", "local_area_code")
    @classmethod
    def _digits(cls, v: str) -> str:
        if v and not v.isdigit():
            raise ValueError("must be digits (or empty)")
        return v

    @field_validator("internal_pattern")
    @classmethod
    def _pattern(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return v


class NumberPlan:
    """How numbers are read under one ``numbers`` config section. Cheap to call: parses are cached."""

    def __init__(self, settings: NumbersSettings | None = None) -> None:
        self.settings = settings or NumbersSettings()
        s = self.settings
        self.region = s.default_region
        self.region_cc = phonenumbers.country_code_for_region(self.region)
        self._internal = re.compile(s.internal_pattern)
        self._anonymous = frozenset(v.strip().lower() for v in s.anonymous_values) | {""}
        # Longest first: "0011" (AU) must win over "00".
        self._intl = tuple(sorted({p for p in s.international_prefixes if p}, key=len, reverse=True))
        self._outside = s.outside_line_prefix
        # Small: live lookups repeat a few callers; a pull (180k distinct numbers) would only churn a
        # large one and leave its entries pinning freed memory (docs/callerid.md, "Directory at scale").
        self._canonical = lru_cache(maxsize=4096)(self._canonical_uncached)

    # ------------------------------------------------------------------ classification
    def fingerprint(self) -> str:
        """Changes whenever a setting that changes canonical keys changes (persisted keys get rebuilt)."""
        s = self.settings
        return "|".join([s.default_region, ",".join(self._intl), s.outside_line_prefix, s.local_area_code])

    def is_anonymous(self, raw: str | None) -> bool:
        return raw is None or _clean(raw).lower() in self._anonymous

    def is_internal(self, raw: str | None) -> bool:
        """An internal extension (``numbers.internal_pattern``), never an outside caller."""
        if raw is None:
            return False
        return bool(self._internal.search(_clean(raw)))

    def lookupable(self, raw: str | None) -> bool:
        """True when ``raw`` is an outside number worth a directory or ITFlow lookup."""
        return self.lookup_key(raw) is not None

    def lookup_key(self, raw: str | None) -> str | None:
        """The E.164 key to look ``raw`` up by; None for anonymous, internal or impossible numbers.

        On every call's path: ``raw`` is cleaned once here, not once per check (is_anonymous, is_internal,
        canonical)."""
        if raw is None:
            return None
        text = _clean(raw)
        if text.lower() in self._anonymous or self._internal.search(text):
            return None
        return self._canonical(text, "")

    # ------------------------------------------------------------------ canonical key
    def canonical(self, raw: str | None, country_code: str | None = "") -> str | None:
        """The E.164 key of ``raw`` ("+14125550101"), or None when it is not a possible number.

        ``country_code`` is ITFlow's separate ``*_country_code`` column ('' and None mean "not given").
        """
        if raw is None:
            return None
        return self._canonical(_clean(raw), _NON_DIGITS.sub("", country_code or ""))

    def _canonical_uncached(self, raw: str, cc: str) -> str | None:
        if not raw or raw.lower() in self._anonymous or not _NUMBERISH.match(raw):
            return None
        number, _, _ = _split_extension(raw)
        digits = _NON_DIGITS.sub("", number)
        if not digits:
            return None
        if number.lstrip().startswith("+"):
            return self._first_possible([("+" + digits, None)])
        tries: list[tuple[str, str | None]] = []
        if cc:
            # A country code from ITFlow's column: read the digits as a national number of that country;
            # then as if the user had typed the code into the number too ("1" + "14125550101").
            region = phonenumbers.region_code_for_country_code(int(cc))
            if region in ("ZZ", "001"):
                tries.append(("+" + cc + digits, None))
            else:
                tries.append((digits, region))
            if digits.startswith(cc):
                tries.append(("+" + digits, None))
        tries.extend(self._readings(digits))
        return self._first_possible(tries)

    def _readings(self, digits: str, *, outside: bool = True) -> list[tuple[str, str | None]]:
        """Readings of a digit string without '+', most likely first (as dialled, then without the
        outside-line prefix: "9165550101" is a Sacramento number, "99165550101" the same behind a 9)."""
        out: list[tuple[str, str | None]] = [(digits, self.region)]
        for prefix in self._intl:
            if digits.startswith(prefix) and len(digits) > len(prefix):
                rest = digits[len(prefix) :]
                # "011 1 412..." is international; some PBXs also put 011 before a national number
                # ("0114125550101"): when the international reading is not possible, the national one is.
                out.append(("+" + rest, None))
                out.append((rest, self.region))
                break
        prefix = self._outside
        if outside and prefix and digits.startswith(prefix) and len(digits) > len(prefix):
            out.extend(self._readings(digits[len(prefix) :], outside=False))
        return out

    def _first_possible(self, tries: list[tuple[str, str | None]]) -> str | None:
        for text, region in tries:
            n = _parse(text, region)
            if n is None:
                continue
            reason = phonenumbers.is_possible_number_with_reason(n)
            if reason == ValidationResult.IS_POSSIBLE_LOCAL_ONLY and self.settings.local_area_code:
                n = _parse(self.settings.local_area_code + str(n.national_number), self.region)
                if n is None:
                    continue
                reason = phonenumbers.is_possible_number_with_reason(n)
            if reason == ValidationResult.IS_POSSIBLE:
                return phonenumbers.format_number(n, PhoneNumberFormat.E164)
        return None

    # ------------------------------------------------------------------ what ITFlow may store
    def digit_variants(self, e164: str) -> list[str]:
        """The digit strings ITFlow may hold for ``e164``, most likely first.

        ITFlow stores digits only and matches ``contact_phone_or_mobile`` exactly, so a live lookup tries
        each: the national number ("4125550101"), with the country code typed in ("14125550101"), with
        the national trunk prefix ("02071234567").
        """
        n = _parse(e164, None)
        if n is None:
            return []
        national = phonenumbers.national_significant_number(n)
        cc = str(n.country_code)
        out = [national, cc + national]
        region = phonenumbers.region_code_for_country_code(n.country_code or 0)
        trunk = phonenumbers.ndd_prefix_for_region(region, True) if region not in ("ZZ", "001") else None
        if trunk and not national.startswith(trunk):
            out.append(trunk + national)
        return list(dict.fromkeys(out))

    # ------------------------------------------------------------------ presentation
    def format(self, e164: str, form: Form | str = "e164", dial_prefix: str = "") -> str:
        """Render ``e164`` for phonebooks and dialling.

        * ``e164``: "+14125550101"; ``e164-no-plus``: "14125550101";
        * ``national``: what one dials from the default region, digits only ("4125550101"; a foreign
          number gets the international prefix: "011442071234567");
        * ``international``: for reading, "+1 412-555-0101".

        ``dial_prefix`` (e.g. an outside-line "9") goes before the digit forms; it cannot precede '+'.
        """
        n = _parse(e164, None)
        if n is None:
            raise ValueError(f"not an E.164 number: {e164!r}")
        if form == "e164":
            text = phonenumbers.format_number(n, PhoneNumberFormat.E164)
        elif form == "e164-no-plus":
            text = phonenumbers.format_number(n, PhoneNumberFormat.E164)[1:]
        elif form == "national":
            if n.country_code == self.region_cc:
                text = _NON_DIGITS.sub("", phonenumbers.format_number(n, PhoneNumberFormat.NATIONAL))
            else:
                text = _NON_DIGITS.sub("", phonenumbers.format_out_of_country_calling_number(n, self.region))
        elif form == "international":
            text = phonenumbers.format_number(n, PhoneNumberFormat.INTERNATIONAL)
        else:
            raise ValueError(f"unknown number form {form!r} (one of {', '.join(FORMS)})")
        if dial_prefix:
            if text.startswith("+"):
                raise ValueError("a dial prefix cannot precede '+': use e164-no-plus or national")
            text = dial_prefix + text
        return text


def _clean(raw: str) -> str:
    """Drop control and format characters (a caller number may arrive with CR, NUL, ...), trim."""
    if raw.isascii() and raw.isprintable():
        return raw.strip()
    return "".join(ch for ch in raw if unicodedata.category(ch)[0] != "C").strip()


def _split_extension(raw: str) -> tuple[str, str, str]:
    m = re.search(r"(?:x|ext\.?|;ext=)\s*(\d+)$", raw, re.IGNORECASE)
    if not m:
        return raw, "", ""
    return raw[: m.start()], "x", m.group(1)


def _parse(text: str, region: str | None) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None
