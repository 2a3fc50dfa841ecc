"""From the directory's parties to phonebook entries: one model every vendor format maps down from.

An :class:`Entry` is one person or place with its typed, dialable numbers (in the form the PBX presents
as caller ID, because phones match incoming calls against the book by string), a display name from the
configured template, and a group. Archived parties and parties without a usable number are left out;
names lose control characters; the order is stable (group, then name), so an unchanged directory gives
byte-identical files.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pbx_bridge.directory.bulk import release, sorted_in_slices
from pbx_bridge.directory.model import NumberLabel, Party, PartyKind, PartyNumber
from pbx_bridge.directory.table import PartyTable
from pbx_bridge.phonebook.settings import PhonebookSettings
from pbx_bridge.phonebook.text import clean

__all__ = ["Book", "Entry", "NumberFormatter", "PhoneNumber", "build_book", "source_digest"]

log = logging.getLogger("pbx_bridge.phonebook")

_DIALABLE = re.compile(r"[^0-9*#+]")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_FIELDS = re.compile(r"\{(\w+)\}")
_LABEL_ORDER = {NumberLabel.OFFICE: 0, NumberLabel.MOBILE: 1, NumberLabel.OTHER: 2}


class NumberFormatter(Protocol):
    """What the phonebook needs of ``pbx_bridge.numbers.NumberPlan``."""

    def format(self, e164: str, form: str = "e164", dial_prefix: str = "") -> str: ...


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    label: NumberLabel
    dial: str  # what the handset dials and matches caller ID against


@dataclass(frozen=True, slots=True)
class Entry:
    key: str  # stable identity, e.g. "contact:12"
    kind: PartyKind
    name: str  # display name (template applied, cleaned, not yet cut to a vendor limit)
    first_name: str  # the party's own name split (contacts), for vCard N and CSV
    last_name: str
    organization: str  # the client's name ("" for global vendors)
    group: str
    numbers: tuple[PhoneNumber, ...]
    email: str = ""
    title: str = ""

    def number(self, label: NumberLabel) -> str:
        for n in self.numbers:
            if n.label is label:
                return n.dial
        return ""


@dataclass(frozen=True, slots=True)
class Book:
    """A built phonebook: entries in publishing order plus the groups they use (in order)."""

    entries: tuple[Entry, ...]
    groups: tuple[str, ...]
    digest: str  # content hash of the entries: equal digest, equal files
    source: str = ""
    skipped: dict[str, int] = field(default_factory=dict)
    # Derived views formats share (e.g. one record per number), filled on first use.
    cache: dict[object, object] = field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.entries)


def _split_name(name: str) -> tuple[str, str]:
    first, _, last = name.rpartition(" ")
    return (first, last) if first else ("", name)


def _render_name(template: str, used: tuple[str, ...], values: dict[str, str]) -> str:
    for f in used:
        if not values.get(f):
            return values["name"]
    try:
        text = template.format_map(values)
    except (KeyError, IndexError, ValueError):
        text = values["name"]
    return clean(text)


def _group(party: Party, settings: PhonebookSettings, client: str) -> str:
    labels = settings.group_labels
    if settings.group_by == "none":
        return clean(settings.default_group)
    if party.kind is PartyKind.VENDOR:
        return clean(labels.vendor)
    if party.kind is PartyKind.LOCATION:
        return clean(labels.location)
    if settings.group_by == "client" and client:
        return client
    return clean(labels.contact)


def _numbers(party: Party, plan: NumberFormatter, settings: PhonebookSettings) -> tuple[PhoneNumber, ...]:
    out: list[PhoneNumber] = []
    seen: set[str] = set()
    numbers: Sequence[PartyNumber] = party.numbers
    if len(numbers) > 1:
        numbers = sorted(numbers, key=lambda n: _LABEL_ORDER.get(n.label, 9))
    for pn in numbers:
        if not pn.canonical:
            continue  # not a possible number: nothing a handset could dial or match
        try:
            dial = _format(plan, pn.canonical, settings.number_format, settings.dial_prefix)
        except (ValueError, TypeError) as exc:
            log.debug(
                "phonebook: %s:%s number %s left out: not formattable as %s (%s)",
                party.kind,
                party.id,
                pn.canonical,
                settings.number_format,
                exc,
            )
            continue
        dial = _DIALABLE.sub("", dial or "")
        if dial and dial not in seen:
            seen.add(dial)
            out.append(PhoneNumber(pn.label, dial))
    return tuple(out)


def _format(plan: NumberFormatter, canonical: str, form: str, prefix: str) -> str:
    # The canonical key is already E.164 (NumberPlan.canonical formats it so): the two E.164 forms need
    # no re-parse, which is most of the build time of a 100k book. National goes through the plan.
    if form in ("e164", "e164-no-plus") and _E164.match(canonical):
        text = canonical if form == "e164" else canonical[1:]
        if prefix:
            if text.startswith("+"):
                raise ValueError("a dial prefix cannot precede '+'")
            text = prefix + text
        return text
    return plan.format(canonical, form=form, dial_prefix=prefix)


def build_book(
    parties: Iterable[Party], plan: NumberFormatter, settings: PhonebookSettings, *, source: str = ""
) -> Book:
    """Entries for ``parties`` per ``settings``: archived and number-less parties are skipped (counted)."""
    include = set(settings.include)
    templates = {k: (t, tuple(_FIELDS.findall(t))) for k, t in settings.name_templates.model_dump().items()}
    skipped = {"archived": 0, "kind": 0, "no_number": 0}
    rows: list[tuple[str, str, str, Entry]] = []
    keys: dict[str, int] = {}
    for party in parties:
        if party.archived:
            skipped["archived"] += 1
            continue
        if party.kind not in include:
            skipped["kind"] += 1
            continue
        numbers = _numbers(party, plan, settings)
        if not numbers:
            skipped["no_number"] += 1
            continue
        own = clean(party.name)
        client = clean(party.client_name)
        if not own:
            own = client or numbers[0].dial  # legacy rows may carry no name; never publish a blank one
        first, last = _split_name(own) if party.kind is PartyKind.CONTACT else ("", own)
        # A party named after its client (legacy rows without a contact name) is not "ACME (ACME)".
        shown_client = "" if own.casefold() == client.casefold() else client
        values = {
            "name": own,
            "client": shown_client,
            "first": first,
            "last": last,
            "title": clean(party.title),
        }
        template, used = templates[party.kind]
        name = _render_name(template, used, values) or own
        group = _group(party, settings, client)
        key = f"{party.kind}:{party.id}" if party.id else f"{party.kind}:{own}:{numbers[0].dial}"
        if key in keys:  # legacy duplicates (same name and number twice) stay distinct entries
            keys[key] += 1
            key = f"{key}#{keys[key]}"
        else:
            keys[key] = 1
        entry = Entry(
            key=key,
            kind=party.kind,
            name=name,
            first_name=first,
            last_name=last,
            organization=client,
            group=group,
            numbers=numbers,
            email=clean(party.email),
            title=clean(party.title),
        )
        rows.append((group.casefold(), name.casefold(), key, entry))
    # In slices: one sort of 100k rows would hold the GIL for tens of ms (directory/bulk.py).
    rows = sorted_in_slices(rows, key=lambda r: (r[0], r[1], r[2]))
    entries = tuple(r[3] for r in rows)
    release([rows])  # the rows' casefolded keys, freed a slice at a time
    groups = tuple(dict.fromkeys(e.group for e in entries))
    if any(skipped.values()):
        log.info(
            "phonebook: %d entries; skipped %d archived, %d excluded kinds, %d without a number",
            len(entries),
            skipped["archived"],
            skipped["kind"],
            skipped["no_number"],
        )
    return Book(entries=entries, groups=groups, digest=_digest(entries), source=source, skipped=skipped)


def _digest(entries: tuple[Entry, ...]) -> str:
    h = hashlib.sha256()
    for e in entries:
        nums = "\x1e".join(f"{n.label}={n.dial}" for n in e.numbers)
        h.update(
            "\x1f".join(
                (e.key, e.name, e.first_name, e.last_name, e.organization, e.group, e.email, e.title, nums)
            ).encode("utf-8", "surrogatepass")
        )
        h.update(b"\x1d")
    return h.hexdigest()


def source_digest(parties: Iterable[Party], settings: PhonebookSettings) -> str:
    """A cheap fingerprint of the inputs (parties + the settings that shape entries).

    Equal fingerprints give equal books, so an unchanged directory skips building and rendering.
    """
    h = hashlib.sha256(settings.model_dump_json().encode())
    if isinstance(parties, PartyTable):  # packed: its bytes are the content (no party decoded)
        h.update(parties.data)
        return h.hexdigest()
    for p in parties:
        h.update(
            f"{p.kind}\x1f{p.id}\x1f{p.name}\x1f{p.client_id}\x1f{p.client_name}\x1f"
            f"{p.archived}\x1f{p.title}\x1f{p.email}".encode("utf-8", "surrogatepass")
        )
        for n in p.numbers:
            h.update(f"\x1e{n.label}\x1f{n.canonical}".encode("utf-8", "surrogatepass"))
        h.update(b"\x1d")
    return h.hexdigest()
