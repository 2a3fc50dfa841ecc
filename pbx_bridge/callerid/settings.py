"""Config section ``callerid``: live ITFlow lookups, their cache and budget, and what the doors answer."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pbx_bridge.settings_base import Section

__all__ = ["CallerIdSettings"]


class CallerIdSettings(Section):
    live_lookup: bool = Field(default=True, description="ask ITFlow live when the directory has no match")
    live_budget: float = Field(default=0.3, gt=0, le=10, description="hard budget of a live ITFlow lookup, s")
    cache_ttl: float = Field(default=3600.0, ge=0, description="seconds a live answer is cached")
    negative_cache_ttl: float = Field(default=300.0, ge=0, description="seconds a live 'no match' is cached")
    cache_size: int = Field(default=10000, ge=1, description="live answers kept in memory at most")
    legacy_cid_per_minute: int = Field(
        default=10, ge=0, description="legacy api.php cid calls per minute at most (each writes into ITFlow)"
    )
    live_cooldown: float = Field(
        default=10.0, ge=0, description="seconds without live lookups after ITFlow failed to answer"
    )
    max_inflight: int = Field(default=32, ge=1, description="live lookups running at once at most")
    safe_names: bool = Field(
        default=True,
        description="make names harmless for FreePBX's dialplan on every caller-name door "
        "(docs/callerid.md); off only for a PBX that never substitutes names",
    )
    http_miss: Literal["number", "empty"] = Field(
        default="number",
        description="what HTTP /cid answers on a miss or an error: the number itself, or "
        "an empty body (Superfecta asks its next source); ?miss= per request",
    )
