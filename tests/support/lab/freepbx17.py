"""The lab's "freepbx17" dialplan: the real FreePBX 17 generated configuration, installed at test time.

FreePBX's files (GPL) are not in this repository: they are read from the folder named by
``PBX_BRIDGE_FREEPBX17`` (``snapshot/etc/asterisk``, ``snapshot/var-lib-asterisk/astdb.sqlite3``,
``agi-bin/``, ``traces/``). What the lab changes, and only that (each listed in lab/README.md):

- binds and peers moved to the lab's checked loopback ports (SIP, AMI, RTP range, FastAGI 4574, the
  cidlookup HTTP door 8734, the trunk's 127.0.0.1:5090), FreePBX's built-in HTTP server off, astetcdir;
- the phones' ``qualify_frequency`` 0 and no ``mailboxes`` (MWI): a sipp phone only listens during a call,
  so an OPTIONS ping between calls would mark it unreachable (FreePBX's ring group would then skip it), and
  an unsolicited MWI NOTIFY (sent at registration and whenever a message is left, retransmitted for 32 s)
  would be taken by the next call's phone for its call. Voicemail itself (app_voicemail, its AMI
  MessageWaiting events) is unchanged;
- ``lab/etc/freepbx17-overlay.conf``: the settings the snapshot lacks, as FreePBX generates them.

Stdlib only, like tests/support/lab/.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.lab.layout import LabPorts

ENV = "PBX_BRIDGE_FREEPBX17"
REPO = Path(__file__).resolve().parents[3]
OVERLAY = REPO / "lab/etc/freepbx17-overlay.conf"
AGI_DIR_IN_CHROOT = "var/lib/asterisk/agi-bin"  # FreePBX's astagidir
AMI_USER = ("pbxbridge", "bridgesecret")  # the snapshot's manager_custom.conf (as docs/freepbx.md says)
OBSERVER = ("pbxbridge-lab", "pbxbridge-lab-secret")  # the tests' read=all user (overlay block 6)
PHONES = ("201", "202")  # the snapshot's PJSIP extensions, both with voicemail
# the FreePBX AGI files the ring groups need (dialparties.agi + the phpagi library it includes)
AGI_FILES = ("dialparties.agi", "phpagi.php", "phpagi-asmanager.php", "phpagi.conf")


def folder() -> Path | None:
    raw = os.environ.get(ENV)
    return Path(raw).resolve() if raw else None


def unavailable_reason(root: Path | None = None) -> str | None:
    """Why the freepbx17 dialplan cannot run here (None: it can)."""
    base = folder()
    if base is None:
        return (
            f"{ENV} is not set: the real FreePBX 17 snapshot (generated /etc/asterisk, AstDB, "
            "dialparties.agi) is installed from that folder at test time"
        )
    for rel in (
        "snapshot/etc/asterisk/extensions_additional.conf",
        "snapshot/var-lib-asterisk/astdb.sqlite3",
        "agi-bin/dialparties.agi",
    ):
        if not (base / rel).is_file():
            return f"{ENV}={base} has no {rel}"
    if root is not None and not any((root / "usr/bin").glob("php[0-9]*")):
        return f"the lab chroot {root} has no PHP (FreePBX's ring groups need php-cli): run lab/setup again"
    return None


def traces() -> list[Path]:
    base = folder()
    return sorted((base / "traces").glob("*.ami.txt")) if base else []


# ------------------------------------------------------------------------------------ rewriting


def _sub(
    text: str, pattern: str, repl: str | Callable[[re.Match[str]], str], name: str, count: int = 0
) -> str:
    new, n = re.subn(pattern, repl, text, count=count, flags=re.M)
    if n == 0:
        # the snapshot changed shape: say so instead of running with FreePBX's own ports
        raise ValueError(f"FreePBX snapshot {name}: expected /{pattern}/ to rewrite, not found")
    return new


def rewrites(ports: LabPorts, moddir: str, etc_in_chroot: str) -> dict[str, list[tuple[str, str]]]:
    """file -> [(regex, replacement)] applied to the snapshot's files (each must match)."""
    callers = ",".join(f"127.0.0.1:{ports.caller + 2 * slot}" for slot in range(8))
    return {
        "asterisk.conf": [
            (r"^astetcdir => /etc/asterisk$", f"astetcdir => {etc_in_chroot}"),
            (r"^astmoddir => .*$", f"astmoddir => {moddir}"),
        ],
        "extensions_additional.conf": [
            (r"^ASTETCDIR = /etc/asterisk$", f"ASTETCDIR = {etc_in_chroot}"),
            (r"http://127\.0\.0\.1:8734/", f"http://127.0.0.1:{ports.http}/"),
        ],
        "extensions_custom.conf": [(r"agi://127\.0\.0\.1:4574/", f"agi://127.0.0.1:{ports.fastagi}/")],
        "pjsip.transports.conf": [(r"^bind=0\.0\.0\.0:5060$", f"bind=127.0.0.1:{ports.sip}")],
        # the trunk: calls come from the lab's caller slots, outbound calls go to the "pstn" sipp phone
        "pjsip.identify.conf": [(r"^match=127\.0\.0\.1:5090$", f"match={callers}")],
        # the phones: no OPTIONS pings and no unsolicited MWI NOTIFYs (see the module docstring)
        "pjsip.aor.conf": [
            (r"^contact=sip:127\.0\.0\.1:5090$", f"contact=sip:127.0.0.1:{ports.pstn}"),
            (r"^qualify_frequency=60$", "qualify_frequency=0"),
            (r"^mailboxes=20\d@default$", ";mailboxes: no MWI NOTIFY in the lab"),
        ],
        "pjsip.endpoint.conf": [(r"^mailboxes=20\d@default$", ";mailboxes: no MWI NOTIFY in the lab")],
        "manager.conf": [(r"^port = 5038$", f"port = {ports.ami}")],
        "rtp_additional.conf": [
            (r"^rtpstart=\d+$", f"rtpstart={ports.rtp_start}"),
            (r"^rtpend=\d+$", f"rtpend={ports.rtp_end}"),
        ],
    }


def apply_overlay(etc: Path, overlay: str, values: Mapping[str, str]) -> None:
    """Apply ``lab/etc/freepbx17-overlay.conf`` (``;@@ replace FILE CONTEXT`` / ``;@@ append FILE``)."""
    for key, val in values.items():
        overlay = overlay.replace(f"@{key}@", val)
    if left := re.findall(r"@[A-Z0-9_]+@", overlay):
        raise ValueError(f"{OVERLAY}: unknown placeholders {sorted(set(left))}")
    chunks = re.split(r"^;@@ (.*)$", overlay, flags=re.M)
    for directive, body in zip(chunks[1::2], chunks[2::2], strict=True):
        words = directive.split()
        target = etc / words[1]
        text = target.read_text()
        if words[0] == "replace" and len(words) == 3:
            ctx = re.escape(words[2])
            pattern = rf"^\[{ctx}\]\n.*?^;--== end of \[{ctx}\] ==--;\n"
            block = body.strip("\n") + "\n"
            new, n = re.subn(pattern, lambda _m, b=block: b, text, count=1, flags=re.M | re.S)
            if n != 1:
                raise ValueError(f"{OVERLAY}: no [{words[2]}] block in {words[1]}")
            text = new
        elif words[0] == "append" and len(words) == 2:
            text = text.rstrip("\n") + "\n\n" + body.strip("\n") + "\n"
        else:
            raise ValueError(f"{OVERLAY}: bad directive ;@@ {directive}")
        target.write_text(text)


def install(root: Path, etc: Path, ports: LabPorts, moddir: str) -> None:
    """Install the snapshot's /etc/asterisk (rewritten + overlay) as ``etc``, its AGI files and AstDB."""
    base = folder()
    if base is None:
        raise ValueError(unavailable_reason())
    shutil.copytree(base / "snapshot/etc/asterisk", etc, symlinks=False, dirs_exist_ok=True)
    for p in etc.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)  # the shared folder is read-only; these are ours to rewrite
    etc_in_chroot = "/" + str(etc.relative_to(root))
    for name, subs in rewrites(ports, moddir, etc_in_chroot).items():
        path = etc / name
        text = path.read_text()
        for pattern, repl in subs:
            text = _sub(text, pattern, lambda _m, r=repl: r, name)
        path.write_text(text)
    http = etc / "http_additional.conf"  # FreePBX's own HTTP server (8088): not used by the lab
    http.write_text(re.sub(r"^enabled=yes$", "enabled=no", http.read_text(), flags=re.M))
    apply_overlay(etc, OVERLAY.read_text(), {"HTTP_PORT": str(ports.http)})
    agi = root / AGI_DIR_IN_CHROOT
    agi.mkdir(parents=True, exist_ok=True)
    for name in AGI_FILES:
        shutil.copyfile(base / "agi-bin" / name, agi / name)
        (agi / name).chmod(0o755 if name.endswith(".agi") else 0o644)
    # FreePBX's layout: sounds and MOH under /var/lib/asterisk (Debian keeps them in /usr/share/asterisk)
    for sub in ("sounds", "moh"):
        link = root / "var/lib/asterisk" / sub
        if not link.is_symlink() and not link.exists():
            link.symlink_to(f"/usr/share/asterisk/{sub}")
    subprocess.run(
        ["chroot", str(root), "chown", "-R", "asterisk:asterisk", "/" + AGI_DIR_IN_CHROOT],
        check=True,
        capture_output=True,
    )


# runtime state, not FreePBX's configuration: the registrations of the phones (the snapshot holds those of
# the FreePBX lab's own phones; the lab's phones register at every start)
RUNTIME_FAMILIES = ("/registrar/",)


def install_astdb(root: Path) -> None:
    """The AstDB FreePBX wrote (AMPUSER/, DEVICE/, RINGGROUP/...), before Asterisk starts."""
    base = folder()
    assert base is not None
    target = root / "var/lib/asterisk/astdb.sqlite3"
    shutil.copyfile(base / "snapshot/var-lib-asterisk/astdb.sqlite3", target)
    con = sqlite3.connect(target)
    try:
        with con:
            for family in RUNTIME_FAMILIES:
                con.execute("DELETE FROM astdb WHERE key LIKE ?", (family + "%",))
    finally:
        con.close()


def snapshot_astdb() -> dict[str, str]:
    """The snapshot's AstDB without the runtime families."""
    base = folder()
    assert base is not None
    con = sqlite3.connect(f"file:{base / 'snapshot/var-lib-asterisk/astdb.sqlite3'}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT key, value FROM astdb").fetchall()
    finally:
        con.close()
    return {k: v for k, v in rows if not k.startswith(RUNTIME_FAMILIES)}


_DB_LINE = re.compile(r"^(/\S+?)\s*: (.*?)\s*$")


def parse_database_show(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if m := _DB_LINE.match(line):
            out[m.group(1)] = m.group(2)
    return out


def restore_astdb(cli: Callable[[str], str], snapshot: Mapping[str, str]) -> list[str]:
    """Put the running Asterisk's AstDB back to the snapshot (keys tests or cidlookup added are deleted,
    changed ones reset); the phones' registrations (``/registrar/``) are runtime state and stay.
    Returns the keys it changed."""
    current = parse_database_show(cli("database show"))
    changed = []
    for key in current.keys() - snapshot.keys():
        if key.startswith(RUNTIME_FAMILIES):
            continue
        family, _, k = key[1:].rpartition("/")
        cli(f'database del "{family}" "{k}"')
        changed.append(key)
    for key, value in snapshot.items():
        if current.get(key) != value.strip():
            family, _, k = key[1:].rpartition("/")
            cli(f'database put "{family}" "{k}" "{value}"')
            changed.append(key)
    return changed


def credentials(etc: Path) -> dict[str, tuple[str, str]]:
    """ext -> (username, password) from the generated pjsip.auth.conf."""
    out: dict[str, tuple[str, str]] = {}
    for section in re.split(r"^\[", (etc / "pjsip.auth.conf").read_text(), flags=re.M)[1:]:
        name = section.split("]", 1)[0]
        user = re.search(r"^username=(.*)$", section, re.M)
        pw = re.search(r"^password=(.*)$", section, re.M)
        if name.endswith("-auth") and user and pw:
            out[name[: -len("-auth")]] = (user.group(1), pw.group(1))
    return out


def register_phones(etc: Path, ports: LabPorts, workdir: Path, sipp_scenario: Path) -> None:
    """Each phone REGISTERs with its generated credentials from its own port (its contact), then exits."""
    creds = credentials(etc)
    for ext in PHONES:
        user, password = creds[ext]
        log = workdir / f"register-{ext}.log"
        out = subprocess.run(
            [
                "sipp",
                "-sf",
                str(sipp_scenario),
                "-i",
                "127.0.0.1",
                "-p",
                str(ports.callee(ext)),
                "-s",
                user,
                "-au",
                user,
                "-ap",
                password,
                "-key",
                "expires",
                "7200",
                "-m",
                "1",
                "-nostdin",
                "-timeout",
                "10s",
                "-timeout_error",
                "-trace_msg",
                "-message_file",
                str(log),
                f"127.0.0.1:{ports.sip}",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=20,
            check=False,
        )
        if out.returncode != 0:
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise RuntimeError(f"phone {ext} could not register (sipp rc {out.returncode}):\n{tail}")
