"""``python3 -m tests.support.lab up|down|status`` (lab/up, lab/down): the lab Asterisk by hand."""

from __future__ import annotations

import argparse
import sys
import time

from tests.support.lab.ami import LabError
from tests.support.lab.controller import LabController
from tests.support.lab.layout import DIALPLANS, unavailable_reason


def main(argv: list[str] | None = None) -> int:
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
