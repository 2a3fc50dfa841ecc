"""``Lab``: what a lab test gets (``.ami``, ``.fastagi_port``, ``.root``, ``.spool``, ``.install_agi``,
``.call``, ``.start_call``, ``.ami_session``, ``.cli``, ``.route``); tests/support/LAB.md lists it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Literal

from tests.support.lab import freepbx17 as lab_freepbx17
from tests.support.lab.ami import AmiAccount, AmiSession, LabError
from tests.support.lab.calls import (
    _CALLEE_XML,
    _CALLER_XML,
    CalleeMode,
    CallerMode,
    CallHandle,
    CallResult,
    dtmf_caller_xml,
)
from tests.support.lab.controller import LabController, install_agi
from tests.support.lab.layout import LAB_DIR, ROUTES, Dialplan, LabPorts, port_free


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
        answers), "busy" (486), "decline" (603), "refer" (answers, then blind-transfers the caller to
        ``refer_to`` by REFER ``refer_after_ms`` after answering, then hangs up). ``internal``: the call
        comes from extension 201's phone (127.0.0.2 / From ``caller_num``; freepbx17: it authenticates with
        the generated credentials).
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
                if port_free(port, socket.SOCK_DGRAM):
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
