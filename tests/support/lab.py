"""The Asterisk lab harness: start/stop a real Asterisk in the lab chroot, drive sipp calls, watch AMI.

Stdlib only (it also runs as ``python3 -m tests.support.lab up|down|status``, see lab/up, lab/down).
The chroot is built by ``lab/setup``; nothing here builds or downloads anything.

Pieces:
- ``LabPorts``: every port the lab uses (env ``PBX_BRIDGE_LAB_*`` overrides, see ``LabPorts.from_env``).
- ``LabController``: installs ``lab/etc`` with placeholders filled in (or, for "freepbx17", the real
  FreePBX 17 snapshot: tests/support/lab_freepbx17.py), starts Asterisk after checking its ports are free,
  waits for AMI login + FullyBooted, stops it by PID
  (after checking the process is ``asterisk`` with the chroot as its root).
- ``Lab``: what a test gets (``.ami``, ``.fastagi_port``, ``.root``, ``.spool``, ``.install_agi``, ``.call``,
  ``.start_call``, ``.ami_session``, ``.cli``, ``.route``).
- ``AmiSession`` (tests/support/lab_ami.py, re-exported): a small asyncio AMI client that records every
  event (for assertions, not production).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Literal

from tests.support import lab_freepbx17

# the AMI side lives in lab_ami; re-exported here, where tests import them from
from tests.support.lab_ami import AmiAccount as AmiAccount
from tests.support.lab_ami import AmiMessage as AmiMessage
from tests.support.lab_ami import AmiSession as AmiSession
from tests.support.lab_ami import LabError as LabError
from tests.support.lab_ami import ami_ready as ami_ready
from tests.support.lab_ami import parse_ami_block as parse_ami_block

REPO = Path(__file__).resolve().parents[2]
LAB_DIR = REPO / "lab"
DEFAULT_ROOT = Path("/var/lib/pbx-bridge-lab/chroot")
MARKER = ".pbx-bridge-lab"
AGI_USER = "pbxagi"
ETC_IN_CHROOT = "/etc/asterisk-lab"
PIDFILE_IN_CHROOT = "run/asterisk-lab.pid"
SIPP_PCAPS = Path("/usr/share/sip-tester")

Dialplan = Literal["plain", "freepbx17"]
DIALPLANS: tuple[Dialplan, ...] = ("plain", "freepbx17")

# Logical destinations -> what a sipp caller dials, per dialplan. Tests parametrized over both dialplans
# use these names instead of numbers (freepbx17: the snapshot's inbound routes + the lab overlay)
ROUTES: dict[str, dict[Dialplan, str]] = {
    # FastAGI cid, then extension 201 (freepbx17: Custom Destination pbxbridge-cid -> 201, 15 s, vm 201)
    "ext201": {"plain": "201", "freepbx17": "5551004"},
    # the same for 202 (plain: rings 5 s, then voicemail 202; freepbx17: 15 s)
    "ext202": {"plain": "202", "freepbx17": "5551002"},
    # ring group 600 = 201 + 202 (plain: 8 s; freepbx17: any DID -> CID lookup source -> RG 600, 15 s), vm 201
    "ringgroup": {"plain": "600", "freepbx17": "5551000"},
    # queue (plain: "support", member 203; freepbx17: 400, ringall Local/201 + Local/202 @from-queue)
    "queue": {"plain": "400", "freepbx17": "5550400"},
    "ivr": {"plain": "300", "freepbx17": "5551003"},  # IVR: press 3 -> FastAGI balance
    # plain only (the FreePBX 17 snapshot has no such extension or queue)
    "ext205": {"plain": "205"},  # extension 205: no contact -> CHANUNAVAIL -> vm 205
    "queue_linear": {"plain": "401"},  # 203 rings 3 s, then 204
    "local": {"plain": "700"},  # through Local/ channels to 201
    # freepbx17 only
    "cid_customdest": {"freepbx17": "5550100"},  # Custom Destination FastAGI cid, then ring group 600
    "balance_direct": {"freepbx17": "5550300"},  # inbound route straight to the balance Custom Destination
}
# The phone that answers a queue call, per dialplan
QUEUE_MEMBER: dict[Dialplan, str] = {"plain": "203", "freepbx17": "201"}


@dataclasses.dataclass(frozen=True)
class LabPorts:
    sip: int = 5060
    ami: int = 5038
    fastagi: int = 4574  # pbx-bridge's fastagi.port default: the dialplan calls agi://127.0.0.1:<this>
    rtp_start: int = 10000
    rtp_end: int = 10199
    callee_base: int = 5070  # 201 -> base, 202 -> base+1, 203 -> base+2, 204 -> base+3
    pstn: int = 5074  # the provider that outbound calls reach
    caller: int = 5080  # trunk caller on 127.0.0.1; internal caller (ext 201) on 127.0.0.2
    media_base: int = 16000
    http: int = 8734  # the HTTP caller-ID door the freepbx17 cidlookup source calls (pbx-bridge's default)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LabPorts:
        env = os.environ if env is None else env
        kw: dict[str, int] = {}
        for f in dataclasses.fields(cls):
            key = f"PBX_BRIDGE_LAB_{f.name.upper()}"
            raw = env.get(f"{key}_PORT") or env.get(key)
            if raw:
                kw[f.name] = int(raw)
        return cls(**kw)

    def callee(self, ext: str) -> int:
        if ext == "pstn":
            return self.pstn
        n = int(ext) - 201
        if not 0 <= n <= 3:
            raise ValueError(f"no sipp phone for extension {ext} (201..204 and 'pstn' have one)")
        return self.callee_base + n

    def placeholders(self) -> dict[str, str]:
        p = {
            "SIP_PORT": self.sip,
            "AMI_PORT": self.ami,
            "FASTAGI_PORT": self.fastagi,
            "RTP_START": self.rtp_start,
            "RTP_END": self.rtp_end,
            "PSTN_PORT": self.pstn,
            "HTTP_PORT": self.http,
        }
        for ext in ("201", "202", "203", "204"):
            p[f"EXT{ext}_PORT"] = self.callee(ext)
        return {k: str(v) for k, v in p.items()}


def default_root() -> Path:
    return Path(os.environ.get("PBX_BRIDGE_LAB_ROOT", str(DEFAULT_ROOT)))


def unavailable_reason(root: Path | None = None) -> str | None:
    """Why the lab cannot run here, or None when it can."""
    root = root or default_root()
    if os.geteuid() != 0:
        return "the Asterisk lab needs root (chroot, Asterisk runs as root inside it)"
    if not (root / MARKER).is_file() or not (root / "usr/sbin/asterisk").exists():
        return f"no lab chroot at {root}: run lab/setup first (builds it, or restores the cache)"
    if shutil.which("sipp") is None:
        return "sipp not found: run lab/setup (apt-get install sip-tester)"
    return None


def _port_free(port: int, kind: int) -> bool:
    s = socket.socket(socket.AF_INET, kind)
    if kind == socket.SOCK_STREAM:
        # like Asterisk itself: connections in TIME_WAIT (old AMI sessions) do not make the port busy
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# --------------------------------------------------------------------------------------- controller


class LabController:
    """Owns the one lab Asterisk: config install, start, readiness, stop by PID."""

    def __init__(
        self,
        root: Path | None = None,
        ports: LabPorts | None = None,
        ami_user: str = "pbxbridge",
        ami_secret: str = "pbxbridge-lab-secret",
    ) -> None:
        self.root = (root or default_root()).resolve()
        self.ports = ports or LabPorts.from_env()
        self._plain_ami = AmiAccount("127.0.0.1", self.ports.ami, ami_user, ami_secret)
        self.ami = self._plain_ami  # the running dialplan's account (freepbx17: the snapshot's own user)
        self._fpbx_astdb: dict[str, str] | None = None
        self.dialplan: Dialplan | None = None
        self._started_once = False  # the first ensure() of a session always starts a fresh Asterisk
        self.sipp_pids: set[int] = set()  # every sipp the calls started; see reap_sipp()
        self._lock_fd: int | None = None
        self._lock_sock: socket.socket | None = None

    # ---- one test session at a time
    def acquire(self, timeout: float = 240.0) -> None:
        """Take the lab lock (one pytest session drives the lab at a time; others wait, then fail).

        Two locks: an abstract unix socket named after the SIP port (shared by everything in this network
        namespace, even other checkouts or containers with their own /run: the ports are what collide),
        and a flock file that records the holder's PID for the error message.
        """
        import fcntl

        deadline = time.monotonic() + timeout
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        name = f"\0pbx-bridge-lab-sip-{self.ports.sip}"
        while True:
            try:
                sock.bind(name)
                break
            except OSError:
                if time.monotonic() > deadline:
                    sock.close()
                    raise LabError(
                        f"another test session drives the lab on SIP port {self.ports.sip} for "
                        f"more than {timeout:.0f}s (set PBX_BRIDGE_LAB_*_PORT to run a second "
                        "lab, see tests/support/LAB.md)"
                    ) from None
                time.sleep(0.5)
        self._lock_sock = sock
        path = Path(os.environ.get("PBX_BRIDGE_LAB_LOCK", "/run/lock/pbx-bridge-lab.lock"))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
                    os.close(fd)
                    self.release()
                    raise LabError(
                        f"another test session (PID {holder or '?'}) holds {path} for "
                        f"more than {timeout:.0f}s"
                    ) from None
                time.sleep(0.5)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing drops the flock
            self._lock_fd = None
        if self._lock_sock is not None:
            self._lock_sock.close()  # frees the abstract name
            self._lock_sock = None

    # ---- paths
    @property
    def etc(self) -> Path:
        return self.root / ETC_IN_CHROOT.lstrip("/")

    @property
    def pidfile(self) -> Path:
        return self.root / PIDFILE_IN_CHROOT

    @property
    def spool(self) -> Path:
        return self.root / "var/spool/asterisk/voicemail/default"

    @property
    def logdir(self) -> Path:
        return self.root / "var/log/asterisk"

    def _check_root(self) -> None:
        if not (self.root / MARKER).is_file():
            raise LabError(f"{self.root} has no {MARKER} marker: not a lab chroot, refusing to touch it")

    # ---- process
    def pid(self) -> int | None:
        """PID of the running lab Asterisk, only if it really is ours (comm + root checked)."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            proc_root = os.readlink(f"/proc/{pid}/root")
        except OSError:
            return None
        if comm != "asterisk" or Path(proc_root).resolve() != self.root:
            return None
        return pid

    def running_dialplan(self) -> str | None:
        if self.pid() is None:
            return None
        try:
            return (self.etc / ".dialplan").read_text().strip()
        except OSError:
            return None

    def ami_for(self, dialplan: Dialplan) -> AmiAccount:
        if dialplan == "freepbx17":
            return AmiAccount("127.0.0.1", self.ports.ami, *lab_freepbx17.OBSERVER)
        return self._plain_ami

    @property
    def agi_dir(self) -> str:
        """astagidir of the running dialplan, relative to the chroot."""
        if self.dialplan == "freepbx17":
            return lab_freepbx17.AGI_DIR_IN_CHROOT
        return "usr/share/asterisk/agi-bin"

    def ensure(self, dialplan: Dialplan) -> None:
        """Asterisk running with ``dialplan`` (restart if another dialplan or a dead process)."""
        if self._started_once and self.running_dialplan() == dialplan and ami_ready(self.ami_for(dialplan)):
            self.dialplan = dialplan
            self.ami = self.ami_for(dialplan)
            return
        self.stop()
        self.start(dialplan)
        self._started_once = True

    def start(self, dialplan: Dialplan, timeout: float = 60.0) -> None:
        self._check_root()
        if self.pid() is not None:
            raise LabError("the lab Asterisk is already running; stop it first")
        deadline = time.monotonic() + 5  # a just-stopped Asterisk may need a moment to let go of them
        while True:
            busy = [f"{p}/tcp" for p in (self.ports.ami,) if not _port_free(p, socket.SOCK_STREAM)]
            busy += [f"{p}/udp" for p in (self.ports.sip,) if not _port_free(p, socket.SOCK_DGRAM)]
            if not busy or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if busy:
            raise LabError(
                f"lab ports already in use by something else: {', '.join(busy)} "
                "(set PBX_BRIDGE_LAB_SIP_PORT / PBX_BRIDGE_LAB_AMI_PORT to move the lab)"
            )
        self._install(dialplan)
        self._reset_state()
        if dialplan == "freepbx17":
            lab_freepbx17.install_astdb(self.root)
        self.ami = self.ami_for(dialplan)
        console = (self.logdir / "console.log").open("wb")
        # setsid: its own session, so a Ctrl-C on pytest does not reach it; stopped by PID in stop().
        proc = subprocess.Popen(
            [
                "chroot",
                str(self.root),
                "/usr/sbin/asterisk",
                "-f",
                "-n",
                "-C",
                f"{ETC_IN_CHROOT}/asterisk.conf",
            ],
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        console.close()
        self.pidfile.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + timeout
        while not ami_ready(self.ami, timeout=1.0):
            if proc.poll() is not None:
                tail = (self.logdir / "console.log").read_text(errors="replace")[-3000:]
                raise LabError(f"Asterisk exited with {proc.returncode} during start:\n{tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise LabError(f"Asterisk did not accept an AMI login + FullyBooted within {timeout}s")
            time.sleep(0.1)
        self.dialplan = dialplan
        if dialplan == "freepbx17":
            workdir = Path(tempfile.mkdtemp(prefix="lab-register-"))
            try:
                lab_freepbx17.register_phones(self.etc, self.ports, workdir, LAB_DIR / "sipp/register.xml")
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                self.stop()
                raise LabError(str(exc)) from exc
            shutil.rmtree(workdir, ignore_errors=True)

    def restore_astdb(self) -> list[str]:
        """freepbx17: the AstDB back to the snapshot's (FreePBX's cidlookup cache, test keys...)."""
        if self.dialplan != "freepbx17":
            return []
        if self._fpbx_astdb is None:
            self._fpbx_astdb = lab_freepbx17.snapshot_astdb()
        return lab_freepbx17.restore_astdb(self.cli, self._fpbx_astdb)

    def stop(self, timeout: float = 10.0) -> None:
        pid = self.pid()
        if pid is None:
            with contextlib.suppress(OSError):
                self.pidfile.unlink()
            return
        os.kill(pid, signal.SIGTERM)
        if not self._wait_gone(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            self._wait_gone(pid, 5)
        with contextlib.suppress(OSError):
            self.pidfile.unlink()
        self.dialplan = None

    def reap_sipp(self) -> list[int]:
        killed = []
        for pid in sorted(self.sipp_pids):
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/comm").read_text().strip() == "sipp":
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
        for pid in killed:
            self._wait_gone(pid, 2)
        self.sipp_pids.clear()
        return killed

    def signal(self, sig: int) -> int:
        """Send ``sig`` to the lab Asterisk (verified PID); returns the PID. For shutdown/crash tests."""
        pid = self.pid()
        if pid is None:
            raise LabError("the lab Asterisk is not running")
        os.kill(pid, sig)
        return pid

    @staticmethod
    def _wait_gone(pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
            except ChildProcessError:
                pass
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                return True
            # a zombie leader may still have live threads holding the sockets: gone = zombie with 0-1 threads
            state = re.search(r"^State:\s+(\S)", status, re.M)
            threads = re.search(r"^Threads:\s+(\d+)", status, re.M)
            if state and state.group(1) == "Z" and (threads is None or int(threads.group(1)) <= 1):
                return True
            time.sleep(0.05)
        return False

    # ---- configuration
    def _install(self, dialplan: Dialplan) -> None:
        mods = sorted(self.root.glob("usr/lib/*/asterisk/modules"))
        if not mods:
            raise LabError(f"no Asterisk module dir under {self.root}/usr/lib")
        values = self.ports.placeholders() | {
            "MODDIR": "/" + str(mods[0].relative_to(self.root)),
            "AMI_USER": self._plain_ami.username,
            "AMI_SECRET": self._plain_ami.secret,
        }
        if self.etc.exists():
            shutil.rmtree(self.etc)
        self.etc.mkdir(parents=True)
        if dialplan == "freepbx17":
            try:
                lab_freepbx17.install(self.root, self.etc, self.ports, values["MODDIR"])
            except (OSError, ValueError, subprocess.CalledProcessError) as exc:
                raise LabError(f"cannot install the FreePBX 17 snapshot: {exc}") from exc
            (self.etc / ".dialplan").write_text(dialplan + "\n")
            for script in (LAB_DIR / "agi-bin").glob("*.py"):
                install_agi(self.root, script, agi_dir=lab_freepbx17.AGI_DIR_IN_CHROOT)
            return
        sources = {p.name: p for p in (LAB_DIR / "etc").glob("*.conf")}
        for name, src in sources.items():
            text = src.read_text()
            for key, val in values.items():
                text = text.replace(f"@{key}@", val)
            if left := re.findall(r"@[A-Z0-9_]+@", text):
                raise LabError(f"{src}: unknown placeholders {sorted(set(left))}")
            (self.etc / name).write_text(text)
        (self.etc / ".dialplan").write_text(dialplan + "\n")
        for script in (LAB_DIR / "agi-bin").glob("*.py"):
            install_agi(self.root, script)

    def _reset_state(self) -> None:
        """Every start is clean: empty mailboxes, logs, AstDB (FreePBX seeds its keys at boot)."""
        for d in (
            "run/asterisk",
            "var/log/asterisk/cdr-csv",
            "var/spool/asterisk/voicemail",
            "var/lib/asterisk",
            "var/cache/asterisk",
            "tmp",
        ):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.spool, ignore_errors=True)
        for p in [*self.root.glob("var/spool/asterisk/tmp/*"), self.root / "var/lib/asterisk/astdb.sqlite3"]:
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    p.unlink()
        for p in self.logdir.rglob("*"):
            if p.is_file():
                p.unlink()

    def cli(self, command: str, timeout: float = 15.0) -> str:
        """``asterisk -rx`` inside the chroot; the output text."""
        out = subprocess.run(
            [
                "chroot",
                str(self.root),
                "/usr/sbin/asterisk",
                "-C",
                f"{ETC_IN_CHROOT}/asterisk.conf",
                "-rx",
                command,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if out.returncode != 0:
            raise LabError(f"asterisk -rx {command!r} failed ({out.returncode}): {out.stderr.strip()}")
        return out.stdout


def install_agi(
    root: Path, src: Path | str, name: str | None = None, agi_dir: str = "usr/share/asterisk/agi-bin"
) -> str:
    """Install a classic AGI script into the chroot; returns the name for ``AGI(name,...)``.

    The script itself goes to /usr/local/lib/pbx-bridge-lab/agi/<name>; agi-bin/<name> is a wrapper that
    runs it as the unprivileged user ``pbxagi`` (Asterisk itself runs as root in the lab), with the
    chroot's own interpreter (its shebang, e.g. ``/usr/bin/env python3`` = the chroot's Python 3.x).
    """
    src = Path(src)
    name = name or src.name
    if "/" in name or name.startswith("."):
        raise ValueError(f"bad AGI script name {name!r}")
    real = root / "usr/local/lib/pbx-bridge-lab/agi" / name
    real.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, real)
    real.chmod(0o755)
    wrapper = root / agi_dir / name
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(
        "#!/bin/sh\n# pbx-bridge lab: run the real script as the unprivileged AGI user\n"
        f"exec /usr/bin/setpriv --reuid={AGI_USER} --regid={AGI_USER} --init-groups "
        f'/usr/local/lib/pbx-bridge-lab/agi/{name} "$@"\n'
    )
    wrapper.chmod(0o755)
    return name


# --------------------------------------------------------------------------------------------- calls

CallerMode = Literal["bye", "cancel", "voicemail", "dtmf", "wait"]
CalleeMode = Literal["answer", "ring", "busy", "refer"]


@dataclasses.dataclass
class SippResult:
    role: str  # "caller" or the callee extension
    returncode: int | None  # None: it was still running and was stopped (e.g. a phone never called)
    log: str  # sipp -trace_msg message log

    def received(self, method: str) -> list[str]:
        """Every received SIP message whose first line starts with ``method`` ("INVITE", "SIP/2.0 180")."""
        out = []
        for block in re.split(r"\n-{20,}[^\n]*\n", self.log):
            m = re.search(r"message received \[\d+\] bytes :\s*\n\s*\n(.*)", block, re.S)
            if m and m.group(1).lstrip().startswith(method):
                out.append(m.group(1).strip())
        return out

    def invite_from_names(self) -> list[str]:
        """The From display name of every INVITE this phone received ("" when none)."""
        names = []
        for msg in self.received("INVITE"):
            hdr = re.search(r"^(?:From|f)\s*:\s*(.*)$", msg, re.M | re.I)
            dn = re.match(r'\s*"((?:[^"\\]|\\.)*)"', hdr.group(1)) if hdr else None
            names.append(dn.group(1).replace('\\"', '"').replace("\\\\", "\\") if dn else "")
        return names


@dataclasses.dataclass
class CallResult:
    caller: SippResult
    callees: dict[str, SippResult]

    @property
    def ok(self) -> bool:
        """The caller's scenario completed (sipp exit 0)."""
        return self.caller.returncode == 0

    def invite_from_name(self, ext: str | None = None) -> str | None:
        """From display name of the first INVITE that phone ``ext`` (default: any phone) received."""
        for e, res in self.callees.items():
            if ext is None or e == ext:
                names = res.invite_from_names()
                if names:
                    return names[0]
        return None

    def describe(self) -> str:
        parts = [f"caller rc={self.caller.returncode}"]
        parts += [f"{e} rc={r.returncode}" for e, r in self.callees.items()]
        return ", ".join(parts)


_DTMF_STEP = """
  <recv request="NOTIFY"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>
  <pause milliseconds="600"/>
"""

_DTMF_DELAY_STEP = """
  <pause milliseconds="{delay}"/>
  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>
  <pause milliseconds="600"/>
"""


_PCAP_DIGIT = {"*": "star", "#": "pound"}


def dtmf_caller_xml(digits: str, trigger: Literal["notify", "delay"], delay_ms: int, hold_ms: int) -> str:
    """A caller scenario that sends ``digits`` as RFC 4733 events, one per trigger, then stays until
    Asterisk hangs up or ``-d`` ms pass (then it hangs up itself).

    trigger "notify": each digit waits for an in-dialog NOTIFY, which the test sends (``CallHandle.press``)
    once AMI shows the IVR listening. "delay": each digit is sent ``delay_ms`` after the previous step.
    """
    if not re.fullmatch(r"[0-9*#]*", digits):
        raise ValueError(f"DTMF digits must be 0-9 * #, not {digits!r}")
    steps = []
    for d in digits:
        pcap = SIPP_PCAPS / f"dtmf_2833_{_PCAP_DIGIT.get(d, d)}.pcap"
        steps.append(
            _DTMF_STEP.format(pcap=pcap)
            if trigger == "notify"
            else _DTMF_DELAY_STEP.format(pcap=pcap, delay=delay_ms)
        )
    template = (LAB_DIR / "sipp/uac-dtmf.xml.in").read_text()
    return template.replace("@DTMF_STEPS@", "".join(steps)).replace("@HOLD_MS@", str(hold_ms))


_CALLER_XML: dict[str, str] = {
    "bye": "uac-call-bye.xml",
    "cancel": "uac-cancel.xml",
    "voicemail": "uac-voicemail.xml",
}
_CALLEE_XML: dict[str, str] = {
    "answer": "uas-answer.xml",
    "ring": "uas-ring-noanswer.xml",
    "busy": "uas-busy.xml",
    "refer": "uas-answer-refer.xml",
}


class CallHandle:
    """A call in progress (sipp caller + phones running; no caller: ``Lab.start_phones``, a call Asterisk
    starts itself). ``await wait()`` gives the CallResult."""

    def __init__(
        self,
        lab: Lab,
        workdir: Path,
        caller: asyncio.subprocess.Process | None,
        callees: dict[str, asyncio.subprocess.Process],
        timeout: float,
    ) -> None:
        self.lab, self.workdir, self.timeout = lab, workdir, timeout
        self._caller, self._callees = caller, callees
        self._result: CallResult | None = None

    async def press(self, ami: AmiSession, channel: str) -> None:
        """Let the caller send its next DTMF digit now (an in-dialog NOTIFY to ``channel``, the caller's
        Asterisk channel, e.g. from ``ami.wait_event("Newexten", Application="WaitExten")``)."""
        resp = await ami.action(
            {"Action": "PJSIPNotify", "Channel": channel, "Variable": "Event=pbx-bridge-lab"}
        )
        if resp.get("Response") != "Success":
            raise LabError(f"PJSIPNotify to {channel} failed: {dict(resp)}")

    async def wait(self) -> CallResult:
        if self._result is not None:
            return self._result
        caller_rc: int | None = None
        if self._caller is not None:
            try:
                caller_rc = await asyncio.wait_for(self._caller.wait(), self.timeout)
            except TimeoutError:
                await _stop_proc(self._caller)
        # after the caller: a few seconds for the phones; without a caller the phones are the call
        deadline = time.monotonic() + (8 if self._caller is not None else self.timeout)
        callees: dict[str, SippResult] = {}
        for ext, proc in self._callees.items():
            try:  # a phone in a finished call ends by itself; one that was never called is stopped
                rc: int | None = await asyncio.wait_for(proc.wait(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                await _stop_proc(proc)
                rc = None
            callees[ext] = SippResult(ext, rc, _read(self.workdir / f"callee-{ext}.log"))
        caller_res = SippResult("caller", caller_rc, _read(self.workdir / "caller.log"))
        self._result = CallResult(caller_res, callees)
        return self._result

    async def abort(self) -> None:
        for proc in [*([self._caller] if self._caller else []), *self._callees.values()]:
            await _stop_proc(proc)


async def _stop_proc(proc: asyncio.subprocess.Process) -> int | None:
    if proc.returncode is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.wait(), 3)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        return await proc.wait()


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


# ----------------------------------------------------------------------------------------------- Lab


class Lab:
    """What a lab test gets: one running Asterisk with ``dialplan`` ("plain" or "freepbx17")."""

    _numbers = itertools.count(1)

    def __init__(self, controller: LabController, dialplan: Dialplan, workdir: Path) -> None:
        self.controller = controller
        self.dialplan: Dialplan = dialplan
        self.workdir = workdir
        self._calls = itertools.count(1)

    # ---- contract attributes
    @property
    def ami(self) -> AmiAccount:
        return self.controller.ami

    @property
    def fastagi_port(self) -> int:
        return self.controller.ports.fastagi

    @property
    def ports(self) -> LabPorts:
        return self.controller.ports

    @property
    def root(self) -> Path:
        return self.controller.root

    @property
    def spool(self) -> Path:
        """Voicemail context ``default`` on the host: ``<spool>/<box>/INBOX/msg0000.{txt,wav}``."""
        return self.controller.spool

    @property
    def logdir(self) -> Path:
        return self.controller.logdir

    def route(self, name: str) -> str:
        """What a trunk caller dials to reach logical destination ``name`` in this dialplan (see ROUTES)."""
        try:
            return ROUTES[name][self.dialplan]
        except KeyError:
            raise LabError(f"route {name!r} does not exist in the {self.dialplan} dialplan") from None

    def new_caller_number(self) -> str:
        """A caller number no other call in this session used (11 digits, NANP-shaped)."""
        return f"1555{os.getpid() % 1000:03d}{next(Lab._numbers):04d}"

    def install_agi(self, src_path: Path | str, name: str | None = None) -> str:
        return install_agi(self.root, src_path, name, agi_dir=self.controller.agi_dir)

    def cli(self, command: str) -> str:
        return self.controller.cli(command)

    def voicemails(self, box: str) -> list[dict[str, str]]:
        """Parsed ``msgNNNN.txt`` of a mailbox's INBOX (keys as in the file: callerid, duration, ...)."""
        out = []
        for txt in sorted((self.spool / box / "INBOX").glob("msg*.txt")):
            fields = {"path": str(txt)}
            for line in txt.read_text(errors="replace").splitlines():
                k, sep, v = line.partition("=")
                if sep:
                    fields[k.strip()] = v.strip()
            out.append(fields)
        return out

    @contextlib.asynccontextmanager
    async def ami_session(self, *, record_raw: bool = False) -> AsyncIterator[AmiSession]:
        """A logged-in, recording AMI session (``Events: on``) for the duration of the block
        (``record_raw``: also keep the raw byte stream in ``.raw``, e.g. to write a trace)."""
        session = AmiSession(self.ami, record_raw=record_raw)
        await session.connect()
        try:
            yield session
        finally:
            await session.close()

    # ---- calls
    async def start_call(
        self,
        exten: str,
        *,
        caller_num: str,
        caller_name: str = "",
        caller: CallerMode = "bye",
        hold_ms: int = 3000,
        callees: Mapping[str, CalleeMode] | None = None,
        internal: bool = False,
        digits: str = "",
        dtmf_trigger: Literal["notify", "delay"] = "notify",
        dtmf_delay_ms: int = 4000,
        refer_to: str = "202",
        refer_after_ms: int = 1000,
        timeout: float = 60.0,  # noqa: ASYNC109
    ) -> CallHandle:
        """Start one sipp call; phones (``callees``: ext -> behaviour) are started first.

        caller: "bye" (hang up ``hold_ms`` after the answer), "cancel" (CANCEL ``hold_ms`` after 180/183),
        "voicemail" (wait out the greeting, speak, hang up after ``hold_ms``), "dtmf" (send ``digits``, see
        ``dtmf_caller_xml``; stays until Asterisk hangs up, or hangs up after ``hold_ms``), "wait" (stay until
        Asterisk hangs up, at most ``hold_ms``). callee: "answer" (after 1 s of ringing), "ring" (never
        answers), "busy" (486), "refer" (answers, then blind-transfers the caller to ``refer_to`` by REFER
        ``refer_after_ms`` after answering, then hangs up). ``internal``: the call comes from extension 201's
        phone (127.0.0.2 / From ``caller_num``; freepbx17: it authenticates with the generated credentials).
        """
        n, workdir, media = self._new_call(exten)
        ports = self.ports
        slot = n % 8
        procs = await self._start_phones(workdir, media, callees or {}, refer_to, refer_after_ms)
        if caller in ("dtmf", "wait"):
            scenario = workdir / "uac-dtmf.xml"
            scenario.write_text(
                dtmf_caller_xml(digits if caller == "dtmf" else "", dtmf_trigger, dtmf_delay_ms, hold_ms)
            )
        else:
            scenario = LAB_DIR / "sipp" / _CALLER_XML[caller]
        ip = "127.0.0.2" if internal else "127.0.0.1"
        extra = [
            f"127.0.0.1:{ports.sip}",
            "-s",
            exten,
            "-key",
            "caller_num",
            caller_num,
            "-key",
            "caller_name",
            caller_name,
            "-d",
            str(hold_ms),
            # FreePBX's Dial options and connected-line updates send extra 180s: tolerate them
            "-default_behaviors",
            "all,-abortunexp",
        ]
        if internal and self.dialplan == "freepbx17":
            scenario, auth = self._freepbx_phone_caller(caller, caller_num)
            extra += auth
        proc = await self._sipp(
            scenario,
            ip,
            ports.caller + 2 * slot + (1 if internal else 0),
            media,
            workdir / "caller.log",
            workdir,
            extra,
            timeout_s=int(timeout),
        )
        return CallHandle(self, workdir, proc, procs, timeout + 5)

    def _new_call(self, label: str) -> tuple[int, Path, int]:
        """Call number, its sipp work dir, its media port base. Concurrent calls each get their own caller
        SIP port and media ports (8 slots); a phone has one fixed port (its contact), so two concurrent
        calls must not ring the same phone."""
        n = next(self._calls)
        workdir = Path(tempfile.mkdtemp(prefix=f"call{n:03d}-{label}-", dir=self.workdir))
        return n, workdir, self.ports.media_base + 400 * (n % 8)

    async def _start_phones(
        self,
        workdir: Path,
        media: int,
        callees: Mapping[str, CalleeMode],
        refer_to: str = "202",
        refer_after_ms: int = 1000,
    ) -> dict[str, asyncio.subprocess.Process]:
        procs: dict[str, asyncio.subprocess.Process] = {}
        for i, (ext, mode) in enumerate(callees.items()):
            port = self.ports.callee(ext)
            for _ in range(20):  # a phone of the previous call may still be letting go of it (2 s at most)
                if _port_free(port, socket.SOCK_DGRAM):
                    break
                await asyncio.sleep(0.1)
            else:
                raise LabError(f"phone {ext}'s port {port}/udp is in use by something else")
            # a phone ignores what its scenario does not expect (e.g. a BYE racing its own)
            extra = ["-s", ext, "-default_behaviors", "all,-abortunexp"]
            if mode == "refer":
                target = f"sip:{refer_to}@127.0.0.1:{self.ports.sip}"
                extra += ["-key", "refer_to", target, "-d", str(refer_after_ms)]
            procs[ext] = await self._sipp(
                LAB_DIR / "sipp" / _CALLEE_XML[mode],
                "127.0.0.1",
                port,
                media + 100 + 20 * i,
                workdir / f"callee-{ext}.log",
                workdir,
                extra,
            )
        if procs:
            await asyncio.sleep(0.3)  # let the phones bind before Asterisk calls them
        return procs

    async def start_phones(
        self,
        callees: Mapping[str, CalleeMode],
        timeout: float = 60.0,  # noqa: ASYNC109
    ) -> CallHandle:
        """Only phones, no sipp caller: for a call Asterisk starts itself (AMI ``Originate``). The handle's
        ``wait()`` waits up to ``timeout`` for the phones to end (``CallResult.caller`` is empty)."""
        _, workdir, media = self._new_call("phones")
        return CallHandle(self, workdir, None, await self._start_phones(workdir, media, callees), timeout)

    def _freepbx_phone_caller(self, caller: CallerMode, ext: str) -> tuple[Path, list[str]]:
        """freepbx17 ``internal``: the caller is extension ``ext``'s phone (From user = the PJSIP endpoint),
        challenged by Asterisk, answering with the credentials FreePBX generated (pjsip.auth.conf)."""
        if caller != "bye":
            raise LabError(f"freepbx17 internal calls support caller='bye' only, not {caller!r}")
        creds = lab_freepbx17.credentials(self.controller.etc)
        if ext not in creds:
            raise LabError(f"no generated PJSIP credentials for extension {ext!r} ({sorted(creds)})")
        user, password = creds[ext]
        return LAB_DIR / "sipp/uac-call-bye-auth.xml", ["-au", user, "-ap", password]

    async def call(self, exten: str, **kw: object) -> CallResult:
        """``start_call`` + ``wait``: one complete call (keywords as in ``start_call``)."""
        handle = await self.start_call(exten, **kw)  # type: ignore[arg-type]
        return await handle.wait()

    def call_sync(self, exten: str, **kw: object) -> CallResult:
        """``call`` for synchronous tests (runs its own event loop)."""
        return asyncio.run(self.call(exten, **kw))

    async def _sipp(
        self,
        scenario: Path,
        ip: str,
        port: int,
        media_port: int,
        log: Path,
        cwd: Path,
        extra: Iterable[str],
        timeout_s: int = 60,
    ) -> asyncio.subprocess.Process:
        cmd = [
            "sipp",
            "-sf",
            str(scenario),
            "-i",
            ip,
            "-mi",
            ip,
            "-p",
            str(port),
            "-mp",
            str(media_port),
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            f"{timeout_s}s",
            "-timeout_error",
            "-trace_msg",
            "-message_file",
            str(log),
            *extra,
        ]
        proc = await asyncio.create_subprocess_exec(
            *cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.controller.sipp_pids.add(proc.pid)
        return proc

    def reap(self) -> list[int]:
        """Kill sipp processes a test left running (it failed before ``wait()``), so their ports are free for
        the next test. Called by the fixtures at teardown; returns the PIDs killed."""
        return self.controller.reap_sipp()


# ------------------------------------------------------------------------------------------------ CLI


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="lab", description="Start/stop the pbx-bridge Asterisk lab")
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start Asterisk (restarts it if another dialplan runs)")
    up.add_argument("--dialplan", choices=DIALPLANS, default="plain")
    sub.add_parser("down", help="stop Asterisk by PID")
    sub.add_parser("status", help="print PID and dialplan")
    args = ap.parse_args(argv)
    if reason := unavailable_reason():
        print(f"lab: {reason}", file=sys.stderr)
        return 2
    ctl = LabController()
    try:
        ctl.acquire(timeout=0)  # not while a test session drives the lab
        if args.cmd == "up":
            t0 = time.monotonic()
            ctl.ensure(args.dialplan)
            p = ctl.ports
            print(
                f"lab: asterisk PID {ctl.pid()} dialplan {args.dialplan} "
                f"ready in {time.monotonic() - t0:.2f}s; "
                f"SIP udp/{p.sip} AMI tcp/{p.ami} ({ctl.ami.username}) FastAGI expected on tcp/{p.fastagi}"
            )
        elif args.cmd == "down":
            ctl.stop()
            print("lab: stopped")
        else:
            pid = ctl.pid()
            state = f"running PID {pid} dialplan {ctl.running_dialplan()}" if pid else "not running"
            print(f"lab: {state}")
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    finally:
        ctl.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
