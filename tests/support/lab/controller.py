"""``LabController``: installs ``lab/etc`` (placeholders filled in) or the real FreePBX 17 snapshot
(``freepbx17.py``), starts Asterisk after checking its ports are free, waits for AMI login and
FullyBooted, stops it by PID (after checking the process is ``asterisk`` rooted in the chroot).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.lab import freepbx17 as lab_freepbx17
from tests.support.lab.ami import AmiAccount, LabError, ami_ready
from tests.support.lab.layout import (
    AGI_USER,
    ETC_IN_CHROOT,
    LAB_DIR,
    MARKER,
    PIDFILE_IN_CHROOT,
    Dialplan,
    LabPorts,
    default_root,
    port_free,
)


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
            busy = [f"{p}/tcp" for p in (self.ports.ami,) if not port_free(p, socket.SOCK_STREAM)]
            busy += [f"{p}/udp" for p in (self.ports.sip,) if not port_free(p, socket.SOCK_DGRAM)]
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
