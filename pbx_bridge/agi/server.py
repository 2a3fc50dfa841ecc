"""The FastAGI server: one asyncio task per Asterisk connection, routes by ``agi_network_script``.

Written on a plain ``asyncio.Protocol`` (:class:`pbx_bridge.agi.session.Connection`) instead of
``panoramisk.fast_agi`` because every defect listed in docs/panoramisk.md (1-6) sits in its connection
handler, which is most of that module.

1. early close before the environment (spins at 100% CPU): EOF ends the session here;
2. no timeouts: the environment read has ``env_timeout``, each command ``command_timeout``, a whole
   session ``session_timeout``;
3. unsolicited ``HANGUP`` paired with the next command: every line is read as it arrives; ``HANGUP``
   only sets a flag, replies go to the command waiting for them, so pairing never shifts;
4. sync routes: a route may be a plain function (its return value is awaited only if awaitable);
5. ``route?x=y``: the query is split off and parsed into ``AgiSession.query``;
6. no ``get_event_loop()``: the running loop is used.

A malformed line is logged and skipped; a failing route is logged and counted. Neither reaches Asterisk
beyond closing the socket, which lets the call continue (``AGISTATUS=SUCCESS``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import resource
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence

from pbx_bridge.agi.errors import AgiConnectionClosed, AgiError, AgiHangup, AgiTimeout
from pbx_bridge.agi.protocol import split_script
from pbx_bridge.agi.session import AgiSession, Connection
from pbx_bridge.allow import networks, peer_allowed
from pbx_bridge.component import Health
from pbx_bridge.log_limits import Throttle, clip, summarise_accept_errors
from pbx_bridge.metrics import Metrics

__all__ = ["DEFAULT_ALLOW", "FastAgiServer", "Route", "connections_that_fit"]

log = logging.getLogger(__name__)

# A route may also be a plain function: its return value is awaited only when it is awaitable.
Route = Callable[[AgiSession], Awaitable[None] | None]

_MAX_MALFORMED = 10  # malformed lines one connection may send before it is closed (Asterisk: none)
# asyncio accepts up to ``backlog`` connections per wake-up before any of them is read: that batch, not
# the kernel queue, decides how many newcomers can push a real request out of the cap before its
# environment is read, so it stays small; the kernel's listen queue is made long separately.
_ACCEPT_BATCH = 128
_LISTEN_QUEUE = 4096  # a burst of calls must not be refused (or SYN-retried 1 s later) by the kernel
_FD_RESERVE = 128  # descriptors left for the state database, HTTP, ITFlow and AMI
DEFAULT_ALLOW = ("127.0.0.0/8", "::1/128")


def connections_that_fit(nofile: int) -> int:
    """How many open connections an open-file limit leaves room for: besides the open ones, up to a batch
    accepted but not yet seen, a batch being pushed out (closed on the next loop turn), one more batch in
    flight, and the daemon's own files."""
    return max(16, nofile - 3 * _ACCEPT_BATCH - _FD_RESERVE)


class FastAgiServer:
    """A Component serving FastAGI routes; ``port=0`` picks a free port (see ``.port`` after start).

    Asterisk is the only legitimate peer, and it sends its whole environment the moment it connects.
    So: peers outside ``allow`` are dropped at once; at most ``max_connections`` are open, and a newcomer
    at the cap pushes out the oldest connection that has not sent a complete environment yet (a slow or
    idle one; on loopback a flood comes from the same address as Asterisk, so the address cannot decide),
    else the session that has waited longest, over ``stall_grace``, for the reply to a command Asterisk
    answers at once (a peer that sent a whole environment and then sits on the question); only when every
    open connection is a working session is the newcomer refused. Repeated log lines
    (refusals, evictions, junk, timeouts) are summarised once per ``log_interval``.
    """

    name = "fastagi"

    def __init__(
        self,
        host: str,
        port: int,
        routes: Mapping[str, Route],
        *,
        env_timeout: float = 2.0,
        command_timeout: float = 10.0,
        session_timeout: float = 900.0,
        allow: Sequence[str] = DEFAULT_ALLOW,
        max_connections: int = 2048,
        stall_grace: float = 1.0,
        log_interval: float = 10.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.routes = dict(routes)
        self.env_timeout = env_timeout
        self.command_timeout = command_timeout
        self.session_timeout = session_timeout
        self.allow = networks(allow)
        self.max_connections = max_connections
        self.stall_grace = stall_grace
        self.metrics = metrics
        self._log = Throttle(log, interval=log_interval)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._open: set[Connection] = set()
        # Connections still without a complete environment, oldest first (a dict keeps insertion order).
        self._unready: dict[Connection, None] = {}
        self._stopping = False
        self.stats: dict[str, int] = {
            "sessions": 0,
            "malformed_lines": 0,
            "errors": 0,
            "no_route": 0,
            "early_close": 0,
            "timeouts": 0,
            "hangups": 0,
            "not_allowed": 0,
            "evicted": 0,
            "refused_full": 0,
            "junk_closed": 0,
            "stalled": 0,
        }

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.max_connections = self._fit_fd_limit(self.max_connections)
        self._server = await loop.create_server(
            lambda: Connection(self), self.host, self.port, backlog=_ACCEPT_BATCH
        )
        for sock in self._server.sockets:
            # asyncio's accept batch stays _ACCEPT_BATCH; listen() again (on a duplicate of the same
            # socket: asyncio hides the object) lengthens only the kernel's queue.
            with socket.socket(fileno=os.dup(sock.fileno())) as raw:
                raw.listen(_LISTEN_QUEUE)
        summarise_accept_errors(loop, self._log)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info(
            "FastAGI listening on %s:%d (at most %d connections), routes: %s",
            self.host,
            self.port,
            self.max_connections,
            ", ".join(sorted(self.routes)),
        )

    @staticmethod
    def _fit_fd_limit(wanted: int) -> int:
        """The cap, lowered to what the open-file limit allows: past it every accept fails (EMFILE) and
        asyncio stops accepting for a second each time, which is what makes real calls wait."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return wanted
        room = connections_that_fit(soft)
        if wanted > room:
            log.warning(
                "FastAGI: fastagi.max_connections %d does not fit the open-file limit %d; using %d "
                "(raise LimitNOFILE= in the systemd unit)",
                wanted,
                soft,
                room,
            )
            return room
        return wanted

    async def stop(self, deadline: float) -> None:
        """Refuse new connections, let running sessions finish until ``deadline``, then cancel them."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        loop = asyncio.get_running_loop()
        pending = set(self._tasks)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=max(0.0, deadline - loop.time()))
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)
        self._server = None
        self._log.close()

    async def wait_idle(self, limit: float) -> bool:
        """Wait until no session is running (True) or ``limit`` seconds passed (False)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + limit
        for _ in range(1000):  # sessions may start while we wait; bounded anyway
            if not self._tasks:
                return True
            remaining = end - loop.time()
            if remaining <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return not self._tasks

    def health(self) -> Health:
        serving = self._server is not None and self._server.is_serving()
        return Health(
            ok=serving,
            detail=f"{self.host}:{self.port}" if serving else "not listening",
            data={"active_sessions": len(self._tasks), "open_connections": len(self._open), **self.stats},
        )

    # ---- per connection
    def connected(self, conn: Connection) -> None:
        if not peer_allowed(conn.peer, self.allow):
            self._dropped("not_allowed")
            self._log.log(
                "not_allowed",
                logging.WARNING,
                "FastAGI: refused a connection from %s (not in fastagi.allow)",
                clip(conn.peer, 60),
            )
            conn.abort()
            return
        if len(self._open) >= self.max_connections and not self._make_room():
            self._dropped("refused_full")
            self._log.log(
                "refused_full",
                logging.WARNING,
                "FastAGI: %d sessions running, the most fastagi.max_connections allows; refused a "
                "connection from %s",
                len(self._open),
                clip(conn.peer, 60),
            )
            conn.abort()
            return
        self._open.add(conn)
        self._unready[conn] = None
        # Own the task (a reference kept, exceptions retrieved) instead of letting asyncio run a coroutine.
        task = asyncio.get_running_loop().create_task(self._serve(conn), name="fastagi-session")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _make_room(self) -> bool:
        """Close the oldest connection without a complete environment, else the longest-stalled session;
        False if every open connection is a working session."""
        victim = next(iter(self._unready), None)
        if victim is not None:
            self._push_out(
                victim, "evicted", "the oldest connection that had sent no complete AGI environment"
            )
            return True
        # The oldest wait for a quick reply: scanned here, at the cap only, instead of kept in order on
        # every command (Connection.quick_since).
        stalled, since = None, 0.0
        for conn in self._open:
            started = conn.quick_since
            if started is not None and not conn.closed and (stalled is None or started < since):
                stalled, since = conn, started
        now = asyncio.get_running_loop().time()
        if stalled is not None and now - since >= self.stall_grace:
            self._push_out(
                stalled,
                "stalled",
                "the session waiting longest for the reply to a command Asterisk answers at once",
            )
            return True
        return False

    def _push_out(self, victim: Connection, reason: str, what: str) -> None:
        self._forget(victim)
        victim.evicted = True
        victim.abort()
        self._dropped(reason)
        self._log.log(
            reason,
            logging.WARNING,
            "FastAGI: at the connection cap (%d): closed %s (from %s)",
            self.max_connections,
            what,
            clip(victim.peer, 60),
        )

    def _dropped(self, reason: str) -> None:
        self.stats[reason] += 1
        if self.metrics is not None:
            self.metrics.child(self.metrics.agi_dropped, reason).inc()

    def env_complete(self, conn: Connection) -> None:
        self._unready.pop(conn, None)

    def _forget(self, conn: Connection) -> None:
        self._open.discard(conn)
        self._unready.pop(conn, None)

    async def _serve(self, conn: Connection) -> None:
        self.stats["sessions"] += 1
        route_label = "unknown"
        result = "ok"
        session: AgiSession | None = None
        try:
            env = await self._read_env(conn)
            script = env.get("agi_network_script") or env.get("agi_request", "").rpartition("/")[2]
            name, query = split_script(script)
            handler = self.routes.get(name)
            if handler is None:
                result = "no_route"
                self.stats["no_route"] += 1
                # Otherwise a silent no-op: Asterisk reports AGISTATUS=SUCCESS either way.
                self._log.log(
                    "no_route",
                    logging.WARNING,
                    "FastAGI: no route %r (known: %s); the call continues unchanged",
                    clip(name, 60),
                    ", ".join(sorted(self.routes)),
                )
                return
            route_label = conn.route = name
            session = AgiSession(conn, env, route=name, query=query, command_timeout=self.command_timeout)
            async with asyncio.timeout(self.session_timeout):
                outcome = handler(session)
                if inspect.isawaitable(outcome):
                    await outcome
        except AgiConnectionClosed:
            if session is None:
                result = "early_close"
                self.stats["early_close"] += 1
                log.debug("FastAGI: peer closed before sending the environment")
            elif conn.evicted:
                result = "stalled"  # pushed out at the cap (counted and logged there)
            else:
                result = "hangup"
                self.stats["hangups"] += 1
        except AgiHangup:
            result = "hangup"
            self.stats["hangups"] += 1
        except (AgiTimeout, TimeoutError) as exc:
            result = "timeout"
            self.stats["timeouts"] += 1
            self._log.log(
                f"timeout:{route_label}",
                logging.WARNING,
                "FastAGI %s: %s",
                route_label,
                str(exc) or "session took too long",
            )
        except AgiError as exc:
            result = "error"
            self.stats["errors"] += 1
            self._log.log(f"error:{route_label}", logging.WARNING, "FastAGI %s: %s", route_label, exc)
        except asyncio.CancelledError:
            result = "cancelled"
            raise
        except Exception:
            result = "error"
            self.stats["errors"] += 1
            log.exception("FastAGI route %s failed; the call continues", route_label)
        finally:
            self._forget(conn)
            if session is not None:
                await session.close()
            else:
                conn.close()
            if self.metrics is not None:
                self._count_session(route_label, result)

    def _count_session(self, route: str, result: str) -> None:
        assert self.metrics is not None
        self.metrics.child(self.metrics.agi_sessions, route, result).inc()

    def count_malformed(self, conn: Connection, line: str) -> None:
        self.stats["malformed_lines"] += 1
        where = conn.route if conn.env_ready.done() else "environment"
        self._log.log(
            "malformed",
            logging.WARNING,
            "FastAGI %s: skipped a malformed line from %s: %r",
            where or "-",
            clip(conn.peer, 60),
            clip(line, 80),
        )
        if conn.malformed >= _MAX_MALFORMED and not conn.closed:
            # Asterisk sends none: a peer that keeps sending junk is not Asterisk.
            self._dropped("junk_closed")
            self._log.log(
                "junk_closed",
                logging.WARNING,
                "FastAGI: closed a connection from %s after %d malformed lines",
                clip(conn.peer, 60),
                conn.malformed,
            )
            self._forget(conn)
            conn.abort()

    async def _read_env(self, conn: Connection) -> dict[str, str]:
        """The environment block (parsed by the connection as it arrives), within ``env_timeout``."""
        ready = conn.env_ready
        if ready.done():
            return ready.result()
        timer = asyncio.get_running_loop().call_later(self.env_timeout, conn.env_timed_out, self.env_timeout)
        try:
            return await ready
        finally:
            timer.cancel()
