"""The balance FastAGI door with ``balance.secret_file`` under the real Asterisk, on both dialplans: the
daemon asks ``GET FULL VARIABLE ${SHA1(${FILE(path)}nonce)}``, Asterisk reads the secret file itself and
answers the digest; the call then hears its balance. The secret appears in no AMI event (read=all:
Newexten, VarSet, AGIExec ...) and in none of Asterisk's logs: it never passes through the dialplan."""

from __future__ import annotations

import secrets
from contextlib import AsyncExitStack

from tests.balance.sequences import DOCUMENTED
from tests.lab.test_balance_ivr import _agi_commands, _client_owing, _ivr, _press_3, built_prompts, sim  # noqa: F401

IN_ASTERISK = "/etc/asterisk/pbx-bridge-balance.secret"


async def test_fastagi_door_with_a_secret_asterisk_proves_it_and_the_secret_never_shows(
    lab,
    sim,  # noqa: F811 (the fixtures imported above)
    built_prompts,  # noqa: F811
    tmp_path,
) -> None:
    n = lab.new_caller_number()
    _client_owing(sim, "100.5", n)
    secret = secrets.token_hex(24)
    host_file = lab.root / IN_ASTERISK.lstrip("/")
    host_file.write_text(secret + "\n")  # as `openssl rand -hex 24 > file` writes it
    host_file.chmod(0o640)
    try:
        async with AsyncExitStack() as stack:
            server, metrics, _ = await _ivr(
                stack, tmp_path, lab, sim, secret_file=str(host_file), secret_file_asterisk=IN_ASTERISK
            )
            async with lab.ami_session() as ami:
                handle = await lab.start_call(
                    lab.route("ivr"),
                    caller_num=n,
                    caller_name="Lab Caller",
                    caller="dtmf",
                    digits="3",
                    hold_ms=40000,
                )
                mark = await _press_3(lab, ami, n, handle)
                assert await ami.wait_call_end(ami.linkedid_of(n) or "", timeout=60)
                await handle.wait()
                commands = _agi_commands(ami, mark)
                events = list(ami.events)
    finally:
        host_file.unlink()
    assert commands[0].startswith(f"GET FULL VARIABLE ${{SHA1(${{FILE({IN_ASTERISK})}}")
    assert commands[1:] == [*DOCUMENTED["100.5"], 'SET VARIABLE PBXB_BALANCE_STATUS "spoken"']
    samples = {
        s.labels["result"]: s.value
        for m in metrics.balance_requests.collect()
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert samples == {"spoken": 1.0}
    names = {e.name for e in events}
    assert {"Newexten", "VarSet", "AGIExecStart", "AGIExecEnd"} <= names, names
    assert [e.name for e in events if any(secret in str(v) for v in dict(e).values())] == []
    logs = [p for p in lab.logdir.rglob("*") if p.is_file()]
    assert logs and [p.name for p in logs if secret in p.read_text(errors="replace")] == []
    assert server.stats["errors"] == 0
