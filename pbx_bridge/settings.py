"""The whole configuration file's model: every section, each owned by its part, composed here.

``parse_settings`` and ``load_settings`` read a file through :mod:`pbx_bridge.config` (line numbers,
duplicate keys, the API key's sources) and validate it into :class:`Settings`. The daemon gives each
part only its own section (``wiring.py``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pbx_bridge.ami.settings import AmiSettings
from pbx_bridge.balance.settings import BalanceSettings
from pbx_bridge.callerid.settings import CallerIdSettings
from pbx_bridge.config import (
    API_KEY_ENV,
    ConfigError,
    FastAgiSettings,
    HttpSettings,
    config_error,
    is_placeholder_secret,
    line_for,
    read_document,
    resolve_api_key,
    warn_if_exposed,
)
from pbx_bridge.directory.settings import DirectorySettings
from pbx_bridge.itflow.settings import ItflowSettings
from pbx_bridge.journal.settings import JournalSettings
from pbx_bridge.numbers import NumbersSettings
from pbx_bridge.phonebook.settings import PhonebookSettings
from pbx_bridge.screen.settings import ScreenSettings
from pbx_bridge.technicians import TechniciansSettings
from pbx_bridge.tickets.settings import TicketsSettings, VoicemailSettings

__all__ = ["Settings", "load_settings", "parse_settings", "secrets_in_file"]


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    itflow: ItflowSettings
    state_dir: Path = Path("/var/lib/pbx-bridge")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"
    numbers: NumbersSettings = Field(default_factory=NumbersSettings)
    directory: DirectorySettings = Field(default_factory=DirectorySettings)
    callerid: CallerIdSettings = Field(default_factory=CallerIdSettings)
    fastagi: FastAgiSettings = Field(default_factory=FastAgiSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    ami: AmiSettings | None = None
    tickets: TicketsSettings = Field(default_factory=TicketsSettings)
    voicemail: VoicemailSettings = Field(default_factory=VoicemailSettings)
    balance: BalanceSettings = Field(default_factory=BalanceSettings)
    phonebook: PhonebookSettings = Field(default_factory=PhonebookSettings)
    technicians: TechniciansSettings = Field(default_factory=TechniciansSettings)
    journal: JournalSettings = Field(default_factory=JournalSettings)
    screen: ScreenSettings = Field(default_factory=ScreenSettings)
    # Where this came from, for messages and relative paths; not a config key.
    source: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _key_present(self) -> Settings:
        # parse_settings resolves the key (file, environment) before validating; this catches Settings
        # built directly without one, so ``api_key`` below can rely on it.
        if self.itflow.api_key is None:
            raise ValueError(f"itflow: no API key (itflow.api_key, itflow.api_key_file or ${API_KEY_ENV})")
        return self

    @property
    def api_key(self) -> str:
        """The ITFlow key, resolved at load time (file, environment or ``api_key_file``)."""
        assert self.itflow.api_key is not None
        return self.itflow.api_key


def _owners_are_technicians(settings: Settings, lines: dict[tuple[str, ...], int], path: str) -> None:
    """tickets.owners names technicians of the technicians: section (two sections: checked here)."""
    names = {p.name for p in settings.technicians.people}
    for n, owner in enumerate(settings.tickets.owners):
        if owner.technician is not None and owner.technician not in names:
            loc = ("tickets", "owners", str(n), "technician")
            known = ", ".join(sorted(names)) or "none configured"
            raise ConfigError(
                f"{owner.technician!r} is not in technicians: ({known})",
                path=path,
                line=line_for(loc, lines),
                key=".".join(loc),
            )


def secrets_in_file(settings: Settings, env: dict[str, str] | None = None) -> list[str]:
    """The real secrets the config file itself holds (placeholders and keys from elsewhere excluded)."""
    env = dict(os.environ) if env is None else env
    out = []
    key = settings.itflow.api_key
    if (
        settings.itflow.api_key_file is None
        and not is_placeholder_secret(key)
        and key != (env.get(API_KEY_ENV) or "").strip()
    ):
        out.append("the ITFlow API key")
    if settings.ami is not None and not is_placeholder_secret(settings.ami.secret):
        out.append("the AMI secret")
    auth = settings.http.basic_auth
    if auth is not None and not is_placeholder_secret(auth.password):
        out.append("the HTTP password")
    return out


def parse_settings(text: str, *, path: str = "<config>", env: dict[str, str] | None = None) -> Settings:
    """Validate YAML text into :class:`Settings`; raise :class:`ConfigError` naming line and key."""
    env = dict(os.environ) if env is None else env
    data, lines = read_document(text, path)
    resolve_api_key(data, lines, path, env)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, lines, path) from None
    _owners_are_technicians(settings, lines, path)
    if settings.ami is not None and not is_placeholder_secret(settings.ami.secret):
        if path not in ("<config>", "-"):
            warn_if_exposed(Path(path), "the AMI secret")
    if path in ("<config>", "-"):
        return settings
    update: dict[str, object] = {"source": Path(path)}
    if not settings.state_dir.is_absolute():
        # Relative to the config file (the example's trial state stays in the checkout, wherever the
        # command runs from), like a relative itflow.api_key_file.
        update["state_dir"] = Path(path).resolve().parent / settings.state_dir
    return settings.model_copy(update=update)


def load_settings(path: str | os.PathLike[str], *, env: dict[str, str] | None = None) -> Settings:
    """Read and validate a config file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(p)) from None
    return parse_settings(text, path=str(p), env=env)
