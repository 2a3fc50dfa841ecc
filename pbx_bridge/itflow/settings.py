"""The ``itflow`` config section: where ITFlow is, the key, which API generation to use."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from pbx_bridge.settings_base import Section

__all__ = ["ItflowSettings"]


class ItflowSettings(Section):
    url: str = Field(description="ITFlow base URL as a browser uses it, e.g. https://itflow.example.com")
    api_key: str | None = Field(default=None, repr=False)
    api_key_file: Path | None = None
    api: Literal["auto", "v1", "legacy"] = "auto"
    timeout: float = Field(default=10.0, gt=0, le=300)
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not a URL (expected http:// or https:// and a host)")
        if parts.query or parts.fragment:
            raise ValueError("the base URL takes no query or fragment")
        path = parts.path.rstrip("/")
        for suffix in ("/api.php", "/api/v1"):
            if path.endswith(suffix):
                raise ValueError(f"give the base URL without {suffix}; the client appends it")
        return f"{parts.scheme}://{parts.netloc}{path}"
