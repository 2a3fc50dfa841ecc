"""``PartyTable``: every party of a snapshot packed into one buffer, read back as :class:`Party` on demand.

A 100k directory as objects is about 720,000 small containers (73 MB, docs/callerid.md "Directory at
scale") that every full garbage collection walks and that are freed in one long cascade. Packed, it is
one byte buffer (each party a compact JSON array, UTF-8) and one array of offsets: a few objects the
collector does not track, about 15 MB, freed at once, stored and loaded as two blobs. A lookup decodes
the one or two parties it names (a few microseconds); the phonebook decodes them one at a time.
"""

from __future__ import annotations

import json
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from pbx_bridge.directory.bulk import sorted_in_slices
from pbx_bridge.directory.model import NumberLabel, Party, PartyKind, PartyNumber

__all__ = [
    "LABEL_CODE",
    "KeyCollector",
    "NumberKeys",
    "PartyTable",
    "TableBuilder",
    "decode_party",
    "e164_key",
    "encode_party",
]

# A number's key: the E.164 digits as an integer (lossless: E.164 never starts with 0); the odd key
# that is not "+digits" (none from phonenumbers' E.164 format) is kept in a small dict instead.
_E164 = re.compile(r"\+[1-9][0-9]{0,17}")
SHIFT = 32  # a packed entry: key << 32 | row << 2 | label code
LABEL_CODE = {NumberLabel.OFFICE: 0, NumberLabel.MOBILE: 1, NumberLabel.OTHER: 2}


def e164_key(e164: str) -> int | None:
    return int(e164[1:]) if _E164.fullmatch(e164) else None


@dataclass(frozen=True, slots=True)
class NumberKeys:
    """Every keyed number of a table, sorted: ``keys[i]`` is held by party ``rows[i] >> 2`` under label
    code ``rows[i] & 3``; made under the number plan whose fingerprint is ``plan``."""

    plan: str
    keys: array[int] = field(default_factory=lambda: array("q"))
    rows: array[int] = field(default_factory=lambda: array("q"))
    odd: dict[str, list[int]] = field(default_factory=dict)
    unkeyed: int = 0


class KeyCollector:
    """Collects the (number, row, label) entries of parties as they are packed, sorted at the end."""

    __slots__ = ("_odd", "_packed", "unkeyed")

    def __init__(self) -> None:
        self._packed: list[int] = []
        self._odd: dict[str, list[int]] = {}
        self.unkeyed = 0

    def add(self, row: int, party: Party) -> None:
        if party.archived:
            return
        for num in party.numbers:
            if not num.canonical:
                self.unkeyed += 1
                continue
            entry = row << 2 | LABEL_CODE[num.label]
            k = e164_key(num.canonical)
            if k is None:
                self._odd.setdefault(num.canonical, []).append(entry)
            else:
                self._packed.append(k << SHIFT | entry)

    def truncate(self, rows: int) -> None:
        self._packed = [x for x in self._packed if (x & ((1 << SHIFT) - 1)) >> 2 < rows]
        self._odd = {k: kept for k, v in self._odd.items() if (kept := [e for e in v if e >> 2 < rows])}

    def finish(self, plan: str) -> NumberKeys:
        # One sort of 180k integers is one C call holding the GIL for tens of ms: sorted in slices.
        ordered = sorted_in_slices(self._packed, key=_identity)
        self._packed = []
        mask = (1 << SHIFT) - 1
        keys = array("q", (x >> SHIFT for x in ordered))
        rows = array("q", (x & mask for x in ordered))
        return NumberKeys(plan, keys, rows, self._odd, self.unkeyed)


def _identity(x: int) -> int:
    return x


_KINDS = {k.value: k for k in PartyKind}
_LABELS = {k.value: k for k in NumberLabel}
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def encode_party(p: Party) -> bytes:
    """One party as the compact JSON array the table stores (field order fixed: a stored format)."""
    return _encode(
        [
            p.kind.value,
            p.id,
            p.name,
            p.client_id,
            p.client_name,
            1 if p.primary else 0,
            p.title,
            p.email,
            1 if p.archived else 0,
            [[n.label.value, n.raw, n.canonical, n.extension, n.country_code] for n in p.numbers],
        ]
    ).encode()


def decode_party(record: bytes | bytearray | memoryview) -> Party:
    r: list[Any] = json.loads(bytes(record))
    return Party(
        kind=_KINDS[r[0]],
        id=r[1],
        name=r[2],
        client_id=r[3],
        client_name=r[4],
        primary=bool(r[5]),
        title=r[6],
        email=r[7],
        archived=bool(r[8]),
        numbers=tuple(PartyNumber(_LABELS[n[0]], n[1], n[2], n[3], n[4]) for n in r[9]),
    )


class PartyTable(Sequence[Party]):
    """An immutable sequence of parties, packed (see the module doc). Equal to any sequence of the same
    parties, so code and tests that held a tuple of parties read it unchanged."""

    __slots__ = ("_data", "_offsets")

    def __init__(self, data: bytes | bytearray = b"", offsets: array[int] | None = None) -> None:
        self._data = data
        self._offsets = offsets if offsets is not None else array("Q", [0])
        if len(self._offsets) == 0 or self._offsets[-1] != len(data):
            raise ValueError("party table: offsets do not match the data")

    @classmethod
    def of(cls, parties: Iterable[Party]) -> PartyTable:
        if isinstance(parties, PartyTable):
            return parties
        b = TableBuilder()
        for p in parties:
            b.add(p)
        return b.finish()

    @property
    def data(self) -> bytes | bytearray:
        return self._data

    @property
    def offsets(self) -> array[int]:
        return self._offsets

    def record(self, i: int) -> bytes | bytearray:
        o = self._offsets
        return self._data[o[i] : o[i + 1]]

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def count_by_kind(self) -> dict[str, int]:
        """Parties per kind, read from each record's first field without decoding it."""
        out = {k.value: 0 for k in PartyKind}
        first = {ord(k.value[0]): k.value for k in PartyKind}  # contact, location, vendor: distinct
        data = self._data
        for off in self._offsets[:-1]:
            out[first[data[off + 2]]] += 1  # a record starts with '["<kind>"'
        return out

    def keyed_numbers(self) -> Iterator[tuple[str, str, str]]:
        """(raw, country code, canonical) of every number, read without building parties."""
        data, o = self._data, self._offsets
        for i in range(len(o) - 1):
            for n in json.loads(data[o[i] : o[i + 1]])[9]:
                yield n[1], n[4], n[2]

    @overload
    def __getitem__(self, i: int) -> Party: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Party]: ...
    def __getitem__(self, i: int | slice) -> Party | Sequence[Party]:
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(len(self))))
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("party table index out of range")
        return decode_party(self.record(i))

    def __iter__(self) -> Iterator[Party]:
        data, o = self._data, self._offsets
        for i in range(len(o) - 1):
            yield decode_party(data[o[i] : o[i + 1]])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PartyTable):
            return self._data == other._data and self._offsets == other._offsets
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash((len(self._data), bytes(self._data[:256])))  # equal tables: equal data

    def __repr__(self) -> str:
        return f"PartyTable({len(self)} parties, {len(self._data)} bytes)"


class TableBuilder:
    """Appends parties to one growing buffer: no object per party survives the append. Collects their
    number keys on the way (``keys()``), so an index needs no second pass over the table."""

    __slots__ = ("_data", "_keys", "_offsets")

    def __init__(self) -> None:
        self._data = bytearray()
        self._offsets = array("Q", [0])
        self._keys = KeyCollector()

    def add(self, p: Party) -> None:
        self._keys.add(len(self), p)
        self._data += encode_party(p)
        self._offsets.append(len(self._data))

    def extend(self, parties: Iterable[Party]) -> None:
        for p in parties:
            self.add(p)

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` parties only."""
        del self._data[self._offsets[n] :]
        del self._offsets[n + 1 :]
        self._keys.truncate(n)

    def keys(self, plan: str) -> NumberKeys:
        """The collected keys (once, after the last add), made under the plan fingerprinted ``plan``."""
        return self._keys.finish(plan)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def finish(self) -> PartyTable:
        # The buffer itself, handed over (never written again): a copy of 15 MB is one C call that
        # held the event loop for 26-52 ms at the end of a 100k pull (measured with a stack sampler).
        data, self._data = self._data, bytearray()
        offsets, self._offsets = self._offsets, array("Q", [0])
        return PartyTable(data, offsets)
