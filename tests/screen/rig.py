"""The calls page's test rig: the ITFlow simulator, the real daemon (``pbx-bridge run``) with the page on
its TLS listener (a throwaway CA's certificate for ``pbx.lab.test``), attached to the lab Asterisk."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pbx_bridge.screen.passwords import hash_password
from tests.support.browser import make_ca_and_cert
from tests.support.daemon import Daemon, free_port, write_config
from tests.support.lab import Lab

__all__ = ["HOST", "ITFLOW_WEB", "PASSWORDS", "Rig", "screen_daemon"]

HOST = "pbx.lab.test"  # a LAN name, not localhost: localhost would be a secure context over plain HTTP
ITFLOW_WEB = "https://itflow.lab.test"  # ITFlow's web address as the browsers know it (not the API's)
PASSWORDS = {"dana": "dana-password-1", "sam": "sam-password-22"}
_HASHES = {name: hash_password(pw) for name, pw in PASSWORDS.items()}


@dataclass
class Rig:
    daemon: Daemon
    sim: Any
    ca: Path
    https_port: int
    http_port: int

    @property
    def https(self) -> str:
        return f"https://{HOST}:{self.https_port}"

    @property
    def http(self) -> str:
        return f"http://{HOST}:{self.http_port}"


@contextlib.asynccontextmanager
async def screen_daemon(tmp_path: Path, lab: Lab | None, sim: Any, **screen: Any) -> AsyncIterator[Rig]:
    ca, cert, key = make_ca_and_cert(tmp_path / "tls", HOST)
    https_port, http_port = free_port(), free_port()
    sections: dict[str, Any] = {
        "http": {
            "port": http_port,
            "tls_host": "127.0.0.1",
            "tls_port": https_port,
            "tls_cert": str(cert),
            "tls_key": str(key),
        },
        "screen": {"enabled": True, "itflow_web_url": ITFLOW_WEB, "tickets_cache_seconds": 5, **screen},
        "technicians": [
            {
                "name": "Dana Reyes",
                "extensions": ["201"],
                "username": "dana",
                "password_hash": _HASHES["dana"],
            },
            {"name": "Sam Ortiz", "extensions": ["202"], "username": "sam", "password_hash": _HASHES["sam"]},
        ],
        "tickets": {"retry_first": 0.5, "retry_max": 2},
    }
    if lab is not None:
        ami = lab.ami
        sections["fastagi"] = {"port": lab.fastagi_port}
        sections["ami"] = {
            "host": ami.host,
            "port": ami.port,
            "username": ami.username,
            "secret": ami.secret,
            "reconnect_max": 1,
            "grace": 0.5,
        }
    cfg = write_config(
        tmp_path / "config.yaml",
        itflow_url=sim.url,
        api_key=sim.keys["all"],
        state_dir=tmp_path / "state",
        http_port=http_port,
        extra=sections,
    )
    daemon = Daemon(cfg, log_path=tmp_path / "daemon.log").start()
    try:
        await daemon.wait_http("/readyz", 200)
        yield Rig(daemon, sim, ca, https_port, http_port)
    finally:
        daemon.kill()
