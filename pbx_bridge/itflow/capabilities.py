"""What one detection found: per feature the API generation to use, the era, and what the probes saw.

Kept apart from :mod:`.detect` (which finds it) so :mod:`.diagnosis` can read it without importing the
prober that uses diagnosis.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Capabilities", "Forced", "Generation"]

Generation = Literal["v1", "legacy"]
Forced = Literal["auto", "v1", "legacy"]


@dataclass
class Capabilities:
    """What this ITFlow and key can do, per feature: ``"v1"``, ``"legacy"`` or None (not available)."""

    directory: Generation | None = None
    cid_live: Generation | None = None
    balance: Generation | None = None
    tickets: Generation | None = None
    era: str = "unknown"
    rbac: bool = False
    has_payments: bool = False
    client_id_honoured: bool = False
    ticket_replies: bool = False
    # Era V1e (26.09+): reads honour client_id again, archived locations/vendors vanish from listings.
    v1e: bool = False
    notes: list[str] = field(default_factory=list)
    # What the probes saw (for check/report and for re-use without re-probing).
    forced: str = "auto"
    v1_key_ok: bool = False
    legacy_key_ok: bool = False
    key_all_clients: bool | None = None
    endpoints: dict[str, bool] = field(default_factory=dict)  # "module/function" -> file exists
    legacy_present: bool = False
    detected_at: float = 0.0
    # False when a probe failed for a passing reason (timeout, 5xx): the bundle detects again later.
    complete: bool = True
    # What the keyless probes got, summarised ("HTTP 503 (HTML page) x12"): names the real cause
    # when ITFlow did not answer like ITFlow (pbx_bridge.itflow.diagnosis).
    probe_answers: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Capabilities:
        """The inverse of :meth:`to_dict` (decoded JSON: the values are the fields' own types)."""
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def report(self) -> list[str]:
        """Human lines: era, the backend per feature, then the notes."""

        def show(g: str | None) -> str:
            return g or "not available"

        lines = [
            f"era: {self.era}" + (" (RBAC)" if self.rbac else ""),
            f"directory: {show(self.directory)}",
            f"caller ID live lookup: {show(self.cid_live)}",
            f"balance: {show(self.balance)}" + self._balance_kind(),
            f"tickets: {show(self.tickets)}" + (" + replies" if self.ticket_replies else ""),
        ]
        if self.v1_key_ok:
            honoured = (
                "honoured"
                if self.client_id_honoured
                else "not checked, not relied on"
                if self.v1e
                else "ignored"
            )
            lines.append(f"client_id filter on v1 reads: {honoured}")
        return lines + [f"note: {n}" for n in self.notes]

    def _balance_kind(self) -> str:
        if self.balance != "v1":
            return ""
        return " (exact: payments readable)" if self.has_payments else " (approximate: no payments)"
