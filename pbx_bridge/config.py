"""Reading a YAML configuration: line numbers, duplicate keys, the API key's sources, clear errors.

Errors name the file, the line and the key path (``config.yaml:12: itflow.url: not a URL``). Line numbers
come from PyYAML's node tree (``yaml.compose``), which also lets us reject duplicate keys: PyYAML's loader
silently keeps the last one. Unknown keys are errors (every section model forbids extras).

This is plumbing: it knows no feature. The plumbing-level sections (``fastagi``, ``http``) live here;
each feature owns its section model in its own ``settings`` module, and ``pbx_bridge.settings``
composes them into the whole file's model.
"""

from __future__ import annotations

import ipaddress
import logging
import stat
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from pbx_bridge.allow import networks
from pbx_bridge.errors import PbxBridgeError
from pbx_bridge.settings_base import Section

__all__ = [
    "API_KEY_ENV",
    "BasicAuth",
    "ConfigError",
    "FastAgiSettings",
    "HttpSettings",
    "RouteGroupAccess",
    "config_error",
    "is_placeholder_secret",
    "line_for",
    "read_document",
    "resolve_api_key",
    "warn_if_exposed",
]

API_KEY_ENV = "PBX_BRIDGE_ITFLOW_API_KEY"

log = logging.getLogger("pbx_bridge.config")

# The example config's stand-ins: no one can use them, so a world-readable file holding them exposes
# nothing (and is not warned about). Compared case-insensitively, stripped.
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme"})


def is_placeholder_secret(value: str | None) -> bool:
    return value is None or value.strip().lower() in PLACEHOLDER_SECRETS


class ConfigError(PbxBridgeError):
    """A configuration problem a person can fix; ``str()`` is ``file:line: key.path: message``."""

    def __init__(self, message: str, *, path: str = "", line: int | None = None, key: str = "") -> None:
        self.path, self.line, self.key, self.message = path, line, key, message
        where = path + (f":{line}" if line is not None else "")
        super().__init__(": ".join(p for p in (where, key, message) if p))


def _check_networks(v: list[str]) -> list[str]:
    networks(v)  # ValueError names the item that is no network
    return v


class FastAgiSettings(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    # FreePBX 16/17 run their own FastAGI server on 127.0.0.1:4573.
    port: int = Field(default=4574, ge=1, le=65535)
    # Asterisk sends the whole environment as it connects: a short deadline frees slow connections early.
    env_timeout: float = Field(default=2.0, gt=0, description="seconds to wait for the AGI environment")
    command_timeout: float = Field(default=10.0, gt=0, description="seconds to wait for one AGI reply")
    # The longest a whole session may last (a balance readout included), so no task outlives its call.
    session_timeout: float = Field(default=900.0, gt=0)
    # Peers allowed to connect (CIDR); Asterisk is the only legitimate one.
    allow: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    # Open connections at most; a newcomer at the cap pushes out the oldest one without an environment.
    max_connections: int = Field(default=2048, ge=1, le=100_000)

    @field_validator("allow")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        return _check_networks(v)


class BasicAuth(Section):
    username: str
    password: str = Field(repr=False)


class RouteGroupAccess(Section):
    """Who may call one group of HTTP routes."""

    allow: list[str] | None = None

    @field_validator("allow")
    @classmethod
    def _networks(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _check_networks(v)


class HttpSettings(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    # Clear of FreePBX's 80, 443, 8001, 8003, 8088, 8089.
    port: int = Field(default=8734, ge=1, le=65535)
    public_url: str | None = None
    basic_auth: BasicAuth | None = None
    allow: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    # The balance endpoint for the classic AGI script: loopback only, never the handset listener.
    internal_port: int = Field(default=8735, ge=1, le=65535)
    # HTTPS for phones and browsers, next to the plain listener (which FreePBX's CURL() keeps using).
    tls_host: str = "0.0.0.0"
    tls_port: int | None = Field(default=None, ge=1, le=65535)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Per route group allow-lists (null: http.allow), so opening one group never opens another.
    callerid: RouteGroupAccess = Field(default_factory=RouteGroupAccess)
    phonebook: RouteGroupAccess = Field(default_factory=RouteGroupAccess)
    # Voicemail audio links (signed, expiring): whoever reads the tickets must reach them, usually
    # over the TLS listener at public_url.
    voicemail: RouteGroupAccess = Field(default_factory=RouteGroupAccess)

    @field_validator("allow")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        return _check_networks(v)

    @field_validator("tls_cert", "tls_key")
    @classmethod
    def _pem_file(cls, v: Path | None) -> Path | None:
        # checked per field, so the error names http.tls_cert or http.tls_key and its line
        if v is not None and not Path(v).is_file():
            raise ValueError(f"no such file {v} (a PEM file)")
        return v

    @model_validator(mode="after")
    def _tls_complete(self) -> HttpSettings:
        if self.tls_port is None:
            return self
        for key in ("tls_cert", "tls_key"):
            if getattr(self, key) is None:
                raise ValueError(f"tls_port needs {key} (a PEM file)")
        if self.tls_port in (self.port, self.internal_port):
            raise ValueError("tls_port must differ from port and internal_port")
        return self

    def callerid_open_beyond_loopback(self) -> list[str]:
        """The networks outside loopback that may ask ``/cid`` only because ``http.callerid.allow`` is
        unset and ``http.allow`` holds them: what a config written before the per-group lists (phones'
        subnet in ``http.allow``) still opens. Empty when caller ID stays on loopback."""
        if self.callerid.allow is not None:
            return []
        return [n for n in self.allow if not ipaddress.ip_network(n, strict=False).is_loopback]

    def allow_for(self, group: str) -> list[str]:
        """The allow-list of a route group (``callerid``, ``phonebook``): its own, else ``http.allow``."""
        own = getattr(self, group).allow
        return list(self.allow if own is None else own)


# --------------------------------------------------------------------------- loading


def _node_to_python(
    node: yaml.Node, path: str, lines: dict[tuple[str, ...], int], keypath: tuple[str, ...] = ()
) -> Any:
    """Turn a composed node tree into plain data, recording each key's line and rejecting duplicates."""
    lines[keypath] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = (
                yaml.safe_load(yaml.serialize(key_node))
                if not isinstance(key_node, yaml.ScalarNode)
                else key_node.value
            )
            key = str(key)
            sub = (*keypath, key)
            if key in out:
                raise ConfigError(
                    f"duplicate key (first at line {lines[sub]})",
                    path=path,
                    line=key_node.start_mark.line + 1,
                    key=".".join(sub),
                )
            lines[sub] = key_node.start_mark.line + 1
            out[key] = _node_to_python(value_node, path, lines, sub)
            lines[sub] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_node_to_python(n, path, lines, (*keypath, str(i))) for i, n in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def line_for(loc: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def warn_if_exposed(file: Path, what: str) -> None:
    try:
        mode = file.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXO):
        # A log line, not a UserWarning: one line, no Python source quoted (logging is set up first).
        log.warning(
            "%s: holds %s and is readable by others (mode %s); chmod o-rwx it",
            file,
            what,
            stat.filemode(mode),
        )


_CRED_VAR = "CREDENTIALS_DIRECTORY"


def _expand_credentials(value: str, env: dict[str, str], path: str, line: int | None) -> str:
    """Expand ``${CREDENTIALS_DIRECTORY}``, where systemd's ``LoadCredential=`` puts the key file.

    Only this one variable is expanded: a path is not a shell word, and other ``$`` stay literal.
    """
    if f"${{{_CRED_VAR}}}" not in value and f"${_CRED_VAR}" not in value:
        return value
    directory = env.get(_CRED_VAR)
    if not directory:
        raise ConfigError(
            f"${_CRED_VAR} is not set (systemd sets it for a unit with LoadCredential=; "
            "outside systemd give the file's real path)",
            path=path,
            line=line,
            key="itflow.api_key_file",
        )
    return value.replace(f"${{{_CRED_VAR}}}", directory).replace(f"${_CRED_VAR}", directory)


def read_document(text: str, path: str) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    """The YAML text as plain data, and the line of every key path (for error messages)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError(str(exc.problem or exc), path=path, line=mark.line + 1 if mark else None) from None
    if root is None:
        raise ConfigError(
            "the file is empty (or only comments): it needs at least an itflow section "
            "with url and an API key",
            path=path,
            line=1,
            key="itflow",
        )
    lines: dict[tuple[str, ...], int] = {}
    data = _node_to_python(root, path, lines)
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of sections", path=path, line=1)
    return data, lines


def resolve_api_key(
    data: dict[str, Any], lines: dict[tuple[str, ...], int], path: str, env: dict[str, str]
) -> None:
    """Put the ITFlow key into ``data["itflow"]["api_key"]`` from ``api_key``, ``api_key_file`` or
    ``$PBX_BRIDGE_ITFLOW_API_KEY``; warn when a file holding it is readable by others."""
    itflow = data.get("itflow")
    if isinstance(itflow, dict):
        itflow = dict(itflow)
        data["itflow"] = itflow
        sources = [k for k in ("api_key", "api_key_file") if itflow.get(k)]
        if len(sources) > 1:
            raise ConfigError(
                "give api_key or api_key_file, not both",
                path=path,
                line=lines.get(("itflow", "api_key_file")),
                key="itflow.api_key_file",
            )
        if itflow.get("api_key_file"):
            key_file = Path(
                _expand_credentials(
                    str(itflow["api_key_file"]), env, path, lines.get(("itflow", "api_key_file"))
                )
            )
            if not key_file.is_absolute() and path not in ("<config>", "-"):
                key_file = Path(path).parent / key_file
            try:
                itflow["api_key"] = key_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the key file: {exc.strerror}",
                    path=path,
                    line=lines.get(("itflow", "api_key_file")),
                    key="itflow.api_key_file",
                ) from None
            if not is_placeholder_secret(itflow["api_key"]):
                warn_if_exposed(key_file, "the ITFlow API key")
        elif itflow.get("api_key"):
            if path not in ("<config>", "-") and not is_placeholder_secret(str(itflow["api_key"])):
                warn_if_exposed(Path(path), "the ITFlow API key")
        elif env.get(API_KEY_ENV):
            itflow["api_key"] = env[API_KEY_ENV].strip()
        else:
            raise ConfigError(
                f"no API key: set itflow.api_key, itflow.api_key_file or ${API_KEY_ENV}",
                path=path,
                line=lines.get(("itflow",)),
                key="itflow.api_key",
            )


def config_error(exc: ValidationError, lines: dict[tuple[str, ...], int], path: str) -> ConfigError:
    """The first problem pydantic found, as one line naming its key and line."""
    # An unknown key first: a typo (itflw:) also makes its intended key "missing", and the typo is
    # the one to fix.
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    err = errors[0]
    loc = tuple(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key (a typo?)"
    elif err["type"] == "missing":
        msg = "required key is missing"
    extra = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return ConfigError(msg + extra, path=path, line=line_for(loc, lines), key=".".join(loc))
