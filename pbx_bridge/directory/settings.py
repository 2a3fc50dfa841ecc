"""Config sections ``numbers``, ``directory`` and ``callerid`` (owned by the caller-ID feature)."""

from __future__ import annotations

from pydantic import Field

from pbx_bridge.settings_base import Section


class NumbersSettings(Section):
    default_region: str = "US"
    international_prefixes: list[str] = Field(default_factory=lambda: ["011", "00"])
    outside_line_prefix: str = ""
    internal_pattern: str = r"^\d{2,6}$"


class DirectorySettings(Section):
    enabled: bool = True
    sync_interval: float = Field(default=900.0, gt=0, description="seconds between directory syncs")
    name_template: str = "{client} - {name}"
    max_name_length: int = Field(default=40, ge=1, le=200)
    ambiguous_label: str = ""  # empty: show the number itself


class CallerIdSettings(Section):
    live_lookup: bool = True
    live_budget: float = Field(default=0.3, gt=0, le=10, description="hard budget of a live ITFlow lookup, s")
    cache_ttl: float = 3600.0
    negative_cache_ttl: float = 300.0
    legacy_cid_per_minute: int = Field(default=10, ge=0)
