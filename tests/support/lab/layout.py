"""The lab's layout: paths, dialplans and their routes, every port (env ``PBX_BRIDGE_LAB_*``), and
whether the lab can run here."""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

REPO = Path(__file__).resolve().parents[3]
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


def port_free(port: int, kind: int) -> bool:
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
