"""Prometheus metrics, on a registry of their own (no module-level state): one ``Metrics`` per daemon.

Components receive the ``Metrics`` instance and update the metrics they own; ``/metrics`` renders the
registry. Names follow Prometheus conventions (``_total`` counters, base units: seconds, bytes).
"""

from __future__ import annotations

from typing import TypeVar, cast

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.3, 1.0, 3.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], MetricWrapperBase] = {}
        # caller ID
        self.lookup_seconds = Histogram(
            "pbx_bridge_lookup_seconds",
            "Caller-ID lookup latency",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.lookups = Counter(
            "pbx_bridge_lookups_total", "Caller-ID lookups by result", ["match"], registry=r
        )
        self.cache = Counter(
            "pbx_bridge_lookup_cache_total", "Live-lookup cache hits and misses", ["result"], registry=r
        )
        self.directory_size = Gauge(
            "pbx_bridge_directory_numbers", "Numbers in the directory index", registry=r
        )
        self.directory_synced = Gauge(
            "pbx_bridge_directory_last_sync_timestamp_seconds",
            "When the directory last synced successfully",
            registry=r,
        )
        self.directory_sync_failures = Counter(
            "pbx_bridge_directory_sync_failures_total", "Failed directory syncs", registry=r
        )
        # AMI
        self.ami_connected = Gauge("pbx_bridge_ami_connected", "1 while logged in to AMI", registry=r)
        self.ami_reconnects = Counter("pbx_bridge_ami_reconnects_total", "AMI reconnects", registry=r)
        self.ami_events = Counter("pbx_bridge_ami_events_total", "AMI events received", registry=r)
        self.ami_bad_events = Counter(
            "pbx_bridge_ami_malformed_events_total", "AMI events skipped as malformed", registry=r
        )
        self.calls_active = Gauge("pbx_bridge_calls_active", "Calls being tracked", registry=r)
        self.call_outcomes = Counter(
            "pbx_bridge_call_outcomes_total", "Finished calls by outcome", ["outcome"], registry=r
        )
        # tickets outbox
        self.outbox_depth = Gauge("pbx_bridge_outbox_pending", "Tickets waiting for delivery", registry=r)
        self.outbox_oldest = Gauge(
            "pbx_bridge_outbox_oldest_age_seconds", "Age of the oldest undelivered ticket", registry=r
        )
        self.outbox_dead = Gauge(
            "pbx_bridge_outbox_dead_letters", "Tickets in the dead-letter state", registry=r
        )
        self.outbox_held = Gauge(
            "pbx_bridge_outbox_held", "1 while delivery is held (key rejected)", registry=r
        )
        self.tickets_delivered = Counter(
            "pbx_bridge_tickets_delivered_total", "Tickets and replies created", ["kind"], registry=r
        )
        # phonebook
        self.phonebook_success = Gauge(
            "pbx_bridge_phonebook_last_success_timestamp_seconds",
            "When the phonebook was last published",
            registry=r,
        )
        self.phonebook_entries = Gauge(
            "pbx_bridge_phonebook_entries", "Entries in the published phonebook", registry=r
        )
        self.phonebook_guarded = Counter(
            "pbx_bridge_phonebook_shrink_guard_total",
            "Syncs not published because the directory shrank",
            registry=r,
        )
        # FastAGI / balance
        self.agi_sessions = Counter(
            "pbx_bridge_agi_sessions_total",
            "FastAGI sessions by route and result",
            ["route", "result"],
            registry=r,
        )
        self.balance_requests = Counter(
            "pbx_bridge_balance_requests_total", "Balance requests by result", ["result"], registry=r
        )
        self.agi_dropped = Counter(
            "pbx_bridge_agi_connections_dropped_total",
            "FastAGI connections closed by the server's guards, by reason "
            "(not_allowed, evicted, stalled, refused_full, junk_closed)",
            ["reason"],
            registry=r,
        )

    def child(self, metric: M, *labels: str) -> M:
        """``metric.labels(*labels)``, cached: ``.labels()`` takes a lock and builds a key on every call,
        too much for the per-call paths (FastAGI sessions, lookups). Label sets are small and bounded."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return cast(M, found)  # stored under this metric's id: a child of the same class

    def render(self) -> bytes:
        return generate_latest(self.registry)
