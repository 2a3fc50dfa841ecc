"""sipp calls: the scenario XML for callers and callees (DTMF by RTP event or delay), the running call
(``CallHandle``) and what it left (``CallResult``, ``SippResult``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tests.support.lab.ami import AmiSession, LabError
from tests.support.lab.layout import LAB_DIR, SIPP_PCAPS

if TYPE_CHECKING:  # the Lab a call belongs to (facade imports this module)
    from tests.support.lab.facade import Lab

CallerMode = Literal["bye", "cancel", "voicemail", "dtmf", "wait"]
CalleeMode = Literal["answer", "ring", "busy", "decline", "refer"]


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
    "decline": "uas-decline.xml",
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
