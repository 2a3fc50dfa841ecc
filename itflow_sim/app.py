"""The simulator's HTTP face: an aiohttp server answering like Apache + PHP + ITFlow, plus fault knobs.

``Simulator`` is what tests use (``await sim.start()``, ``sim.url``, ``sim.keys``, ``sim.db``), and
:func:`serve` runs one for ``pbx-bridge sim --profile P --port N``. Routing mirrors Apache serving PHP
files: ``/api.php`` and ``/api/v1/{module}/{function}.php`` exist only where the profile's ITFlow
revision has the file; anything else is Apache's 404 HTML page.

Fault knobs (settable at any time):

* ``delay``: seconds to wait before handling each request (a slow or locked server).
* ``down``: the server is gone: new connections are refused (``down_mode="refuse"``, the default; the
  port is re-bound when ``down`` goes back to False) or accepted and reset (``down_mode="reset"``);
  open keep-alive connections are cut either way.
* ``drop_answer_after_commit``: a request that changed state is committed, then the connection is cut
  before any answer byte (the write happened; the client cannot know).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from aiohttp import web

from itflow_sim.auth import install_default_keys
from itflow_sim.data import Database, Row, Seed, load_seed
from itflow_sim.envelope import APACHE_404, Reply
from itflow_sim.legacy import LegacyApi
from itflow_sim.profiles import PROFILES, Quirks, resolve_quirks
from itflow_sim.v1 import V1Api

__all__ = ["RecordedRequest", "Simulator", "serve"]

_V1_PATH = re.compile(r"^/api/v1/([^/]+)/([^/]+)\.php$")
SERVER_HEADER = "Apache/2.4.62 (Debian)"


@dataclass(frozen=True)
class RecordedRequest:
    """What reached the server (tests check e.g. that the key stayed out of the URL)."""

    method: str
    path_qs: str
    body: bytes
    headers: Mapping[str, str]


class _Reset(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()  # type: ignore[attr-defined]


class Simulator:
    """An ITFlow install on loopback. See the package docstring for profiles, keys and seed."""

    def __init__(
        self,
        profile: str = "v1-head",
        *,
        seed: str | Path | Seed | None = None,
        quirks: Quirks | Mapping[str, object] | None = None,
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown simulator profile {profile!r}; choose one of {', '.join(PROFILES)}")
        self.profile = PROFILES[profile]
        self.quirks = resolve_quirks(self.profile, dict(quirks) if isinstance(quirks, Mapping) else quirks)
        self.db = Database()
        self.db.load(load_seed(seed))
        self.keys: dict[str, str] = install_default_keys(self.db, self.profile)
        if self.profile.era == "V1e":
            _migrate_v1e(self.db)
        self.delay: float = 0.0
        self.drop_answer_after_commit: bool = False
        self.requests: deque[RecordedRequest] = deque(maxlen=2000)
        self.errors: list[Exception] = []  # unexpected simulator exceptions (should stay empty)
        self._down = False
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None
        self._listening: asyncio.Task[asyncio.AbstractServer] | None = None
        self.down_mode: Literal["refuse", "reset"] = "refuse"
        self._host = "127.0.0.1"
        self._port = 0
        self._stopping = asyncio.Event()

    # ---- lifecycle -------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        self._host = host
        self._listen(port)
        await self._pending_listen()

    def _listen(self, port: int) -> asyncio.Task[asyncio.AbstractServer]:
        """Bind and listen *now* (synchronously), so a connect right after this call queues in the
        backlog instead of being refused; asyncio starts accepting in the task returned (also kept in
        ``_listening`` until adopted)."""
        family, kind, proto, _, addr = socket.getaddrinfo(self._host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
        sock.setblocking(False)
        self._port = sock.getsockname()[1]
        loop = asyncio.get_running_loop()
        self._listening = loop.create_task(loop.create_server(self._protocol, sock=sock))
        return self._listening

    async def _pending_listen(self) -> None:
        if self._listening is not None:
            task, self._listening = self._listening, None
            server = await task
            if self._server is not None:
                self._server.close()
            self._server = server

    def _unlisten(self) -> None:
        if self._server is not None:
            self._server.close()  # listening socket closed now: new connects are refused

    async def stop(self) -> None:
        self._stopping.set()
        await self._pending_listen()
        if self._server is not None:
            self._server.close()
            self._cut_open_connections()
            await self._server.wait_closed()
            self._server = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    # ---- knobs -----------------------------------------------------------------------------------------

    @property
    def down(self) -> bool:
        return self._down

    @down.setter
    def down(self, value: bool) -> None:
        value = bool(value)
        if value == self._down:
            return
        self._down = value
        if self._runner is None:
            return
        if value:
            if self.down_mode == "refuse":
                self._unlisten()
            self._cut_open_connections()
        elif self.down_mode == "refuse":
            if self._listening is not None:
                return
            if self._server is not None:
                self._server.close()
                self._server = None
            self._listen(self._port).add_done_callback(self._adopt_server)

    def _adopt_server(self, task: asyncio.Task[asyncio.AbstractServer]) -> None:
        if task is self._listening and not task.cancelled() and task.exception() is None:
            self._listening = None
            self._server = task.result()
            if self._down and self.down_mode == "refuse":  # went down again while re-binding
                self._server.close()

    def _cut_open_connections(self) -> None:
        server = self._runner.server if self._runner else None
        for handler in list(server.connections if server else []):
            transport = handler.transport
            if transport is not None:
                transport.abort()

    def _protocol(self) -> asyncio.BaseProtocol:
        if self._down or self._runner is None or self._runner.server is None:
            return _Reset()
        return self._runner.server()

    # ---- data shortcuts (the rows themselves; the add_* helpers are on ``db``) -----------------------------

    @property
    def tickets(self) -> list[Row]:
        return self.db.tickets

    # ---- request handling ----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(RecordedRequest(request.method, request.path_qs, body, dict(request.headers)))
        if self.delay > 0:
            # Interruptible by stop(), so a test's teardown never waits out a long delay.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.delay)
        if self._down or self._stopping.is_set():
            self._abort(request)
            return web.Response(status=503)
        try:
            reply = self._dispatch(request, body)
        except Exception as exc:  # a simulator bug: answer like a PHP fatal error, keep it for the tests
            self.errors.append(exc)
            reply = Reply(500, b"")
        if reply.committed and self.drop_answer_after_commit:
            self._abort(request)
            return web.Response(status=503)
        headers = {"Server": SERVER_HEADER, **reply.headers}
        if reply.content_type:
            headers["Content-Type"] = reply.content_type
        return web.Response(status=reply.status, body=reply.body, headers=headers)

    @staticmethod
    def _abort(request: web.Request) -> None:
        if request.transport is not None:
            request.transport.abort()

    def _dispatch(self, request: web.Request, body: bytes) -> Reply:
        query = dict(request.query)  # PHP: a repeated parameter keeps its last value
        ip = request.remote or ""
        ua = request.headers.get("User-Agent", "")
        path = request.path
        if path == "/api.php" and self.profile.legacy:
            legacy = LegacyApi(
                self.db,
                leading_newline=self.quirks.leading_newline,
                mysqli_exceptions=self.quirks.mysqli_exceptions,
                phonebook_era=self.quirks.phonebook_era,
                auth_era=self.quirks.legacy_auth,
                era=self.quirks.legacy_era,
            )
            return legacy.handle(query, ip=ip, user_agent=ua)
        m = _V1_PATH.match(path)
        if m and self.profile.has(m.group(1), m.group(2)):
            return V1Api(self.db, self.profile, self.quirks).handle(
                request.method, m.group(1), m.group(2), query, body, path=path, ip=ip, user_agent=ua
            )
        host = request.host.rsplit(":", 1)[0] if request.host else self._host
        page = APACHE_404.format(host=host, port=self._port).encode()
        return Reply(404, page, "text/html; charset=iso-8859-1")


def _migrate_v1e(db: Database) -> None:
    """What 26.09's DB migrations leave in any install (docs/itflow-api.md §7 row 9): the five seeded
    statuses get ``ticket_status_pauses_sla`` 0,0,1,1,1, and settings gain ``config_internal_client_id``."""
    for status in db["ticket_statuses"]:
        sid = int(status["ticket_status_id"] or 0)
        if 1 <= sid <= 5:
            status["ticket_status_pauses_sla"] = "1" if sid >= 3 else "0"
    db.settings.setdefault("config_internal_client_id", "0")


async def serve(
    profile: str,
    host: str = "127.0.0.1",
    port: int = 8089,
    seed_path: str | Path | None = None,
    *,
    quirks: Mapping[str, object] | None = None,
    out: TextIO | None = None,
    started: asyncio.Event | None = None,
) -> None:
    """Run a simulator until cancelled (Ctrl-C); prints the URL and the API keys.

    Binds 127.0.0.1 by default; the keys it prints are fixed test secrets, never real ones.
    """
    stream = out or sys.stdout
    sim = Simulator(profile, seed=seed_path, quirks=quirks)
    await sim.start(host, port)
    try:
        print(
            f"ITFlow simulator ({sim.profile.name}, {sim.profile.pinned}) listening on {sim.url}", file=stream
        )
        for name, secret in sim.keys.items():
            print(f"  key {name}: {secret}", file=stream)
        stream.flush()
        if started is not None:
            started.set()
        await asyncio.Event().wait()
    finally:
        await sim.stop()
