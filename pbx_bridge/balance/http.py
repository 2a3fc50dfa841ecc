"""The loopback-only endpoint the classic AGI script ``agi/itflow-balance`` talks to.

The script is a thin relay: it posts the AGI environment Asterisk gave it, then runs the AGI commands
the daemon hands back one by one and posts each reply. The whole dialogue (caller binding, PIN, attempt
limits, the readout) runs here in the daemon, on a :class:`RemoteSession` that looks to
:class:`~pbx_bridge.balance.dialogue.BalanceCall` like a FastAGI session. The script never holds the ITFlow
key and never decides anything.

    POST /balance/agi/start  {"env": {"agi_callerid": ..., ...}}
    POST /balance/agi/reply  {"id": ..., "reply": "200 result=0 ..."}
    both answer {"id", "command"} (run it, post the reply) or {"done": true, "outcome"}

This listener must be separate from the one handsets reach (``http.internal_port``, bound to loopback);
every handler also refuses peers outside ``balance.allow`` itself and, with ``balance.secret_file`` set,
requests without the secret in the ``X-PBX-Bridge-Secret`` header (the script reads the same file; the
secret never passes through the dialplan, so it cannot show up in AMI events or Asterisk's logs).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets

from aiohttp import web

from pbx_bridge.agi.errors import AgiHangup, AgiProtocolError
from pbx_bridge.agi.protocol import parse_reply
from pbx_bridge.agi.reply import AgiReply
from pbx_bridge.balance.dialogue import BalanceService
from pbx_bridge.log_limits import clip

__all__ = ["RemoteSession", "RemoteSessions", "balance_http_routes"]

log = logging.getLogger("pbx_bridge.balance.http")

MAX_SESSIONS = 64  # concurrent classic-script calls; more get a polite "busy"
MAX_COMMANDS = 300  # per call: a runaway dialogue ends
_ENV_KEYS_MAX = 256


class RemoteSession:
    """An AGI session whose commands travel to the classic script and back over HTTP."""

    def __init__(self, env: dict[str, str], *, reply_timeout: float) -> None:
        self.env = env
        self.args: list[str] = []  # ignored by the balance call anyway
        self.reply_timeout = reply_timeout
        self.outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        self._pending: asyncio.Future[str] | None = None
        self._gone = False
        self.commands = 0

    def deliver(self, line: str) -> bool:
        if self._pending is None or self._pending.done():
            return False
        self._pending.set_result(line)
        return True

    async def _exchange(self, text: str) -> AgiReply:
        if self._gone:
            raise AgiHangup("the caller hung up")
        self.commands += 1
        if self.commands > MAX_COMMANDS:
            raise AgiHangup("too many commands in one call")
        self._pending = asyncio.get_running_loop().create_future()
        await self.outbox.put(text)
        try:
            async with asyncio.timeout(self.reply_timeout):
                line = await self._pending
        except TimeoutError:
            self._gone = True
            raise AgiHangup("the classic AGI script stopped answering") from None
        line = line.strip()
        if line.upper().startswith("HANGUP") or not line:
            self._gone = True
            raise AgiHangup("the caller hung up")
        try:
            reply = parse_reply(line)
        except AgiProtocolError:
            self._gone = True
            raise AgiHangup("the classic AGI script relayed something that is not an AGI reply") from None
        if reply.code == 511:
            self._gone = True
            raise AgiHangup("command refused on a dead channel (511)")
        return reply

    async def command(self, text: str) -> AgiReply:
        """Same contract as ``AgiSession.command``: result=-1 -> ask CHANNEL STATUS; gone -> AgiHangup."""
        reply = await self._exchange(text)
        if reply.failed:
            status = await self._exchange("CHANNEL STATUS")
            if not status.ok or (status.result_int or -1) < 0:
                self._gone = True
                raise AgiHangup("channel gone (result=-1, then no channel status)")
        return reply


# One JSON answer to the classic script: the next command ({"id", "command"}) or the end
# ({"done", "outcome"}).
Answer = dict[str, str | bool]


class RemoteSessions:
    """The calls the classic script is driving right now."""

    def __init__(self, service: BalanceService, *, reply_timeout: float) -> None:
        self.service = service
        self.reply_timeout = reply_timeout
        self.live: dict[str, tuple[RemoteSession, asyncio.Task[str]]] = {}

    async def start(self, env: dict[str, str]) -> Answer:
        if len(self.live) >= MAX_SESSIONS:
            return {"done": True, "outcome": "busy"}
        session = RemoteSession(env, reply_timeout=self.reply_timeout)
        task = asyncio.get_running_loop().create_task(
            self.service.handle(session, door="classic"), name="balance-classic"
        )
        token = secrets.token_urlsafe(18)
        self.live[token] = (session, task)
        return await self._next(token)

    async def reply(self, token: str, line: str) -> Answer | None:
        entry = self.live.get(token)
        if entry is None:
            return None
        session, _ = entry
        if not session.deliver(line):
            return None
        return await self._next(token)

    async def _next(self, token: str) -> Answer:
        session, task = self.live[token]
        getter = asyncio.ensure_future(session.outbox.get())
        try:
            done, _ = await asyncio.wait(
                {getter, task}, timeout=self.reply_timeout * 2, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if not getter.done():
                getter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await getter
        if getter in done and not getter.cancelled():
            return {"id": token, "command": getter.result()}
        if task in done:
            self.live.pop(token, None)
            try:
                outcome = task.result()
            except Exception:  # the call logged it; the script just ends
                log.exception("balance call (classic AGI) failed")
                outcome = "error"
            return {"done": True, "outcome": outcome}
        # Neither a command nor an end in time: give up on this call.
        task.cancel()
        self.live.pop(token, None)
        return {"done": True, "outcome": "timeout"}

    async def close(self) -> None:
        for _, task in list(self.live.values()):
            task.cancel()
        self.live.clear()


SECRET_HEADER = "X-PBX-Bridge-Secret"


def balance_http_routes(
    service: BalanceService,
    *,
    reply_timeout: float | None = None,
    sessions: RemoteSessions | None = None,
    secret: str | None = None,
) -> list[web.RouteDef]:
    """Routes for the internal loopback listener (``http.internal_port``); never mount on the handset one.

    ``secret``: the shared secret of ``balance.secret_file``, or None when none is configured."""
    wait = reply_timeout if reply_timeout is not None else service.settings.script_timeout
    remote = sessions or RemoteSessions(service, reply_timeout=wait)
    expected = secret.encode() if secret else None

    def refused(request: web.Request) -> web.Response | None:
        if not service.door_allows("classic", request.remote or ""):
            return web.json_response({"error": "not in balance.allow"}, status=403)
        if expected is not None:
            given = request.headers.get(SECRET_HEADER, "").strip().encode()
            if not hmac.compare_digest(given, expected):
                service.forbidden(
                    "no_secret",
                    "balance: refused a classic-script request from %s without "
                    "the right secret (balance.secret_file)",
                    clip(request.remote or "?", 60),
                )
                return web.json_response({"error": "secret required"}, status=403)
        return None

    async def start(request: web.Request) -> web.Response:
        if (answer := refused(request)) is not None:
            return answer
        try:
            body = await request.json()
            env_in = body.get("env") if isinstance(body, dict) else None
            if not isinstance(env_in, dict) or len(env_in) > _ENV_KEYS_MAX:
                raise ValueError("env must be an object")
            env = {str(k)[:64]: str(v)[:512] for k, v in env_in.items() if str(k).startswith("agi_")}
        except (ValueError, TypeError):
            return web.json_response({"error": 'expected {"env": {agi_*: ...}}'}, status=400)
        return web.json_response(await remote.start(env))

    async def reply(request: web.Request) -> web.Response:
        if (denied := refused(request)) is not None:
            return denied
        try:
            body = await request.json()
            token, line = str(body["id"]), str(body["reply"])[:8192]
        except (ValueError, TypeError, KeyError):
            return web.json_response({"error": 'expected {"id", "reply"}'}, status=400)
        answer = await remote.reply(token, line)
        if answer is None:
            return web.json_response({"done": True, "outcome": "unknown-session"}, status=404)
        return web.json_response(answer)

    return [web.post("/balance/agi/start", start), web.post("/balance/agi/reply", reply)]
