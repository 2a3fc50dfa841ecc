"""Config section ``directory``: how often the directory is pulled and how its names are shown."""

from __future__ import annotations

from pydantic import Field, field_validator

from pbx_bridge.settings_base import Section


class DirectorySettings(Section):
    enabled: bool = True
    sync_interval: float = Field(default=900.0, gt=0, description="seconds between directory syncs")
    retry_interval: float = Field(default=60.0, gt=0, description="seconds before retrying a failed sync")
    name_template: str = Field(
        default="{client} - {name}",
        description="display name; fields {client} {name} {kind} {title} {number}",
    )
    name_template_no_client: str = Field(
        default="{name}", description="display name of a party without a client (a global vendor)"
    )
    max_name_length: int = Field(default=40, ge=1, le=200)
    # FreePBX's macro-user-callerid keeps 40 bytes of CALLERID(name): a longer UTF-8 name would be
    # split mid-character there. 0: no byte limit (plain Asterisk keeps the whole name).
    max_name_bytes: int = Field(default=40, ge=0, le=800)
    ambiguous_label: str = Field(
        default="", description="shown when a number belongs to two clients; empty: the number itself"
    )
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
