"""Config section ``phonebook`` (desk phone phonebook sync)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from pbx_bridge.settings_base import Section


class PhonebookSettings(Section):
    enabled: bool = True
    interval: float = Field(default=3600.0, gt=0)
    output_dir: Path | None = None
    formats: list[str] = Field(default_factory=lambda: ["yealink", "grandstream"])
    number_format: Literal["e164", "e164-no-plus", "national"] = "e164"
    dial_prefix: str = ""
    shrink_guard: float = Field(default=0.5, ge=0, le=1)
