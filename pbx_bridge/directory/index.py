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

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pbx_bridge.directory.display import cut, render_name, sanitize
from pbx_bridge.directory.model import LookupResult, MatchKind, NumberLabel, Party, PartyKind
from pbx_bridge.directory.settings import DirectorySettings
from pbx_bridge.directory.snapshot import Snapshot
from pbx_bridge.directory.table import LABEL_CODE, KeyCollector, NumberKeys, e164_key
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


_CODE_LABEL = {v: k for k, v in LABEL_CODE.items()}


class DirectoryIndex:
    """Immutable once built; a new snapshot builds a new index (swapped atomically by reference).

    Compact (docs/callerid.md, "Directory at scale"): two sorted integer arrays, number -> (party row,
    label), beside the snapshot's packed party table. A lookup is a binary search and the decoding of
    the parties on that number; the answer is computed per lookup, not stored per number.
    """

    def __init__(
        self, keys: NumberKeys, snapshot: Snapshot, plan: NumberPlan, settings: DirectorySettings
    ) -> None:
        self.keys = keys
        self._keys = keys.keys
        self._rows = keys.rows
        self._odd = keys.odd
        self.snapshot = snapshot
        self.plan = plan
        self.settings = settings
        self.clients: Mapping[int, str] = snapshot.clients
        self._unkeyed = keys.unkeyed
        self._numbers = self._ambiguous = 0
        self._count()

    @classmethod
    def build(
        cls, snapshot: Snapshot, plan: NumberPlan, settings: DirectorySettings | None = None
    ) -> DirectoryIndex:
        """The index of ``snapshot``: from the keys collected when it was pulled or stored when they
        were made under ``plan``, else from one pass over its parties."""
        fingerprint = plan.fingerprint()
        keys = snapshot.keys
        if keys is None or keys.plan != fingerprint:
            collect = KeyCollector()
            for row, party in enumerate(snapshot.parties):
                collect.add(row, party)
            keys = collect.finish(fingerprint)
        return cls(keys, snapshot, plan, settings or DirectorySettings())

    def _count(self) -> None:
        keys = self._keys
        numbers = ambiguous = 0
        i, n = 0, len(keys)
        while i < n:
            j = i + 1
            while j < n and keys[j] == keys[i]:
                j += 1
            numbers += 1
            if j - i > 1 and self._resolve("+" + str(keys[i]), i, j).match is MatchKind.AMBIGUOUS:
                ambiguous += 1
            i = j
        for e164, entries in self._odd.items():
            numbers += 1
            if len(entries) > 1 and self._answer_of(e164, entries).match is MatchKind.AMBIGUOUS:
                ambiguous += 1
        self._numbers, self._ambiguous = numbers, ambiguous

    def _span(self, e164: str) -> tuple[int, int]:
        k = e164_key(e164)
        if k is None:
            return 0, 0
        keys = self._keys
        i = bisect_left(keys, k)
        j = i
        while j < len(keys) and keys[j] == k:
            j += 1
        return i, j

    def _resolve(self, e164: str, i: int, j: int) -> LookupResult:
        return self._answer_of(e164, self._rows[i:j])

    def _answer_of(self, e164: str, entries: Iterable[int]) -> LookupResult:
        parties = self.snapshot.parties
        held = [(parties[e >> 2], _CODE_LABEL[e & 3]) for e in entries]
        return resolve(e164, held, self.settings)

    def lookup(self, e164: str) -> LookupResult:
        """The answer for a canonical number; ``MatchKind.NONE`` (source "none") when unknown."""
        i, j = self._span(e164)
        if i < j:
            return self._resolve(e164, i, j)
        entries = self._odd.get(e164)
        if entries:
            return self._answer_of(e164, entries)
        return LookupResult(MatchKind.NONE, e164, source="none")

    def __contains__(self, e164: object) -> bool:
        if not isinstance(e164, str):
            return False
        i, j = self._span(e164)
        return i < j or e164 in self._odd

    def __len__(self) -> int:
        return self._numbers

    def stats(self) -> IndexStats:
        return IndexStats(
            numbers=self._numbers,
            ambiguous=self._ambiguous,
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
