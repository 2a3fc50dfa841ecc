"""The real daemon as a subprocess (``.venv/bin/pbx-bridge --config C run``), for ops tests.

Async throughout: the ITFlow simulator of ``itflow_sim`` runs in the test's own event loop, so a
blocking wait here would freeze the peer the daemon talks to. Every wait is bounded (hang guards, not
timed assertions).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from .waits import wait_until

__all__ = ["PBX_BRIDGE", "Daemon", "free_port", "write_config"]

PBX_BRIDGE = Path(sys.executable).with_name("pbx-bridge")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it; tiny race accepted)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port() -> int:
    """A loopback port where nothing listens (connections are refused)."""
    return free_port()


def write_config(
    path: Path,
    *,
    itflow_url: str,
    api_key: str,
    state_dir: Path,
    http_port: int | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a config for one daemon on free loopback ports; ``extra`` sections are merged in."""
    data: dict[str, Any] = {
        "itflow": {"url": itflow_url, "api_key": api_key, "timeout": 3},
        "state_dir": str(state_dir),
        "fastagi": {"port": free_port()},
        "http": {"port": http_port or free_port(), "internal_port": free_port()},
        "phonebook": {"run_at_start": True},
    }
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    path.chmod(0o600)
    return path


class Daemon:
    """One ``pbx-bridge run`` subprocess; stderr (the log) goes to a file the test can read."""

    def __init__(
        self,
        config: Path,
        *,
        log_path: Path,
        args: tuple[str, ...] = (),
        run_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        prefix: tuple[str, ...] = (),
    ) -> None:
        self.config = config
        self.prefix = prefix  # e.g. setpriv ... to run as another user
        self.log_path = log_path
        self.args = args
        self.run_args = run_args
        # Never talk to a systemd that may run the test session itself; tests pass their own socket.
        base = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
        self.env = {**base, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        cfg = yaml.safe_load(config.read_text())
        self.http_port = int(cfg["http"]["port"])
        self.base = f"http://127.0.0.1:{self.http_port}"

    def start(self) -> Daemon:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [*self.prefix, str(PBX_BRIDGE), "--config", str(self.config), *self.args, "run", *self.run_args],
            stdout=self._log,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            env=self.env,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.base, timeout=10) as http:
            return await http.get(path, **kwargs)

    async def wait_until(self, predicate: Callable[[], Any], *, what: str, limit: float = 60.0) -> None:
        """Poll ``predicate`` (sync or async) until true; fail naming ``what`` and the log tail."""

        async def holds() -> bool:
            result = predicate()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return True
            if not self.alive():  # no point waiting for a dead daemon
                raise AssertionError(
                    f"daemon exited ({self.proc.returncode if self.proc else '?'}) while "
                    f"waiting for {what}; log:\n{self.log()[-4000:]}"
                )
            return False

        await wait_until(
            holds, timeout=limit, what=what, poll=0.2, detail=lambda: f"log:\n{self.log()[-4000:]}"
        )

    async def _answers(self, path: str, status: int | None) -> bool:
        try:
            r = await self.get(path)
        except httpx.HTTPError:
            return False
        return status is None or r.status_code == status

    async def wait_http(self, path: str = "/healthz", status: int | None = 200, limit: float = 60.0) -> None:
        await self.wait_until(
            lambda: self._answers(path, status), what=f"GET {path} -> {status}", limit=limit
        )

    async def wait_log(self, text: str, limit: float = 60.0) -> None:
        await self.wait_until(lambda: text in self.log(), what=f"log line containing {text!r}", limit=limit)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait_exit(self, limit: float = 60.0) -> int:
        proc = self.proc
        assert proc is not None
        await wait_until(
            lambda: proc.poll() is not None,
            timeout=limit,
            what="the daemon to exit",
            poll=0.1,
            detail=lambda: f"log:\n{self.log()[-4000:]}",
        )
        return proc.returncode

    def kill(self) -> None:
        """Teardown: SIGKILL by PID if still running."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        if hasattr(self, "_log"):
            self._log.close()
