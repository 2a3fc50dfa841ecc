"""Signed-in technicians: sessions that expire, a CSRF token each, and a limit on failed sign-ins.

Sessions live in memory: a restart or a reload (SIGHUP) signs everyone out, which is also how an
administrator revokes access at once (docs/screen.md, "Security").
"""

from __future__ import annotations

import hmac
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FailureLimit", "Session", "Sessions"]


@dataclass(slots=True)
class Session:
    id: str
    username: str
    csrf: str
    created: float
    seen: float


class Sessions:
    def __init__(
        self, *, clock: Callable[[], float], lifetime: float, idle: float, max_sessions: int = 1000
    ) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.idle = idle
        self.max_sessions = max_sessions
        self._by_id: dict[str, Session] = {}

    def create(self, username: str) -> Session:
        now = self.clock()
        self._expire(now)
        if len(self._by_id) >= self.max_sessions:  # the oldest goes: memory stays bounded
            oldest = min(self._by_id.values(), key=lambda s: s.seen)
            del self._by_id[oldest.id]
        session = Session(secrets.token_urlsafe(32), username, secrets.token_urlsafe(32), now, now)
        self._by_id[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of this cookie value (its idle timer restarted), or None."""
        if not session_id:
            return None
        session = self._by_id.get(session_id)
        if session is None:
            return None
        now = self.clock()
        if now - session.created >= self.lifetime or now - session.seen >= self.idle:
            del self._by_id[session.id]
            return None
        session.seen = now
        return session

    def drop(self, session_id: str) -> None:
        self._by_id.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._by_id)

    def _expire(self, now: float) -> None:
        for s in [
            s for s in self._by_id.values() if now - s.created >= self.lifetime or now - s.seen >= self.idle
        ]:
            del self._by_id[s.id]

    @staticmethod
    def csrf_ok(session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(session.csrf.encode(), (given or "").encode())


class FailureLimit:
    """At most ``limit`` failures per key within ``window`` seconds (a sliding window)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float], max_keys: int = 10000) -> None:
        self.limit, self.window, self.clock, self.max_keys = limit, window, clock, max_keys
        self._seen: dict[str, deque[float]] = {}

    def _times(self, key: str) -> deque[float]:
        times = self._seen.get(key)
        if times is None:
            if len(self._seen) >= self.max_keys:
                self._seen.pop(next(iter(self._seen)))
            times = self._seen[key] = deque()
        cutoff = self.clock() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        return times

    def blocked(self, key: str) -> bool:
        return len(self._times(key)) >= self.limit

    def fail(self, key: str) -> None:
        self._times(key).append(self.clock())

    def take(self, key: str) -> bool:
        """Count one use; False when the limit is already reached (a rate limit)."""
        times = self._times(key)
        if len(times) >= self.limit:
            return False
        times.append(self.clock())
        return True
