"""``agi/itflow-balance`` run by the real lab Asterisk: the chroot's Python, the unprivileged AGI user,
and the daemon's loopback endpoint on the host (the chroot shares the host's network namespace).

The call: AMI ``Originate`` of ``Local/300@from-sipp`` (the plain lab's IVR answers it and waits for a
digit) with ``Application: AGI`` / ``Data: itflow-balance`` and the caller's number as CallerID, so the
script runs on the ``;1`` half exactly as ``exten => 3,1,AGI(itflow-balance)`` would. The daemon's URL
reaches the script as the channel variable PBXB_BALANCE_URL.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from pbx_bridge.balance.http import RemoteSessions
from tests.balance.harness import serve_internal
from tests.balance.sequences import DOCUMENTED
from tests.lab.test_balance_ivr import _client_owing, _ivr, installed_prompts, sim  # noqa: F401

SCRIPT = Path(__file__).resolve().parents[2] / "agi" / "itflow-balance"


@pytest.fixture
def prompts_plain(lab_plain) -> Iterator[list[Path]]:
    with installed_prompts(lab_plain.root) as placed:
        yield placed


async def _balance_call(lab, ami, name: str, n: str, port: int) -> None:
    """Originate the script's call (see the module docstring) and wait until it set its status."""
    resp = await ami.action(
        {
            "Action": "Originate",
            "Channel": "Local/300@from-sipp",
            "Application": "AGI",
            "Data": name,
            "CallerID": f"Lab Caller <{n}>",
            "Async": "true",
            "Timeout": "10000",
            "Variable": f"PBXB_BALANCE_URL=http://127.0.0.1:{port}",
        }
    )
    assert resp.get("Response") == "Success", dict(resp)
    await ami.wait_for(
        lambda e: (
            e.name == "AGIExecEnd" and e.get("Command", "").startswith("SET VARIABLE PBXB_BALANCE_STATUS")
        ),
        timeout=60,
    )
    await ami.action({"Action": "Hangup", "Channel": "/^Local/300@from-sipp-.*$/"})
    await asyncio.sleep(0.5)


async def test_classic_script_in_the_lab(lab_plain, sim, prompts_plain, tmp_path) -> None:  # noqa: F811
    lab = lab_plain
    n = lab.new_caller_number()
    _client_owing(sim, "100.5", n)
    name = lab.install_agi(SCRIPT, "itflow-balance")
    async with AsyncExitStack() as stack:
        _, metrics, service = await _ivr(stack, tmp_path, lab, sim)
        port = await serve_internal(stack, RemoteSessions(service, reply_timeout=10))
        async with lab.ami_session() as ami:
            await _balance_call(lab, ami, name, n, port)
            commands = [
                e.get("Command", "")
                for e in ami.events
                if e.name == "AGIExecStart" and e.get("Channel", "").endswith(";1")
            ]
    assert commands == [
        "GET VARIABLE PBXB_BALANCE_URL",
        *DOCUMENTED["100.5"],
        'SET VARIABLE PBXB_BALANCE_STATUS "spoken"',
    ]
    samples = {
        s.labels["result"]: s.value
        for m in metrics.balance_requests.collect()
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert samples == {"spoken": 1.0}


async def test_classic_script_with_the_shared_secret_never_shows_it_to_asterisk(
    lab_plain,
    sim,  # noqa: F811 (the fixture imported above)
    prompts_plain,
    tmp_path,
) -> None:
    # The script reads the secret from a file only the AGI user can read; the daemon requires it. The
    # call is spoken (so the secret did arrive), and the secret appears in no AMI event (read=all: Newexten,
    # VarSet, AGIExec ...) and in none of Asterisk's logs.
    lab = lab_plain
    n = lab.new_caller_number()
    _client_owing(sim, "100.5", n)
    name = lab.install_agi(SCRIPT, "itflow-balance")
    secret = "lab-" + secrets.token_hex(20)
    secret_file = lab.root / "etc/asterisk/pbx-bridge-balance.secret"
    secret_file.write_text(secret + "\n")
    pw = {line.split(":")[0]: line.split(":") for line in (lab.root / "etc/passwd").read_text().splitlines()}
    os.chown(secret_file, int(pw["pbxagi"][2]), int(pw["pbxagi"][3]))
    secret_file.chmod(0o400)
    try:
        async with AsyncExitStack() as stack:
            _, metrics, service = await _ivr(stack, tmp_path, lab, sim)
            port = await serve_internal(stack, RemoteSessions(service, reply_timeout=10), secret=secret)
            async with lab.ami_session() as ami:
                await _balance_call(lab, ami, name, n, port)
                events = list(ami.events)
    finally:
        secret_file.unlink()
    samples = {
        s.labels["result"]: s.value
        for m in metrics.balance_requests.collect()
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert samples == {"spoken": 1.0}
    names = {e.name for e in events}
    assert {"Newexten", "VarSet", "AGIExecStart"} <= names, names
    leaked = [e.name for e in events if any(secret in str(v) for v in dict(e).values())]
    assert leaked == []
    logs = [p for p in lab.logdir.rglob("*") if p.is_file()]
    assert logs
    assert [p.name for p in logs if secret in p.read_text(errors="replace")] == []
