"""``pbx-bridge demo``: the ITFlow simulator and the daemon together, ready to try, nothing to edit.

One process: the simulator (v1-head by default) and the daemon run in the same event loop, with a
config written to a fresh temporary directory (state there too, never /var/lib/pbx-bridge), the
simulator's own all-clients key and no ``ami`` section (a demo has no Asterisk; an ``ami`` section
pointing nowhere would keep ``check`` failing and ``/readyz`` at 503). Once ready it prints what to try,
each with what it answers now. Ctrl-C or SIGTERM stops both (the daemon drains within ``--drain`` s)
and removes the temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import TextIO

import httpx
import yaml

from itflow_sim import Simulator
from pbx_bridge.cli.context import CommandContext
from pbx_bridge.service import Daemon
from pbx_bridge.settings import load_settings

__all__ = ["register", "run_demo"]

# A number of the simulator's seed (Alice Anderson of ACME Corp), as a caller would present it.
SAMPLE_NUMBER = "4125550101"
_READY_WAIT = 60.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = sub.add_parser(
        "demo",
        help="try it: the ITFlow simulator and the daemon, with a ready-made config",
        description="Start the ITFlow simulator and the daemon with a ready-made config in a temporary "
        "directory (no editing, no AMI), print what to try, and run until Ctrl-C or SIGTERM.",
    )
    d.add_argument(
        "--profile",
        choices=["legacy-2022", "v1-v25", "v1-head"],
        default="v1-head",
        help="ITFlow version to simulate (default v1-head)",
    )
    d.add_argument(
        "--http-port",
        type=int,
        default=8734,
        help="the daemon's HTTP port (default 8734, a free one when busy; 0: any)",
    )
    d.add_argument("--fastagi-port", type=int, default=4574, help="FastAGI port (default 4574; 0: any)")
    d.add_argument("--itflow-port", type=int, default=0, help="the simulator's port (default: any free)")
    d.add_argument("--drain", type=float, default=5.0, metavar="SECONDS", help="stop within this long")
    d.set_defaults(handler=_demo, needs_config=False)


async def _demo(ctx: CommandContext) -> int:
    a = ctx.args
    return await run_demo(
        profile=a.profile,
        http_port=a.http_port,
        fastagi_port=a.fastagi_port,
        itflow_port=a.itflow_port,
        drain=a.drain,
    )


def _port(preferred: int) -> int:
    """``preferred`` when it is free on loopback, else one the OS picks (0 always picks)."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free loopback port")


def _exe() -> str:
    """How the user runs this program: the venv's script next to this Python, relative when shorter."""
    exe = Path(sys.executable).with_name("pbx-bridge")
    with contextlib.suppress(ValueError):
        return str(exe.relative_to(Path.cwd()))
    return str(exe)


async def _ready(url: str, task: asyncio.Task[int]) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + _READY_WAIT
    async with httpx.AsyncClient(timeout=5) as http:
        while loop.time() < end and not task.done():
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return True
            await asyncio.sleep(0.2)
    return False


async def _run(*argv: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return out.decode(errors="replace").strip()


async def _banner(out: TextIO, *, sim_url: str, config: Path, base: str, profile: str) -> None:
    exe = _exe()
    cfg = shlex.quote(str(config))
    lookup = await _run(
        str(Path(sys.executable).with_name("pbx-bridge")), "--config", str(config), "lookup", SAMPLE_NUMBER
    )
    async with httpx.AsyncClient(timeout=10) as http:
        cid = (await http.get(f"{base}/cid", params={"number": SAMPLE_NUMBER})).text.strip()
        calls = (await http.get(f"{base}/calls")).status_code == 200
    lines = [
        "",
        f"pbx-bridge demo: ITFlow simulator ({profile}) at {sim_url}, daemon at {base}",
        f"  config (no AMI section: no Asterisk here, so no call tracking or tickets): {config}",
        "Try, in another terminal:",
        f"  {exe} --config {cfg} lookup {SAMPLE_NUMBER}",
        f"      prints: {lookup}",
        f"  curl '{base}/cid?number={SAMPLE_NUMBER}'",
        f"      prints: {cid}",
        f"  curl {base}/phonebook/yealink          (every format: {base}/phonebook)",
        f"  curl {base}/readyz                     (every part ok: 200)",
        f"  {exe} --config {cfg} check",
    ]
    if calls:
        lines.append(f"  {base}/calls                  (the live calls page, in a browser)")
    lines += ["Ctrl-C stops both.", ""]
    print("\n".join(lines), file=out, flush=True)


async def run_demo(
    *,
    profile: str = "v1-head",
    http_port: int = 8734,
    fastagi_port: int = 4574,
    itflow_port: int = 0,
    drain: float = 5.0,
    out: TextIO | None = None,
) -> int:
    stream = out or sys.stdout
    tmp = Path(tempfile.mkdtemp(prefix="pbx-bridge-demo-"))
    sim = Simulator(profile)
    task: asyncio.Task[int] | None = None
    try:
        await sim.start("127.0.0.1", itflow_port)
        config = tmp / "config.yaml"
        http = _port(http_port)
        data = {
            "itflow": {"url": sim.url, "api_key": sim.keys["all"]},
            "state_dir": str(tmp / "state"),
            "fastagi": {"port": _port(fastagi_port)},
            "http": {"port": http, "internal_port": _port(0)},
        }
        config.write_text(
            "# Written by pbx-bridge demo; removed when it stops.\n" + yaml.safe_dump(data, sort_keys=False)
        )
        config.chmod(0o600)
        daemon = Daemon(load_settings(config), drain_seconds=drain)
        task = asyncio.create_task(daemon.serve())
        base = f"http://127.0.0.1:{http}"
        if await _ready(f"{base}/readyz", task):
            await _banner(stream, sim_url=sim.url, config=config, base=base, profile=profile)
        elif not task.done():
            print(
                f"pbx-bridge demo: not ready after {_READY_WAIT:.0f} s; see {base}/readyz",
                file=stream,
                flush=True,
            )
        return await task
    finally:
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, drain + 5)
        await sim.stop()
        shutil.rmtree(tmp, ignore_errors=True)
