"""A new user's first steps: ``pbx-bridge demo``, the README's example, a failed start counted once.

Real subprocesses, the simulator over loopback HTTP; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
from pathlib import Path
from typing import BinaryIO

import httpx

from tests.support.daemon import PBX_BRIDGE, Daemon, write_config

ROOT = Path(__file__).resolve().parents[1]


def _exists(path: Path) -> bool:
    return path.exists()


def _log_file(path: Path) -> BinaryIO:
    return path.open("wb")  # the child keeps its own copy of the descriptor


async def _read_banner(stdout: asyncio.StreamReader) -> list[str]:
    lines: list[str] = []
    while True:
        raw = await asyncio.wait_for(stdout.readline(), 90)
        assert raw, f"demo ended before its banner: {lines}"
        lines.append(raw.decode().rstrip("\n"))
        if lines[-1] == "Ctrl-C stops both.":
            return lines


def _after(lines: list[str], marker: str) -> tuple[str, str]:
    """The command line containing ``marker`` and the ``prints:`` line under it."""
    i = next(n for n, line in enumerate(lines) if marker in line)
    printed = lines[i + 1].strip()
    assert printed.startswith("prints: "), lines
    return lines[i].strip(), printed.removeprefix("prints: ")


async def _run(argv: list[str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode().strip(), err.decode()


async def test_demo_needs_no_editing_prints_what_it_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        str(PBX_BRIDGE),
        "demo",
        "--http-port",
        "0",
        "--fastagi-port",
        "0",
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=_log_file(tmp_path / "demo.log"),
    )
    try:
        assert proc.stdout is not None
        lines = await _read_banner(proc.stdout)
        text = "\n".join(lines)
        assert "no AMI section" in text, text
        config = Path(re.search(r"(\S+/config\.yaml)", text).group(1))  # type: ignore[union-attr]
        assert _exists(config) and not str(config).startswith("/var/lib/pbx-bridge")
        # The lookup it suggests prints exactly what it says it prints.
        command, promised = _after(lines, " lookup ")
        rc, out, err = await _run(shlex.split(command))
        assert rc == 0 and out == promised, (command, out, err)
        assert "ACME Corp - Alice Anderson" in promised
        assert "Warning" not in err and "Traceback" not in err, err
        # ... and so does the curl.
        curl, promised_cid = _after(lines, "/cid?number=")
        url = re.search(r"'(http://[^']+)'", curl).group(1)  # type: ignore[union-attr]
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(url)).text.strip() == promised_cid == "ACME Corp - Alice Anderson"
            base = url.split("/cid")[0]
            assert (await http.get(f"{base}/readyz")).status_code == 200
            book = await http.get(f"{base}/phonebook/yealink")
            assert book.status_code == 200 and "Alice Anderson" in book.text
        # The check it suggests passes too (no AMI, so nothing fails).
        check = next(line.strip() for line in lines if line.strip().endswith(" check"))
        rc, out, err = await _run(shlex.split(check))
        assert rc == 0, out + err
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert not _exists(config.parent), "the demo's temporary directory was left behind"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = (tmp_path / "demo.log").read_text()
    assert "Traceback" not in log and "Warning:" not in log, log[-3000:]


async def test_the_readme_shows_what_the_demo_lookup_prints(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"lookup 4125550101\n\s+prints: (.+)\n", readme)
    assert shown, "the README's quick start shows the demo's lookup and what it prints"
    proc = await asyncio.create_subprocess_exec(
        str(PBX_BRIDGE),
        "demo",
        "--http-port",
        "0",
        "--fastagi-port",
        "0",
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        lines = await _read_banner(proc.stdout)
        command, _ = _after(lines, " lookup ")
        rc, out, _err = await _run(shlex.split(command))
        assert rc == 0 and out == shown.group(1).strip(), (out, shown.group(1))
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0


async def test_a_failed_start_is_detected_once_and_counted_once(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    cfg = write_config(
        tmp_path / "c.yaml", itflow_url=sim.url, api_key="change-me", state_dir=tmp_path / "state"
    )
    daemon = Daemon(
        cfg, log_path=tmp_path / "d.log", env={k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    )
    try:
        daemon.start()
        await daemon.wait_http("/readyz", 503)  # every part has started once HTTP answers
        await daemon.wait_log("pbx-bridge running")

        async def failed_sync_counted() -> bool:
            # the first sync runs after start (docs/callerid.md, "Directory at scale"): wait for its end
            metrics = (await daemon.get("/metrics")).text
            failures = re.search(r"^pbx_bridge_directory_sync_failures_total (\S+)$", metrics, re.M)
            return bool(failures) and float(failures.group(1)) >= 1.0

        await daemon.wait_until(failed_sync_counted, what="the first sync's failure counted")
        await daemon.wait_log("keeping the last good directory")  # the sync has ended and said so
        metrics = (await daemon.get("/metrics")).text
        failures = re.search(r"^pbx_bridge_directory_sync_failures_total (\S+)$", metrics, re.M)
        assert failures and float(failures.group(1)) == 1.0, metrics
        assert daemon.log().count("ITFlow detected") == 1, daemon.log()
    finally:
        daemon.kill()
