"""The Asterisk lab harness: a real Asterisk in the lab chroot, sipp calls, AMI watched.

How to use it: tests/support/LAB.md.

Stdlib only (it also runs as ``python3 -m tests.support.lab up|down|status``, see lab/up, lab/down).
The chroot is built by ``lab/setup``; nothing here builds or downloads anything.

- ``layout``: paths, dialplans, routes, ``LabPorts`` (env ``PBX_BRIDGE_LAB_*``), availability.
- ``controller``: ``LabController`` installs a dialplan, starts and stops Asterisk by PID.
- ``freepbx17``: installs the real FreePBX 17 snapshot with the lab overlay.
- ``calls``: sipp scenarios and running calls. ``facade``: ``Lab``, what a test gets.
- ``ami``: a small recording AMI client (for assertions, not production).
- ``fastagi``, ``capture``: a tiny FastAGI peer and the trace capture tool. ``fixtures``: pytest's side.
"""

from tests.support.lab.ami import AmiAccount, AmiMessage, AmiSession, LabError, ami_ready, parse_ami_block
from tests.support.lab.calls import CallHandle, CallResult, SippResult, dtmf_caller_xml
from tests.support.lab.controller import LabController, install_agi
from tests.support.lab.facade import Lab
from tests.support.lab.layout import (
    DIALPLANS,
    LAB_DIR,
    QUEUE_MEMBER,
    ROUTES,
    Dialplan,
    LabPorts,
    default_root,
    unavailable_reason,
)

__all__ = [
    "DIALPLANS",
    "LAB_DIR",
    "QUEUE_MEMBER",
    "ROUTES",
    "AmiAccount",
    "AmiMessage",
    "AmiSession",
    "CallHandle",
    "CallResult",
    "Dialplan",
    "Lab",
    "LabController",
    "LabError",
    "LabPorts",
    "SippResult",
    "ami_ready",
    "default_root",
    "dtmf_caller_xml",
    "install_agi",
    "parse_ami_block",
    "unavailable_reason",
]
