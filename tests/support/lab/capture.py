"""Capture raw AMI traces of the lab's call flows into tests/fixtures/ami-traces/lab-flows/<dialplan>/.

    python3 -m tests.support.lab.capture [--out DIR] [--dialplan plain|freepbx17] [flow ...]

Each trace is one AMI session (``Events: on``, user with ``read=all``) from login until every channel of the
call hung up (plus a short grace), CRLF kept, like the captures in tests/fixtures/ami-traces/. A quiet
FastAGI server answers the dialplan's AGI calls without changing the call. Needs the lab (lab/setup) and
root; it starts and stops Asterisk itself. Replay them with tests/support/ami_replay.py.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.support.ami_replay import TRACES
from tests.support.lab import DIALPLANS, Lab, LabController, LabError, unavailable_reason
from tests.support.lab.fastagi import Send, TinyFastAgi

# name -> (route or number, call keywords, what the trace shows)
FLOWS: dict[str, tuple[str, dict[str, Any], str]] = {
    "trunk-in-answered": (
        "ext201",
        {"callees": {"201": "answer"}, "hold_ms": 2000},
        "inbound trunk call, 201 answers",
    ),
    "extension-out-answered": (
        "4125550100",
        {"internal": True, "callees": {"pstn": "answer"}, "hold_ms": 2000},
        "extension 201 calls out through the pstn trunk, answered",
    ),
    "ringgroup-missed": (
        "ringgroup",
        {"caller": "cancel", "callees": {"201": "ring", "202": "ring"}, "hold_ms": 3000},
        "ring group 201&202, caller cancels",
    ),
    "ringgroup-answered": (
        "ringgroup",
        {"callees": {"201": "answer", "202": "ring"}, "hold_ms": 2000},
        "ring group, 201 answers, 202 cancelled",
    ),
    "local-answered": (
        "local",
        {"callees": {"201": "answer", "203": "answer"}, "hold_ms": 4000},
        "through Local/ channels (plain 700 -> 201)",
    ),
    "blind-transfer-to-voicemail": (
        "ext201",
        {"callees": {"201": "refer", "202": "ring"}, "hold_ms": 9500},
        "201 answers, REFERs the caller to 202, 202 rings out, voicemail 202",
    ),
    "queue-first-member": (
        "queue",
        {"callees": {"203": "answer"}, "hold_ms": 4000},
        "queue answered by its first member 203",
    ),
    "queue-later-member": (
        "queue_linear",
        {"callees": {"203": "ring", "204": "answer"}, "hold_ms": 8000},
        "linear queue: 203 rings out, 204 answers",
    ),
    "unavailable-extension": ("ext205", {"hold_ms": 2000}, "205 has no contact: CHANUNAVAIL, voicemail 205"),
    "asterisk-sigterm-ringing": (
        "ext202",
        {"caller": "cancel", "callees": {"202": "ring"}, "hold_ms": 30000},
        "Asterisk gets SIGTERM while 202 rings",
    ),
    "asterisk-sigkill-ringing": (
        "ext202",
        {"caller": "cancel", "callees": {"202": "ring"}, "hold_ms": 30000},
        "Asterisk gets SIGKILL while 202 rings",
    ),
}


async def _quiet(env: dict[str, str], send: Send) -> None:
    await send('VERBOSE "lab capture" 1')


async def capture(lab: Lab, name: str, out: Path) -> str:
    where, kw, _ = FLOWS[name]
    exten = lab.route(where) if not where.isdigit() else where
    caller = "201" if kw.get("internal") else lab.new_caller_number()
    kill = {"asterisk-sigterm-ringing": signal.SIGTERM, "asterisk-sigkill-ringing": signal.SIGKILL}.get(name)
    async with lab.ami_session(record_raw=True) as ami, TinyFastAgi(_quiet, lab.fastagi_port):
        handle = await lab.start_call(exten, caller_num=caller, caller_name="Lab Caller", **kw)
        if kill is not None:
            await ami.wait_for(lambda e: e.name == "DialState" and e.get("CallerIDNum") == caller)
            lab.controller.signal(kill)
            await asyncio.wait_for(ami.closed.wait(), 30)
            await handle.abort()
            result = "killed"
        else:
            res = await handle.wait()
            await ami.wait_call_end(ami.linkedid_of(caller) or "", grace=1.0)
            result = res.describe()
    assert ami.raw is not None
    (out / f"{name}.txt").write_bytes(bytes(ami.raw))
    return result


async def main_async(out: Path, dialplans: list[str], names: list[str]) -> int:
    ctl = LabController()
    ctl.acquire()
    try:
        with tempfile.TemporaryDirectory(prefix="lab-capture-") as tmp:
            for dialplan in dialplans:
                target = out / dialplan
                target.mkdir(parents=True, exist_ok=True)
                for name in names:
                    ctl.ensure(dialplan)  # type: ignore[arg-type]
                    lab = Lab(ctl, dialplan, Path(tmp))  # type: ignore[arg-type]
                    print(f"{dialplan}/{name}: {await capture(lab, name, target)}", flush=True)
    finally:
        ctl.stop()
        ctl.release()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=TRACES / "lab-flows")
    ap.add_argument("--dialplan", choices=DIALPLANS, action="append")
    ap.add_argument("flows", nargs="*", help="default: all of " + ", ".join(FLOWS))
    args = ap.parse_args(argv)
    if reason := unavailable_reason():
        print(f"lab_capture: {reason}", file=sys.stderr)
        return 2
    names = args.flows or list(FLOWS)
    if unknown := [n for n in names if n not in FLOWS]:
        print(f"lab_capture: unknown flows {unknown}; known: {', '.join(FLOWS)}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(main_async(args.out, args.dialplan or list(DIALPLANS), names))
    except LabError as exc:
        print(f"lab_capture: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
