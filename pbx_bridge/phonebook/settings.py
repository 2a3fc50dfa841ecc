"""Config section ``phonebook`` (desk phone phonebook sync)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from pbx_bridge.settings_base import Section

ALL_FORMATS = (
    "yealink",
    "yealink-grouped",
    "yealink-local",
    "grandstream",
    "cisco",
    "polycom",
    "snom",
    "snom-v2",
    "fanvil",
    "gigaset",
    "gigaset-de",
    "panasonic",
    "panasonic-csv",
    "vcard",
    "csv",
    "itflow-legacy",
)


def _mode(value: object) -> int:
    """File modes: YAML ``0644`` arrives as the octal int 420, ``"0644"``/``"644"`` as text."""
    if isinstance(value, bool):
        raise ValueError("a file mode such as 0644")
    if isinstance(value, int):
        mode = value
    else:
        try:
            mode = int(str(value).strip(), 8)
        except ValueError:
            raise ValueError("a file mode such as 0644") from None
    if not 0 <= mode <= 0o7777:
        raise ValueError("a file mode such as 0644")
    return mode


class NameTemplates(Section):
    """How an entry's display name is built per party kind. Fields: {name} {client} {first} {last} {title}.

    When a field the template uses is empty (a global vendor has no client), ``{name}`` is used instead.
    """

    contact: str = Field(default="{name} ({client})", description="template for contacts")
    location: str = Field(default="{client} - {name}", description="template for client locations")
    vendor: str = Field(default="{name}", description="template for vendors")


class GroupLabels(Section):
    contact: str = Field(default="Contacts", description="group of contacts when group_by is kind")
    location: str = Field(default="Locations", description="group of locations")
    vendor: str = Field(default="Vendors", description="group of vendors")


class LabelSuffixes(Section):
    """Appended to the name in one-number-per-entry formats (Cisco, Polycom, Snom) for the extra numbers."""

    office: str = " (Office)"
    mobile: str = " (Mobile)"
    other: str = " (Other)"


IncludedKind = Literal["contact", "location", "vendor"]
_ALL_KINDS: tuple[IncludedKind, ...] = ("contact", "location", "vendor")


class PhonebookSettings(Section):
    enabled: bool = Field(default=True, description="run the phonebook scheduler in the daemon")
    interval: float = Field(default=3600.0, gt=0, description="seconds between scheduled syncs")
    jitter: float = Field(default=0.1, ge=0, le=1, description="random share of interval added/removed")
    run_at_start: bool = Field(default=True, description="sync once when the daemon starts")
    output_dir: Path | None = Field(default=None, description="write files here (null: HTTP only)")
    file_mode: int = Field(default=0o644, description="mode of written files (octal)")
    dir_mode: int = Field(default=0o755, description="mode of output_dir when pbx-bridge creates it")
    formats: list[str] = Field(
        default_factory=lambda: list(ALL_FORMATS), description="formats published as files and over HTTP"
    )
    number_format: Literal["e164", "e164-no-plus", "national"] = "e164"
    dial_prefix: str = Field(
        default="",
        pattern=r"^[0-9*#+]*$",
        description="prepended to every published number (e.g. an outside-line 9)",
    )
    shrink_guard: float = Field(
        default=0.5, ge=0, le=1, description="refuse to publish a book that lost more than this share"
    )
    include: list[IncludedKind] = Field(
        default_factory=lambda: list(_ALL_KINDS), description="party kinds in the book"
    )
    group_by: Literal["client", "kind", "none"] = Field(
        default="client", description="client: contacts by client, plus Locations and Vendors; kind; none"
    )
    default_group: str = Field(default="ITFlow", description="the one group when group_by is none")
    group_labels: GroupLabels = Field(default_factory=GroupLabels)
    name_templates: NameTemplates = Field(default_factory=NameTemplates)
    label_suffixes: LabelSuffixes = Field(default_factory=LabelSuffixes)
    title: str = Field(default="ITFlow", description="book title in formats that carry one")
    max_entries: dict[str, int] = Field(
        default_factory=dict, description="per-format entry limit overrides, e.g. {snom: 250}"
    )
    max_name_length: dict[str, int] = Field(
        default_factory=dict, description="per-format name length overrides"
    )
    grandstream_account_index: int = Field(
        default=1,
        ge=0,
        le=6,
        description="accountindex: the SIP account that dials (GXP21xx 1.0.5: 1-6; 0-based firmware: 0-5)",
    )
    gigaset_online_directory: bool = Field(
        default=False,
        description="answer Gigaset online-directory searches on /phonebook/gigaset "
        "(keeps the entries in memory)",
    )
    grandstream_overflow_group: str = Field(
        default="Other",
        min_length=1,
        description="group 9 on Grandstream when there are more than ten groups (groupid is 0..9)",
    )

    @field_validator("file_mode", "dir_mode", mode="before")
    @classmethod
    def _modes(cls, v: object) -> int:
        return _mode(v)

    @field_validator("formats")
    @classmethod
    def _formats(cls, v: list[str]) -> list[str]:
        unknown = [f for f in v if f not in ALL_FORMATS]
        if unknown:
            raise ValueError(f"unknown format {unknown[0]!r}; known: {', '.join(ALL_FORMATS)}")
        return list(dict.fromkeys(v))

    @field_validator("max_entries", "max_name_length")
    @classmethod
    def _per_format(cls, v: dict[str, int]) -> dict[str, int]:
        for key, n in v.items():
            if key not in ALL_FORMATS:
                raise ValueError(f"unknown format {key!r}")
            if n < 1:
                raise ValueError(f"{key}: must be at least 1")
        return v

    @model_validator(mode="after")
    def _prefix_needs_digits(self) -> PhonebookSettings:
        if self.dial_prefix and self.number_format == "e164":
            raise ValueError("dial_prefix cannot precede '+': use number_format e164-no-plus or national")
        return self
