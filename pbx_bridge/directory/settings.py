"""Config sections ``numbers``, ``directory`` and ``callerid`` (owned by the caller-ID feature)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from pbx_bridge.settings_base import Section


class NumbersSettings(Section):
    default_region: str = Field(
        default="US", description="ISO 3166 region of numbers without a country code (US, GB, DE, ...)")
    international_prefixes: list[str] = Field(
        default_factory=lambda: ["011", "00"],
        description="dialled before a country code (011 in North America, 00 in most other places)")
    outside_line_prefix: str = Field(
        default="", description="digit(s) the PBX or ITFlow may put before an outside number, e.g. 9")
    internal_pattern: str = Field(
        default=r"^\d{2,6}$", description="regex: a caller number matching it is an internal extension")
    anonymous_values: list[str] = Field(
        default_factory=lambda: ["anonymous", "unknown", "restricted", "private", "unavailable", "withheld"],
        description="caller numbers (case-insensitive) that mean 'no number'; never looked up")
    local_area_code: str = Field(
        default="", description="area code for local-only numbers (7 digits in NANP); empty: refuse them")

    @field_validator("default_region")
    @classmethod
    def _region(cls, v: str) -> str:
        import phonenumbers

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


class DirectorySettings(Section):
    enabled: bool = True
    sync_interval: float = Field(default=900.0, gt=0, description="seconds between directory syncs")
    retry_interval: float = Field(default=60.0, gt=0, description="seconds before retrying a failed sync")
    name_template: str = Field(
        default="{client} - {name}",
        description="display name; fields {client} {name} {kind} {title} {number}")
    name_template_no_client: str = Field(
        default="{name}", description="display name of a party without a client (a global vendor)")
    max_name_length: int = Field(default=40, ge=1, le=200)
    # FreePBX's macro-user-callerid keeps 40 bytes of CALLERID(name): a longer UTF-8 name would be
    # split mid-character there. 0: no byte limit (plain Asterisk keeps the whole name).
    max_name_bytes: int = Field(default=40, ge=0, le=800)
    ambiguous_label: str = Field(
        default="", description="shown when a number belongs to two clients; empty: the number itself")
    page_size: int = Field(default=500, ge=1, le=10000, description="rows per v1 listing page")

    @field_validator("name_template", "name_template_no_client")
    @classmethod
    def _template(cls, v: str) -> str:
        try:
            v.format(client="c", name="n", kind="k", title="t", number="1")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"bad template ({exc}); allowed fields: {{client}} {{name}} {{kind}} {{title}} {{number}}"
            ) from None
        return v


class CallerIdSettings(Section):
    live_lookup: bool = Field(default=True, description="ask ITFlow live when the directory has no match")
    live_budget: float = Field(default=0.3, gt=0, le=10, description="hard budget of a live ITFlow lookup, s")
    cache_ttl: float = Field(default=3600.0, ge=0, description="seconds a live answer is cached")
    negative_cache_ttl: float = Field(default=300.0, ge=0, description="seconds a live 'no match' is cached")
    cache_size: int = Field(default=10000, ge=1, description="live answers kept in memory at most")
    legacy_cid_per_minute: int = Field(
        default=10, ge=0, description="legacy api.php cid calls per minute at most (each writes into ITFlow)")
    live_cooldown: float = Field(
        default=10.0, ge=0, description="seconds without live lookups after ITFlow failed to answer")
    max_inflight: int = Field(default=32, ge=1, description="live lookups running at once at most")
    safe_names: bool = Field(
        default=True, description="make names harmless for FreePBX's dialplan on every caller-name door "
                                  "(docs/callerid.md); off only for a PBX that never substitutes names")
    http_miss: Literal["number", "empty"] = Field(
        default="number", description="what HTTP /cid answers on a miss or an error: the number itself, or "
                                      "an empty body (Superfecta asks its next source); ?miss= per request")
