"""Caller-ID lookup: the index first, then (on a miss) ITFlow live within a hard budget, then a cache.

A ringing call never waits longer than ``callerid.live_budget`` for ITFlow. A live request that has not
answered by then keeps running in the background (bounded: one per number, ``max_inflight`` in all, each
under the ITFlow client's own timeout) so its answer is cached for the next call from that number.
ITFlow failing (down, 5xx) pauses live lookups for ``live_cooldown`` seconds: calls are answered from
the index alone instead of queueing on a dead server.

v1 asks ``contacts/read?contact_phone_or_mobile=`` with each digit variant ITFlow may store (it matches
exact strings). Legacy asks ``api.php?cid``, at most ``legacy_cid_per_minute`` times a minute, because
every legacy ``cid`` call writes an alert and a log row into ITFlow.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from pbx_bridge.callerid.settings import CallerIdSettings
from pbx_bridge.directory.display import cut, sanitize
from pbx_bridge.directory.index import DirectoryIndex, resolve
from pbx_bridge.directory.model import LookupResult, MatchKind, NumberLabel, Party
from pbx_bridge.directory.parties import contact_party
from pbx_bridge.directory.settings import DirectorySettings
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.itflow.errors import ItflowError
from pbx_bridge.itflow.legacy import LegacyClient
from pbx_bridge.itflow.v1 import V1Client
from pbx_bridge.metrics import Metrics
from pbx_bridge.numbers import NumberPlan

__all__ = ["CallerId", "HasIndex", "IndexProvider"]

log = logging.getLogger("pbx_bridge.callerid")

IndexProvider = Callable[[], DirectoryIndex | None]


class HasIndex(Protocol):
    """Whatever holds the current index (a ``DirectorySync``)."""

    @property
    def index(self) -> DirectoryIndex | None: ...


# Live requests left running in the background get at most this long (on top of the client's timeout).
_BACKGROUND_GUARD = 30.0
# Seconds before the budget's end at which a lookup stops waiting (asyncio timers fire ~1 ms late).
_TIMER_MARGIN = 0.005


class _RateLimit:
    """A token bucket: ``per_minute`` tokens, refilled continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.capacity = float(per_minute)
        self.tokens = float(per_minute)
        self.clock = clock
        self.stamp = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.capacity / 60.0)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def _synced(index: DirectoryIndex | None) -> datetime | None:
    """When the snapshot behind ``index`` was pulled (None without one): tells cached answers' age."""
    return index.snapshot.fetched_at if index is not None else None


class CallerId:
    """``await lookup(raw)`` -> :class:`LookupResult`, never slower than the live budget.

    ``index_provider``: a callable returning the current :class:`DirectoryIndex` (or None), or an object
    with an ``index`` attribute (a ``DirectorySync``). ``itflow``: the ``Itflow`` bundle, or None for no
    live lookups. ``settings`` and ``directory``: the ``callerid`` and ``directory`` config sections
    (names of live answers are made as the directory makes them).
    """

    def __init__(
        self,
        index_provider: IndexProvider | HasIndex,
        itflow: Itflow | None,
        plan: NumberPlan,
        settings: CallerIdSettings,
        directory: DirectorySettings,
        metrics: Metrics | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if callable(index_provider):
            self._index: IndexProvider = index_provider
        else:
            holder = index_provider
            self._index = lambda: holder.index
        self.itflow = itflow
        self.plan = plan
        self.cfg = settings
        self.dcfg = directory
        self.metrics = metrics
        self.clock = clock
        # e164 -> (expires, answer, the snapshot's fetch time when it was cached)
        self._cache: OrderedDict[str, tuple[float, LookupResult, datetime | None]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[LookupResult | None]] = {}
        self._down_until = 0.0
        self._legacy_limit = _RateLimit(self.cfg.legacy_cid_per_minute, clock)

    # ------------------------------------------------------------------ public
    async def lookup(
        self, raw_number: str | None, *, live: bool | None = None, budget: float | None = None
    ) -> LookupResult:
        """Answer for a caller number as the PBX gave it.

        ``live``: None follows ``callerid.live_lookup``; False never asks ITFlow; True skips the index and
        the cache and asks ITFlow (still within ``budget``, default ``callerid.live_budget``).
        """
        t0 = time.perf_counter()
        budget = self.cfg.live_budget if budget is None else budget
        # Timers fire a little late and the answer still has to travel: stop waiting slightly early so
        # the caller has its answer within the budget, not just after it.
        deadline = t0 + budget - min(_TIMER_MARGIN, budget / 10)
        result = await self._lookup(raw_number, live, deadline)
        if self.metrics is not None:
            m = self.metrics
            m.child(m.lookup_seconds, result.source).observe(time.perf_counter() - t0)
            m.child(m.lookups, result.match.value).inc()
        return result

    async def aclose(self) -> None:
        """Cancel live lookups still running in the background."""
        tasks = list(self._inflight.values())
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
        self._inflight.clear()

    async def drain(self, wait_at_most: float = 30.0) -> None:
        """Wait (at most ``wait_at_most`` s) for live lookups still running in the background to finish."""
        tasks = list(self._inflight.values())
        if tasks:
            await asyncio.wait(tasks, timeout=wait_at_most)

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def cache_clear(self) -> None:
        self._cache.clear()

    # ------------------------------------------------------------------ steps
    def _local(self, e164: str) -> LookupResult | None:
        index = self._index()
        if index is not None:
            hit = index.lookup(e164)
            if hit.found:
                return hit
        cached = self._cache.get(e164)
        if cached is not None:
            expires, result, synced = cached
            # A name found live before the current directory was pulled is asked again: the record may
            # have been archived since (ITFlow 26.10 drops archived locations and vendors from its
            # listings outright, docs/itflow-api.md §7 row 6), and a cache must not bring it back.
            if self.clock() < expires and not (result.found and synced != _synced(index)):
                self._count_cache("hit")
                return result
            del self._cache[e164]
        return None

    async def _lookup(self, raw: str | None, live: bool | None, deadline: float) -> LookupResult:
        e164 = self.plan.lookup_key(raw)
        if e164 is None:
            return LookupResult(MatchKind.NONE, "", source="none")
        if live is not True:
            local = self._local(e164)
            if local is not None:
                return local
            self._count_cache("miss")
        want_live = self.cfg.live_lookup if live is None else live
        if not want_live or self.itflow is None:
            return LookupResult(MatchKind.NONE, e164, source="none")
        if live is not True and self.clock() < self._down_until:
            return LookupResult(MatchKind.NONE, e164, source="none")
        task = self._inflight.get(e164)
        if task is None:
            if len(self._inflight) >= self.cfg.max_inflight:
                return LookupResult(MatchKind.NONE, e164, source="none")
            task = asyncio.get_running_loop().create_task(self._live_guarded(e164), name=f"cid-live-{e164}")
            self._inflight[e164] = task
            task.add_done_callback(functools.partial(self._done, e164))
        try:
            # shield: the budget ends our wait, not the request (its answer is cached for the next call).
            wait = max(0.0, deadline - time.perf_counter())
            answer = await asyncio.wait_for(asyncio.shield(task), timeout=wait)
        except TimeoutError:
            return LookupResult(MatchKind.NONE, e164, source="none")
        except Exception:  # the task logged it; a lookup never raises into a call
            return LookupResult(MatchKind.NONE, e164, source="none")
        return answer or LookupResult(MatchKind.NONE, e164, source="none")

    async def _live_guarded(self, e164: str) -> LookupResult | None:
        try:
            async with asyncio.timeout(_BACKGROUND_GUARD):
                result = await self._live(e164)
        except (ItflowError, TimeoutError) as exc:
            self._down_until = self.clock() + self.cfg.live_cooldown
            log.warning(
                "live caller-ID lookup of %s failed (%s); index only for %.0f s",
                e164,
                exc,
                self.cfg.live_cooldown,
            )
            return None
        except Exception:
            log.exception("live caller-ID lookup of %s failed unexpectedly", e164)
            return None
        if result is not None:
            ttl = self.cfg.cache_ttl if result.found else self.cfg.negative_cache_ttl
            if ttl > 0:
                self._cache[e164] = (
                    self.clock() + ttl,
                    dataclasses.replace(result, source="cache"),
                    _synced(self._index()),
                )
                self._cache.move_to_end(e164)
                while len(self._cache) > self.cfg.cache_size:
                    self._cache.popitem(last=False)
        return result

    async def _live(self, e164: str) -> LookupResult | None:
        """Ask ITFlow; None when no answer could be had (not cached), else the answer (cached)."""
        if self.itflow is None:
            return None
        caps = await self.itflow.capabilities()
        v1, legacy = self.itflow.v1, self.itflow.legacy
        if caps.cid_live == "v1" and v1 is not None:
            return await self._live_v1(v1, e164, caps.key_all_clients is True)
        if caps.cid_live == "legacy" and legacy is not None:
            return await self._live_legacy(legacy, e164)
        return None

    async def _live_v1(self, v1: V1Client, e164: str, all_clients_key: bool) -> LookupResult:
        variants = self.plan.digit_variants(e164)
        answers = await asyncio.gather(
            *(v1.call("contacts", "read", contact_phone_or_mobile=v) for v in variants)
        )
        index = self._index()
        clients = index.clients if index is not None else {}
        archived = index.snapshot.archived_clients if index is not None else frozenset()
        candidates: dict[tuple[Party, NumberLabel], None] = {}
        for answer in answers:
            for row in answer.rows:
                party = contact_party(row, self.plan, clients)
                if party.archived or party.client_id in archived:
                    continue
                # Keep only rows whose number really is this one (exact-string match on ITFlow's side;
                # this guards against any other row coming back).
                labels = {num.label for num in party.numbers if num.canonical == e164}
                # docs/itflow-api.md Q1 (§2.5): a *mobile* match skips ITFlow's client scope (26.10 too),
                # so a restricted key can be handed another client's contact. A mobile-only match of a
                # client this key never listed is dropped unless the key is known to see all clients.
                if (
                    labels == {NumberLabel.MOBILE}
                    and clients
                    and party.client_id not in clients
                    and not all_clients_key
                ):
                    log.info(
                        "live match for %s dropped: client %d is outside this key's listing "
                        "(docs/itflow-api.md Q1)",
                        e164,
                        party.client_id,
                    )
                    continue
                for label in labels:
                    candidates[(party, label)] = None
        if not candidates:
            return LookupResult(MatchKind.NONE, e164, source="live")
        return resolve(e164, list(candidates), self.dcfg, source="live")

    async def _live_legacy(self, legacy: LegacyClient, e164: str) -> LookupResult | None:
        for digits in self.plan.digit_variants(e164)[:2]:
            if not self._legacy_limit.take():
                log.info(
                    "legacy cid rate limit reached (%d/min); %s not asked",
                    self.cfg.legacy_cid_per_minute,
                    e164,
                )
                return None
            name = await legacy.cid(digits)
            name = sanitize(name or "")
            if name:
                return LookupResult(
                    MatchKind.LEGACY,
                    e164,
                    display=cut(name, self.dcfg.max_name_length, self.dcfg.max_name_bytes),
                    source="live",
                )
        return LookupResult(MatchKind.NONE, e164, source="live")

    def _done(self, e164: str, _task: asyncio.Task[LookupResult | None]) -> None:
        self._inflight.pop(e164, None)

    def _count_cache(self, what: str) -> None:
        if self.metrics is not None:
            self.metrics.child(self.metrics.cache, what).inc()
