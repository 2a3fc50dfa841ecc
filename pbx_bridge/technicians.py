"""Who is who: the ``technicians:`` section, one entry per person who answers the phone.

One section for every feature that needs to know a person (config.example.yaml, ``technicians:``).
So far it is read and checked (digits-only extensions, one owner each); the call journal (attributing a
call to whoever answered, with their own key, since ITFlow credits a reply to the key's user), ticket
assignment and the calls page's sign-in are to build on it, each reading only the fields it needs.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field, RootModel, field_validator, model_validator

from pbx_bridge.settings_base import Section

__all__ = ["Technician", "TechniciansSettings"]


class Technician(Section):
    # The name shown in journal notes and on the calls page ("answered by Dana (202)").
    name: str = Field(min_length=1, max_length=80)
    # The extensions that ring this person's phones; an extension belongs to one technician.
    extensions: tuple[str, ...] = Field(min_length=1)
    # ITFlow's user id (users.user_id): ticket_assigned_to and who a reply is about.
    itflow_user_id: int | None = Field(default=None, ge=1)
    # This technician's own ITFlow API key, read from a file (never inline): ITFlow attributes a ticket
    # reply to the key's user. Unset: the daemon's key (itflow.api_key) is used.
    api_key_file: Path | None = None
    # Sign-in to the calls page (docs/screen.md): a user name and a password hash made by
    # ``pbx-bridge screen passwd`` (scrypt; never the password itself). Unset: this person cannot sign in.
    username: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._@-]{1,64}$")
    password_hash: str | None = Field(default=None, pattern=r"^scrypt\$")

    @field_validator("extensions")
    @classmethod
    def _digits(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for ext in value:
            if not ext.isascii() or not ext.isdigit() or len(ext) > 16:
                raise ValueError(f"extension {ext!r}: digits only (e.g. '201')")
        return value


class TechniciansSettings(RootModel[tuple[Technician, ...]]):
    """The section is a list (config.example.yaml, ``technicians:``); empty by default."""

    model_config = ConfigDict(frozen=True)
    root: tuple[Technician, ...] = ()

    @model_validator(mode="after")
    def _one_owner_per_extension(self) -> TechniciansSettings:
        owner: dict[str, str] = {}
        for person in self.root:
            for ext in person.extensions:
                if ext in owner:
                    raise ValueError(f"extension {ext} belongs to both {owner[ext]!r} and {person.name!r}")
                owner[ext] = person.name
        logins: set[str] = set()
        for person in self.root:
            if person.username is None:
                continue
            if person.password_hash is None:
                raise ValueError(f"{person.name!r}: username needs password_hash (pbx-bridge screen passwd)")
            if person.username.lower() in logins:
                raise ValueError(f"username {person.username!r} is given twice")
            logins.add(person.username.lower())
        return self

    @property
    def people(self) -> tuple[Technician, ...]:
        return self.root

    def by_username(self, username: str) -> Technician | None:
        """The technician who signs in as ``username`` (case-insensitive), if any."""
        wanted = username.lower()
        for person in self.root:
            if person.username is not None and person.username.lower() == wanted:
                return person
        return None

    def by_extension(self, extension: str) -> Technician | None:
        """The technician whose phone ``extension`` is, if any."""
        for person in self.root:
            if extension in person.extensions:
                return person
        return None
