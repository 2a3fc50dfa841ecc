"""The in-memory index: canonical number -> the answer, computed once per snapshot, a dict lookup per call.

Several parties on one number, the preference (deterministic; the reference for docs and support):

1. contact before location before vendor;
2. then the client's primary contact (or primary location) first;
3. then a mobile before an office number (a mobile belongs to one person, an office line is often shared);
4. then the lowest ITFlow id, then the name.

When the parties on a number belong to two or more different clients, the answer is ``ambiguous``: the
display is a neutral label (``directory.ambiguous_label``, or the number itself) and no client is named,
because naming the wrong company is worse than naming none. A party without a client (a global vendor)
does not make a number ambiguous.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pbx_bridge.directory.bulk import release
from pbx_bridge.directory.display import cut, render_name, sanitize
from pbx_bridge.directory.model import LookupResult, MatchKind, NumberLabel, Party, PartyKind
from pbx_bridge.directory.settings import DirectorySettings
from pbx_bridge.directory.snapshot import Snapshot
from pbx_bridge.numbers import NumberPlan

__all__ = ["DirectoryIndex", "IndexStats"]

_KIND_RANK = {PartyKind.CONTACT: 0, PartyKind.LOCATION: 1, PartyKind.VENDOR: 2}
_LABEL_RANK = {NumberLabel.MOBILE: 0, NumberLabel.OFFICE: 1, NumberLabel.OTHER: 2}
_MATCH = {
    PartyKind.CONTACT: MatchKind.CONTACT,
    PartyKind.LOCATION: MatchKind.LOCATION,
    PartyKind.VENDOR: MatchKind.VENDOR,
}


@dataclass(frozen=True, slots=True)
class IndexStats:
    numbers: int
    ambiguous: int
    parties: int
    by_kind: dict[str, int]
    unkeyed_numbers: int  # numbers in ITFlow that are not possible numbers (never matched)


def _client_key(p: Party) -> object | None:
    if p.client_id:
        return p.client_id
    if p.client_name:
        return ("name", p.client_name.casefold())
    return None


class DirectoryIndex:
    """Immutable once built; a new snapshot builds a new index (swapped atomically by reference)."""

    def __init__(
        self,
        entries: dict[str, LookupResult],
        snapshot: Snapshot,
        plan: NumberPlan,
        settings: DirectorySettings,
        unkeyed: int = 0,
    ) -> None:
        self._entries = entries
        self.snapshot = snapshot
        self.plan = plan
        self.settings = settings
        self.clients: Mapping[int, str] = snapshot.clients
        self._unkeyed = unkeyed

    @classmethod
    def build(
        cls, snapshot: Snapshot, plan: NumberPlan, settings: DirectorySettings | None = None
    ) -> DirectoryIndex:
        s = settings or DirectorySettings()
        # number -> its one (party, label), or a list of them when several parties share it: no list
        # per number for the common case (a 100k directory: 180k lists less at the peak of a sync)
        by_number: dict[str, tuple[Party, NumberLabel] | list[tuple[Party, NumberLabel]]] = {}
        unkeyed = 0
        for party in snapshot.parties:
            if party.archived:
                continue
            for num in party.numbers:
                if not num.canonical:
                    unkeyed += 1
                    continue
                held = by_number.get(num.canonical)
                if held is None:
                    by_number[num.canonical] = (party, num.label)
                elif isinstance(held, list):
                    held.append((party, num.label))
                else:
                    by_number[num.canonical] = [held, (party, num.label)]
        entries: dict[str, LookupResult] = {}
        # Most numbers belong to one party, and most parties have several numbers: unless a template
        # shows the number, such a party's display name (and its candidates) are computed once.
        per_party = not _uses_number(s)
        shared: dict[int, tuple[str, tuple[Party, ...]]] = {}
        for e164, held in by_number.items():
            if isinstance(held, list):
                entries[e164] = resolve(e164, held, s)
            elif per_party:
                party = held[0]
                hit = shared.get(id(party))
                if hit is None:
                    hit = shared[id(party)] = (_display(party, s, e164), (party,))
                entries[e164] = _answer(e164, party, hit[1], hit[0], "index")
            else:
                entries[e164] = resolve(e164, [held], s)
        # The scaffolding (280k small tuples at 100k parties) freed a slice at a time, not in one
        # cascade when the function returns (30 ms with the GIL held: directory/bulk.py).
        parts: list[list[Any]] = [list(by_number.values()), list(shared.values())]
        by_number.clear()
        shared.clear()
        release(parts)
        return cls(entries, snapshot, plan, s, unkeyed)

    def lookup(self, e164: str) -> LookupResult:
        """The answer for a canonical number; ``MatchKind.NONE`` (source "none") when unknown."""
        hit = self._entries.get(e164)
        if hit is not None:
            return hit
        return LookupResult(MatchKind.NONE, e164, source="none")

    def answers(self) -> Iterator[LookupResult]:
        """Every stored answer (one per number)."""
        return iter(self._entries.values())

    def __contains__(self, e164: object) -> bool:
        return e164 in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> IndexStats:
        return IndexStats(
            numbers=len(self._entries),
            ambiguous=sum(1 for r in self._entries.values() if r.match is MatchKind.AMBIGUOUS),
            parties=len(self.snapshot.parties),
            by_kind=self.snapshot.count_by_kind(),
            unkeyed_numbers=self._unkeyed,
        )


def preference(item: tuple[Party, NumberLabel]) -> tuple[int, int, int, int, str]:
    party, label = item
    return (_KIND_RANK[party.kind], 0 if party.primary else 1, _LABEL_RANK[label], party.id, party.name)


def resolve(
    e164: str, candidates: list[tuple[Party, NumberLabel]], settings: DirectorySettings, source: str = "index"
) -> LookupResult:
    """The answer for ``e164`` given every party holding it (see the module doc for the rules)."""
    if len(candidates) == 1:  # most numbers: one party, nothing to order
        parties: tuple[Party, ...] = (candidates[0][0],)
    else:
        ordered = sorted(candidates, key=preference)
        parties = tuple(dict.fromkeys(p for p, _ in ordered))
    clients = {k for k in (_client_key(p) for p in parties) if k is not None}
    if len(clients) > 1:
        label = sanitize(settings.ambiguous_label) or e164
        return LookupResult(
            MatchKind.AMBIGUOUS,
            e164,
            display=cut(label, settings.max_name_length, settings.max_name_bytes),
            source=source,
            candidates=parties,
        )
    best = parties[0]
    # A party without a client next to one with a client (a global vendor sharing a client's number):
    # the preference chose; the client of the chosen party is the one named.
    return _answer(e164, best, parties, _display(best, settings, e164), source)


def _display(party: Party, settings: DirectorySettings, e164: str) -> str:
    return render_name(
        party,
        settings.name_template,
        settings.name_template_no_client,
        settings.max_name_length,
        e164,
        settings.max_name_bytes,
    )


def _answer(e164: str, best: Party, parties: tuple[Party, ...], display: str, source: str) -> LookupResult:
    return LookupResult(
        _MATCH[best.kind],
        e164,
        display=display,
        party=best,
        client_id=best.client_id,
        client_name=best.client_name,
        contact_id=best.id if best.kind is PartyKind.CONTACT else 0,
        source=source,
        candidates=parties,
    )


def _uses_number(settings: DirectorySettings) -> bool:
    """True when a name template shows ``{number}`` (then each number has its own display name)."""
    for template in (settings.name_template, settings.name_template_no_client):
        for _, field, _, _ in string.Formatter().parse(template):
            if field is not None and re.split(r"[.\[]", field, maxsplit=1)[0] == "number":
                return True
    return False
