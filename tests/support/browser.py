"""A real headless Chromium (Debian's ``chromium``) driven over the DevTools protocol (CDP) on its
websocket, for the calls page's tests (tests/screen/).

Nothing is downloaded: the browser is the system package (``scripts/bootstrap --test`` installs it with
``libnss3-tools`` for ``certutil``). A throwaway CA is trusted in a private NSS database (the browser's
``$HOME/.pki/nssdb``, ``HOME`` being a temporary directory), so the page is reached over HTTPS on a
non-localhost name mapped to 127.0.0.1 by ``--host-resolver-rules``: localhost would count as a secure
context and hide the LAN case.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from .waits import wait_until

__all__ = ["Browser", "Page", "chromium_missing", "make_ca_and_cert", "open_browser"]

_WHERE = "location.href + '\\n' + document.body.innerText.slice(0, 500)"  # for a wait that runs out
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return "no chromium (apt-get install chromium; scripts/bootstrap --test does)"
    if shutil.which("certutil") is None:
        return "no certutil (apt-get install libnss3-tools; scripts/bootstrap --test does)"
    return None


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_ca_and_cert(directory: Path, host: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for ``host`` signed by it: (ca.pem, cert.pem, key.pem)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "server.ext"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=pbx-bridge test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={host}", "-keyout", str(key), "-out", str(csr)
    )
    ext.write_text(f"subjectAltName=DNS:{host}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
             "-days", "2", "-extfile", str(ext), "-out", str(cert))  # fmt: skip
    return ca, cert, key


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


class Page:
    """One tab (a CDP session on a page target)."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.browser.send(method, params, session=self.session)

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})
        await self.wait_for(
            "document.readyState === 'complete' && location.href !== 'about:blank'", f"load {url}"
        )

    async def eval(self, expression: str, *, gesture: bool = False) -> Any:
        """``expression``'s value; ``gesture``: run it as a user's click would (user activation, which
        ``registerProtocolHandler`` and a custom-handler link need)."""
        params = {
            "expression": expression,
            "returnByValue": True,
            "awaitPromise": True,
            "userGesture": gesture,
        }
        answer = await self.send("Runtime.evaluate", params)
        if "exceptionDetails" in answer:
            raise AssertionError(f"page script failed: {expression}: {answer['exceptionDetails']}")
        return answer.get("result", {}).get("value")

    async def wait_for(self, expression: str, what: str, limit: float = 20.0) -> Any:
        """Wait until ``expression`` is truthy in the page; its value."""
        seen: list[Any] = []

        async def check() -> bool:
            try:
                value = await self.eval(
                    f"(() => {{ try {{ return ({expression}); }} catch (e) {{ return null; }} }})()"
                )
            except (AssertionError, ConnectionError):
                return False
            seen[:] = [value]
            if not value:
                with contextlib.suppress(AssertionError, ConnectionError):
                    where[:] = [await self.eval(_WHERE)]
            return bool(value)

        where: list[str] = [""]
        await wait_until(check, what=what, timeout=limit, poll=0.1, detail=lambda: f"page: {where[0]}")
        return seen[0]

    async def screenshot(self, path: Path) -> Path:
        data = await self.send("Page.captureScreenshot", {"format": "png"})
        await asyncio.to_thread(_write, path, base64.b64decode(data["data"]))
        return path


class Browser:
    def __init__(self, proc: subprocess.Popen[bytes], ws: aiohttp.ClientWebSocketResponse) -> None:
        self.proc = proc
        self.ws = ws
        self._id = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            fut = self._waiting.pop(data.get("id", -1), None)
            if fut is not None and not fut.done():
                fut.set_result(data)
            elif "method" in data:
                self.events.append(data)
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(ConnectionError("the browser went away"))

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None
    ) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[self._id] = fut
        await self.ws.send_str(json.dumps(message))
        answer = await asyncio.wait_for(fut, 30)
        if "error" in answer:
            raise AssertionError(f"CDP {method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    async def new_page(self, *, spy_notifications: bool = True) -> Page:
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        page = Page(self, attached["sessionId"])
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        if spy_notifications:
            # Records each desktop notification the page raises (title, body), then shows it as usual.
            await page.send(
                "Page.addScriptToEvaluateOnNewDocument",
                {
                    "source": """
                    (() => {
                      const Real = window.Notification;
                      if (!Real) return;
                      window.__notifications = [];
                      const Spy = function (title, options) {
                        window.__notifications.push({title: title, body: (options || {}).body || ""});
                        return new Real(title, options);
                      };
                      Object.defineProperty(Spy, "permission", {get: () => Real.permission});
                      Spy.requestPermission = (...a) => Real.requestPermission(...a);
                      window.Notification = Spy;
                    })();
                    """
                },
            )
        return page

    def close(self) -> None:
        self._reader.cancel()
        _kill(self.proc)


def _launch(home: Path, host_rules: str, ca: Path | None) -> tuple[subprocess.Popen[bytes], Path]:
    """A private NSS database in ``home`` (trusting ``ca``), then Chromium; its log file."""
    home.mkdir(parents=True, exist_ok=True)
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True)
    certutil = ["certutil", "-d", f"sql:{nssdb}"]
    subprocess.run([*certutil, "-N", "--empty-password"], check=True, capture_output=True, timeout=30)
    if ca is not None:
        trust = [*certutil, "-A", "-t", "C,,", "-n", "pbx-bridge test CA", "-i", str(ca)]
        subprocess.run(trust, check=True, capture_output=True, timeout=30)
    args = [
        CHROMIUM,
        "--headless=new",
        "--no-sandbox",  # as root in CI
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--remote-debugging-port=0",
        f"--user-data-dir={home / 'profile'}",
        f"--host-resolver-rules={host_rules}",
        "--window-size=1100,800",
        "about:blank",
    ]
    env = {**os.environ, "HOME": str(home)}
    log_path = home / "chromium.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return proc, log_path


def _devtools_url(log_path: Path) -> str | None:
    m = re.search(r"DevTools listening on (ws://\S+)", log_path.read_text(errors="replace"))
    return m.group(1) if m else None


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


@contextlib.asynccontextmanager
async def open_browser(home: Path, *, host_rules: str, ca: Path | None = None) -> AsyncIterator[Browser]:
    """Start Chromium with ``home`` as its home (a private NSS database trusting ``ca``)."""
    proc, log_path = await asyncio.to_thread(_launch, home, host_rules, ca)
    url: list[str] = []

    def listening() -> bool:
        found = _devtools_url(log_path)
        if found:
            url[:] = [found]
        return bool(found) or proc.poll() is not None

    try:
        await wait_until(listening, what="chromium DevTools websocket", timeout=30, poll=0.1)
        if not url:
            raise AssertionError(f"chromium exited: {log_path.read_text(errors='replace')[-2000:]}")
        async with aiohttp.ClientSession() as http, http.ws_connect(url[0], max_msg_size=64 * 2**20) as ws:
            browser = Browser(proc, ws)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        _kill(proc)
