"""``pbx-bridge check``: everything the daemon needs, one line per item with a fix hint.

Levels: ``ok``; ``warn`` a feature this backend or key cannot provide; ``info`` a part not configured
(or a check that cannot be made here); ``fail`` a configured part that is broken. Only ``fail`` makes
the command exit non-zero. Nothing here writes to ITFlow: write permissions are probed with requests
that RBAC refuses or the method check stops (see ``itflow.detect.probe_permissions``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pbx_bridge.cli.doctor_journal import journal_checks, spool_shape
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.itflow.detect import probe_permissions
from pbx_bridge.itflow.errors import ItflowError
from pbx_bridge.settings import Settings, secrets_in_file
from pbx_bridge.state_files import state_problems
from pbx_bridge.state_guard import inspect_state_file
from pbx_bridge.store import Store

__all__ = ["CheckItem", "run_checks"]

Level = Literal["ok", "warn", "info", "fail"]


@dataclass(frozen=True)
class CheckItem:
    level: Level
    name: str
    detail: str
    hint: str = ""

    def line(self) -> str:
        text = f"{self.level:<4}  {self.name}: {self.detail}"
        return text + (f"  (fix: {self.hint})" if self.hint and self.level != "ok" else "")

    def as_dict(self) -> dict[str, str]:
        return {"level": self.level, "name": self.name, "detail": self.detail, "hint": self.hint}


async def run_checks(settings: Settings, *, config_path: Path | None = None) -> list[CheckItem]:
    items: list[CheckItem] = [_config(config_path, secrets_in_file(settings))]
    items.append(_writable_dir("state_dir", settings.state_dir, "create it, owned by the service user"))
    items.extend(_state_files(settings.state_dir))
    items.append(_state_file(settings.state_dir))
    items.extend(await _itflow(settings))
    items.extend(await _ami(settings))
    fastagi = settings.fastagi
    items.append(await _port("fastagi", fastagi.enabled, fastagi.host, fastagi.port))
    items.append(await _port("http", settings.http.enabled, settings.http.host, settings.http.port))
    if settings.ami is not None:
        items.append(
            _readable_dir(
                "voicemail spool",
                settings.voicemail.spool_root,
                "add the service user to the asterisk group (voicemail details)",
                missing_level="warn",
                missing_hint="is Asterisk installed on this host? else set "
                "voicemail.spool_root to its voicemail spool",
            )
        )
        if items[-1].level == "ok" and (shape := spool_shape(settings.voicemail.spool_root)) is not None:
            items[-1] = CheckItem(*shape)
    if settings.phonebook.enabled and settings.phonebook.output_dir is not None:
        items.append(
            _writable_dir(
                "phonebook output_dir",
                settings.phonebook.output_dir,
                "create it and give the service user write access",
            )
        )
    elif settings.phonebook.enabled:
        items.append(CheckItem("info", "phonebook", "published over HTTP only (phonebook.output_dir unset)"))
    if settings.screen.enabled:
        items.extend(_screen(settings))
    return items


def _screen(settings: Settings) -> list[CheckItem]:
    """The calls page (docs/screen.md): reachable over TLS, and someone who can sign in."""
    out = []
    http = settings.http
    if not http.enabled or http.tls_port is None:
        out.append(
            CheckItem(
                "warn",
                "screen",
                "no TLS listener: over plain HTTP on the LAN browsers give the page neither "
                "notifications nor the tel: handler",
                "set http.tls_port, tls_cert and tls_key (docs/screen.md)",
            )
        )
    people = [p.name for p in settings.technicians.people if p.username and p.password_hash]
    if not people:
        out.append(
            CheckItem(
                "warn",
                "screen",
                "no technician can sign in",
                "give technicians a username and a password_hash (pbx-bridge screen passwd NAME)",
            )
        )
    if not out:
        url = http.public_url or f"https://{http.tls_host}:{http.tls_port}"
        out.append(CheckItem("ok", "screen", f"{url}/calls for {len(people)} technician(s)"))
    if settings.ami is None:
        out.append(CheckItem("info", "screen", "no ami section: no live calls and no click-to-dial"))
    return out


def _config(path: Path | None, secrets: list[str]) -> CheckItem:
    if path is None:
        return CheckItem("ok", "config", "valid")
    try:
        mode = path.stat().st_mode
    except OSError:
        return CheckItem("ok", "config", f"{path}: valid")
    if mode & stat.S_IROTH:
        if not secrets:  # e.g. the example's placeholders: nothing to expose
            return CheckItem("ok", "config", f"{path}: valid (readable by others; holds no secret)")
        return CheckItem(
            "warn",
            "config",
            f"{path}: valid, but readable by others ({stat.filemode(mode)})",
            f"chmod o-rwx {path} (it holds {' and '.join(secrets)})",
        )
    return CheckItem("ok", "config", f"{path}: valid")


def _writable_dir(name: str, path: Path, hint: str) -> CheckItem:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return CheckItem("fail", name, f"{path}: not a directory", hint)
    if os.access(probe, os.W_OK | os.X_OK):
        what = "writable" if probe == path else f"will be created (under {probe})"
        return CheckItem("ok", name, f"{path}: {what}")
    return CheckItem("fail", name, f"{path}: not writable by uid {os.geteuid()}", hint)


def _state_file(state_dir: Path) -> CheckItem:
    path = Store.in_state_dir_path(state_dir)
    problem = inspect_state_file(path)
    if problem:
        return CheckItem(
            "fail",
            "state database",
            problem,
            "stop pbx-bridge; move it aside, repair or restore it (docs/tickets.md, Recovery)",
        )
    return CheckItem("ok", "state database", f"{path}: {'usable' if path.exists() else 'will be created'}")


def _state_files(state_dir: Path) -> list[CheckItem]:
    # The directory being writable is not enough: a file left by a run as another user is not.
    return [
        CheckItem("fail", "state file", problem, "chown -R the service user (scripts/install does)")
        for problem in state_problems(state_dir)
        if problem.startswith(f"{state_dir}/")
    ]


def _readable_dir(
    name: str, path: Path, hint: str, *, missing_level: Level = "fail", missing_hint: str = ""
) -> CheckItem:
    if not path.is_dir():
        # A missing directory is not a permission problem: a group would not help.
        return CheckItem(missing_level, name, f"{path}: does not exist", missing_hint or hint)
    if os.access(path, os.R_OK | os.X_OK):
        return CheckItem("ok", name, f"{path}: readable")
    return CheckItem(missing_level, name, f"{path}: not readable by uid {os.geteuid()}", hint)


async def _itflow(settings: Settings) -> list[CheckItem]:
    items: list[CheckItem] = []
    async with Itflow.from_settings(settings.itflow) as itflow:
        try:
            caps = await itflow.capabilities()
        except ItflowError as exc:
            return [
                CheckItem(
                    "fail",
                    "itflow",
                    f"{settings.itflow.url}: {exc}",
                    "check itflow.url, the network, and that ITFlow is up",
                )
            ]
        if not (caps.v1_key_ok or caps.legacy_key_ok):
            reachable = bool(caps.endpoints) or caps.legacy_present
            if not reachable:
                return [
                    CheckItem(
                        "fail",
                        "itflow",
                        f"{settings.itflow.url}: no ITFlow API answered",
                        "check itflow.url (the base URL a browser uses) and that ITFlow is up",
                    )
                ]
            return [
                CheckItem(
                    "fail",
                    "itflow key",
                    "ITFlow answered but refused the API key",
                    "create a key in ITFlow (Admin > API) and set itflow.api_key(_file)",
                )
            ]
        items.append(CheckItem("ok", "itflow", f"{settings.itflow.url}: reachable, key accepted"))
        for line in caps.report():
            level: Level = "warn" if "not available" in line else "info" if line.startswith("note") else "ok"
            name, _, detail = line.partition(": ")
            items.append(
                CheckItem(
                    level,
                    f"itflow {name}",
                    detail,
                    "upgrade ITFlow or use a key with more rights" if level == "warn" else "",
                )
            )
        try:
            perms = await probe_permissions(itflow.v1 if caps.v1_key_ok else None, caps)
        except ItflowError as exc:
            perms = []
            items.append(CheckItem("warn", "itflow permissions", f"could not probe: {exc}"))
        for p in perms:
            hint = ""
            if p.status in ("warn", "fail"):
                # No such API in this era is not a missing role: only an upgrade helps.
                hint = (
                    "upgrade ITFlow (or use a key of a newer install)"
                    if "no v1" in p.detail
                    else "give the key's user a role with this permission"
                )
            items.append(CheckItem(p.status, f"permission {p.feature}", p.detail, hint))
        for level, name, detail, hint in await journal_checks(
            settings, caps, itflow.v1 if caps.v1_key_ok else None
        ):
            items.append(CheckItem(level, name, detail, hint))
        if settings.ami is not None and caps.tickets is None:
            items.append(
                CheckItem(
                    "warn",
                    "tickets",
                    "unavailable: this ITFlow has no v1 tickets API "
                    "for this key (missed calls are tracked, not ticketed)",
                    "upgrade ITFlow or use a v1 key",
                )
            )
    return items


async def _ami(settings: Settings) -> list[CheckItem]:
    ami = settings.ami
    if ami is None:
        return [
            CheckItem(
                "info",
                "ami",
                "not configured: no call tracking, no tickets",
                "add an ami section (docs/freepbx.md) to ticket missed calls",
            )
        ]
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(ami.host, ami.port), 5)
    except (OSError, TimeoutError) as exc:
        return [
            CheckItem(
                "fail",
                "ami",
                f"{ami.host}:{ami.port}: cannot connect ({exc})",
                "is Asterisk running and manager.conf enabled on that address?",
            )
        ]
    try:
        banner = await asyncio.wait_for(reader.readline(), 5)
        writer.write(
            f"Action: Login\r\nActionID: check\r\nUsername: {ami.username}\r\nSecret: {ami.secret}"
            "\r\nEvents: on\r\n\r\n".encode()
        )
        await writer.drain()
        seen = b""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while b"Response:" not in seen and loop.time() < deadline:
            chunk = await asyncio.wait_for(reader.read(4096), max(0.1, deadline - loop.time()))
            if not chunk:
                break
            seen += chunk
        if b"Response: Success" not in seen:
            return [
                CheckItem(
                    "fail",
                    "ami",
                    f"{ami.host}:{ami.port}: login refused for {ami.username!r}",
                    "check ami.username/ami.secret against manager_custom.conf; then 'manager reload'",
                )
            ]
        writer.write(b"Action: CoreShowChannels\r\nActionID: check2\r\n\r\n")
        await writer.drain()
        end = loop.time() + 5
        while loop.time() < end and b"ActionID: check2" not in seen:
            chunk = await asyncio.wait_for(reader.read(4096), max(0.1, end - loop.time()))
            if not chunk:
                break
            seen += chunk
        tail = seen.split(b"ActionID: check2", 1)[0][-200:] + seen.split(b"ActionID: check2", 1)[-1][:200]
        version = banner.decode(errors="replace").strip()
        if b"Permission denied" in tail:
            return [
                CheckItem(
                    "fail",
                    "ami",
                    "logged in, but CoreShowChannels is denied (needed to resync calls after a reconnect)",
                    "give the AMI user read=system,call,cdr,agent,"
                    "dialplan,user and write=call,originate,reporting (docs/freepbx.md)",
                )
            ]
        items = [CheckItem("ok", "ami", f"{ami.host}:{ami.port}: logged in as {ami.username} ({version})")]
        items += _ami_rights(await _list_commands(reader, writer), settings)
        return items
    except (OSError, TimeoutError) as exc:
        return [
            CheckItem(
                "fail",
                "ami",
                f"{ami.host}:{ami.port}: no answer ({exc!r})",
                "is this an Asterisk manager port?",
            )
        ]
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _list_commands(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> set[str] | None:
    """The actions this AMI user may run (``ListCommands`` names only those its write classes allow),
    or None when the answer does not come."""
    writer.write(b"Action: ListCommands\r\nActionID: check3\r\n\r\n")
    await writer.drain()
    loop = asyncio.get_running_loop()
    seen = b""
    end = loop.time() + 5
    while loop.time() < end and b"\r\n\r\n" not in seen.partition(b"ActionID: check3")[2]:
        chunk = await asyncio.wait_for(reader.read(65536), max(0.1, end - loop.time()))
        if not chunk:
            break
        seen += chunk
    head, found, rest = seen.partition(b"ActionID: check3")
    if not found:
        return None
    message = head.rsplit(b"\r\n\r\n", 1)[-1] + rest.split(b"\r\n\r\n", 1)[0]
    names = set()
    for line in message.decode(errors="replace").splitlines():
        key, sep, _ = line.partition(":")
        if sep and key.strip():
            names.add(key.strip().lower())
    return names


def _ami_rights(actions: set[str] | None, settings: Settings) -> list[CheckItem]:
    """Originate with Command (or System) lets an AMI user run a shell (docs/screen.md, "Security")."""
    if actions is None:
        return []
    out = []
    if "command" in actions:
        out.append(
            CheckItem(
                "warn",
                "ami",
                "the AMI user may run Command (CLI commands, with 'originate' a shell on the PBX)",
                "use write = call,originate,reporting (docs/freepbx.md); never system or command",
            )
        )
    if settings.screen.enabled and settings.screen.dial.enabled and "originate" not in actions:
        out.append(
            CheckItem(
                "warn",
                "ami",
                "click-to-dial is on but the AMI user may not Originate",
                "add originate to the AMI user's write classes: write = call,originate,reporting",
            )
        )
    return out


async def _port(name: str, enabled: bool, host: str, port: int) -> CheckItem:
    if not enabled:
        return CheckItem("info", name, "disabled in the config")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
    except (OSError, TimeoutError):
        pass
    else:
        writer.close()
        return CheckItem("ok", name, f"{host}:{port}: something listens (the running daemon?)")
    try:
        server = await asyncio.start_server(lambda r, w: None, host, port)
    except OSError as exc:
        return CheckItem(
            "fail", name, f"{host}:{port}: cannot listen ({exc.strerror})", f"change {name}.host/{name}.port"
        )
    server.close()
    await server.wait_closed()
    return CheckItem("info", name, f"{host}:{port}: free (the daemon is not running)")
