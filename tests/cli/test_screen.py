"""``pbx-bridge screen passwd`` and what ``check`` says about the calls page."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from pbx_bridge.config import ConfigError
from pbx_bridge.screen.passwords import hash_password, verify_password
from pbx_bridge.settings import parse_settings
from tests.cli.test_doctor import _check, _levels
from tests.support.daemon import PBX_BRIDGE, free_port, write_config
from tests.support.tls import make_certificate


def test_passwd_prints_a_hash_the_config_takes(tmp_path: Path) -> None:
    run = subprocess.run(
        [str(PBX_BRIDGE), "screen", "passwd", "dana"],
        input="a long enough password\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "a long enough password" not in run.stdout
    line = next(ln for ln in run.stdout.splitlines() if ln.startswith("password_hash: "))
    hashed = line.split(": ", 1)[1].strip('"')
    assert verify_password("a long enough password", hashed)
    settings = parse_settings(
        "itflow: {url: 'http://127.0.0.1:1', api_key: k}\n"
        f"technicians:\n  - name: Dana\n    extensions: ['201']\n    username: dana\n    {line}\n",
        env={},
    )
    assert settings.technicians.by_username("DANA") is not None


def test_passwd_refuses_a_short_password() -> None:
    run = subprocess.run(
        [str(PBX_BRIDGE), "screen", "passwd", "dana"],
        input="short\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "at least 10 characters" in run.stderr


def test_a_username_without_a_hash_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="password_hash"):
        parse_settings(
            "itflow: {url: 'http://127.0.0.1:1', api_key: k}\n"
            "technicians:\n  - name: Dana\n    extensions: ['201']\n    username: dana\n",
            env={},
        )


async def test_check_warns_about_a_page_without_tls_or_people(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    base = {"itflow_url": sim.url, "api_key": sim.keys["all"], "state_dir": tmp_path / "state"}
    cfg = write_config(tmp_path / "c.yaml", **base, extra={"screen": {"enabled": True}})
    _rc, out, _err = await _check(cfg)
    warns = [ln for ln in _levels(out).get("warn", []) if ln.startswith("screen: ")]
    assert any("no TLS listener" in ln for ln in warns) and any(
        "no technician can sign in" in ln for ln in warns
    )

    cert, key = await asyncio.to_thread(make_certificate, tmp_path / "tls")
    hashed = hash_password("a long enough password")
    tls_port = free_port()
    extra = {
        "screen": {"enabled": True},
        "http": {"tls_port": tls_port, "tls_host": "127.0.0.1", "tls_cert": str(cert), "tls_key": str(key)},
        "technicians": [{"name": "Dana", "extensions": ["201"], "username": "dana", "password_hash": hashed}],
    }
    cfg = write_config(tmp_path / "d.yaml", **base, extra=extra)
    _rc, out, _err = await _check(cfg)
    levels = _levels(out)
    assert not [ln for ln in levels.get("warn", []) if ln.startswith("screen: ")], out
    assert any(
        ln.startswith(f"screen: https://127.0.0.1:{tls_port}/calls for 1 technician") for ln in levels["ok"]
    ), out
