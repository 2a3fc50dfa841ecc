"""Pulling the directory out of ITFlow, from either API generation, into a :class:`Snapshot`.

v1: the listings of clients, contacts, locations and vendors, paged (reads never filter archived rows,
docs/itflow-api.md §2.5 Q12, so ``*_archived_at`` is checked here; a party of an archived client is left
out too).
Clients carry no phone since 2021; they name the company of the parties that belong to them.

Legacy (``api.php``): ``primary_contact_numbers`` (client name, primary contact, phone and mobile) and
``phonebook`` (primary contacts' office numbers and every vendor). Legacy answers carry no ids, cannot
tell archived records apart, and name no client for a vendor. Other contacts are found live (``cid``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from datetime import UTC, datetime

from pbx_bridge.directory.bulk import collect_young
from pbx_bridge.directory.model import NumberLabel, Party, PartyKind, PartyNumber
from pbx_bridge.directory.parties import (
    Canonical,
    Row,
    contact_party,
    int_of,
    is_archived,
    location_party,
    make_number,
    numbers_of,
    text_of,
    vendor_party,
)
from pbx_bridge.directory.snapshot import Snapshot
from pbx_bridge.directory.table import PartyTable, TableBuilder
from pbx_bridge.errors import PbxBridgeError
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.itflow.diagnosis import explain
from pbx_bridge.itflow.errors import ItflowError, NotAvailable, PermissionDenied
from pbx_bridge.itflow.legacy import LegacyClient
from pbx_bridge.itflow.v1 import V1Client
from pbx_bridge.numbers import NumberPlan

__all__ = ["SyncError", "pull", "pull_legacy", "pull_v1", "rekey"]

log = logging.getLogger("pbx_bridge.directory")


class SyncError(PbxBridgeError):
    """The directory could not be pulled; the last good snapshot stays in use."""


# ------------------------------------------------------------------ v1


async def _parties(
    v1: V1Client,
    module: str,
    page_size: int,
    convert: Callable[[Row], Party | None],
    table: TableBuilder,
) -> None:
    """Every row of ``module`` turned into a party page by page and packed into ``table``: each page is
    converted in a worker thread (a phonenumbers parse per number: CPU work kept off the event loop)
    while the next page is fetched, so ITFlow serves and we parse at the same time, and neither raw rows
    nor party objects pile up (only their packed records stay: directory/table.py)."""
    pages = v1.iter_pages(module, "read", page_size=page_size)

    def convert_page(rows: Sequence[Row]) -> None:
        # In the worker thread, into the table: one page at a time (the awaits below), never two.
        table.extend(p for r in rows if (p := convert(r)) is not None)

    fetch: asyncio.Future[list[dict[str, str]]] | None = None
    try:
        fetch = asyncio.ensure_future(anext(pages))
        while True:
            try:
                page = await fetch
            except StopAsyncIteration:
                fetch = None
                break
            fetch = asyncio.ensure_future(anext(pages))
            await asyncio.to_thread(convert_page, page)
            del page
            # The caller pauses the collector for the whole sync (directory/bulk.py); the HTTP client's
            # reference cycles holding this page's body are collected here, a page's worth at a time.
            collect_young()
    finally:
        if fetch is not None:  # a failure while converting: stop the read ahead, retrieve its outcome
            fetch.cancel()
            with contextlib.suppress(BaseException):
                await fetch
        if isinstance(pages, AsyncGenerator):  # the client's pages are an async generator
            await pages.aclose()


class _KnownKeys:
    """``NumberPlan.canonical`` answered from the previous snapshot where ITFlow still holds the same
    digits (no country-code column): a scheduled sync of an unchanged 100k directory would otherwise
    parse 180k numbers again (about 2 s of CPU). Valid only for a snapshot keyed under the same plan."""

    def __init__(self, plan: NumberPlan, previous: Snapshot) -> None:
        self._plan = plan
        self._known = {raw: key for raw, cc, key in previous.parties.keyed_numbers() if not cc}

    def canonical(self, raw: str | None, country_code: str | None = "") -> str | None:
        if not country_code and raw is not None:
            hit = self._known.get(raw)
            if hit is not None:
                return hit or None  # "" in a snapshot: not a possible number
        return self._plan.canonical(raw, country_code)


async def pull_v1(
    v1: V1Client, plan: NumberPlan, *, page_size: int = 500, previous: Snapshot | None = None
) -> Snapshot:
    notes: list[str] = []
    clients: dict[int, str] = {}
    archived_clients: set[int] = set()
    primary_ids: set[int] = set()
    try:
        # Taken over only once the whole listing was read: a listing that fails half-way names nobody.
        seen: dict[int, str] = {}
        seen_archived: set[int] = set()
        seen_primary: set[int] = set()
        async for page in v1.iter_pages("clients", "read", page_size=page_size):
            for row in page:
                cid = int_of(row, "client_id")
                if is_archived(row, "client_archived_at"):
                    seen_archived.add(cid)
                else:
                    seen[cid] = text_of(row, "client_name")
                # 2021-08 .. 2023-07: clients.primary_contact (docs/itflow-api.md §4.1).
                if int_of(row, "primary_contact"):
                    seen_primary.add(int_of(row, "primary_contact"))
        clients, archived_clients, primary_ids = seen, seen_archived, seen_primary
    except (NotAvailable, PermissionDenied) as exc:
        notes.append(f"clients not readable ({exc}); parties carry no company name")

    def keep(p: Party) -> Party | None:
        return p if p.numbers and not p.archived and p.client_id not in archived_clients else None

    keys: Canonical = plan
    if previous is not None and previous.parties:
        keys = await asyncio.to_thread(_KnownKeys, plan, previous)

    primaries = frozenset(primary_ids)

    def contact(row: Row) -> Party | None:
        return keep(contact_party(row, keys, clients, primaries))

    def converter(
        make: Callable[[Row, Canonical, Mapping[int, str]], Party],
    ) -> Callable[[Row], Party | None]:
        return lambda row: keep(make(row, keys, clients))

    table = TableBuilder()
    try:
        await _parties(v1, "contacts", page_size, contact, table)
    except ItflowError as exc:
        raise SyncError(f"cannot list contacts: {exc}") from exc
    for module, make in (("locations", location_party), ("vendors", vendor_party)):
        mark = len(table)
        try:
            await _parties(v1, module, page_size, converter(make), table)
        except (NotAvailable, PermissionDenied) as exc:
            # locations/read exists since 2024-02, vendors/read since 2024-09 (docs/itflow-api.md §3.2).
            notes.append(f"{module} not readable ({exc})")
            table.truncate(mark)  # a listing that fails half-way adds nobody
    number_keys = await asyncio.to_thread(table.keys, plan.fingerprint())
    return Snapshot(
        table.finish(),
        datetime.now(UTC),
        "v1",
        clients=clients,
        archived_clients=frozenset(archived_clients),
        notes=tuple(notes),
        keys=number_keys,
    )


# ------------------------------------------------------------------ legacy


def _field(entry: object, *names: str) -> str:
    for n in names:
        if isinstance(entry, Mapping) and n in entry:
            return str(entry[n] or "").strip()
        if hasattr(entry, n):
            return str(getattr(entry, n) or "").strip()
    return ""


async def pull_legacy(legacy: LegacyClient, plan: NumberPlan) -> Snapshot:
    notes = ["legacy api.php: no ids, archived records cannot be told apart, vendors name no client"]
    parties: list[Party] = []
    known: set[tuple[str, str]] = set()  # (name, canonical) already a party
    # The phonebook prints names through XML (CR LF normalised, illegal characters dropped), so its
    # primary-contact entries are matched to primary_contact_numbers by number, not by name.
    primary_numbers: set[str] = set()
    final_era = True
    try:
        primaries = await legacy.primary_contact_numbers()
    except NotAvailable as exc:
        primaries, final_era = [], False
        notes.append(
            f"primary_contact_numbers not available ({exc}); before 2022-02 the phonebook "
            "lists clients and vendors"
        )
    except ItflowError as exc:
        raise SyncError(f"cannot read primary_contact_numbers: {exc}") from exc
    for e in primaries:
        name = _field(e, "contact_name", "contact")
        client = _field(e, "client_name", "client")
        numbers = numbers_of(
            make_number(plan, NumberLabel.OFFICE, _field(e, "contact_phone", "phone")),
            make_number(plan, NumberLabel.MOBILE, _field(e, "contact_mobile", "mobile")),
        )
        if not numbers or not (name or client):
            continue
        parties.append(
            Party(PartyKind.CONTACT, 0, name or client, client_name=client, primary=True, numbers=numbers)
        )
        known |= {(name or client, n.canonical) for n in numbers}
        primary_numbers.update(n.canonical for n in numbers)
    try:
        book = await legacy.phonebook()
    except ItflowError as exc:
        raise SyncError(f"cannot read the legacy phonebook: {exc}") from exc
    if final_era and not primaries and any(_field(e, "group") == "2" for e in book):
        # api.php before 2022-02 answers an unknown function with an empty body, and its phonebook has a
        # third group (vendors are group 2 there): the older layout.
        final_era = False
        notes.append(
            "api.php before 2022-02: no primary_contact_numbers; the phonebook lists clients and vendors"
        )
    for entry in book:
        name = _field(entry, "name")
        num = make_number(plan, NumberLabel.OFFICE, _field(entry, "number"))
        if not name or num is None or (name, num.canonical) in known:
            continue
        group = _field(entry, "group")
        # Groups (docs/itflow-api.md §1.7): final era 0 = clients' primary contacts (known above),
        # 1 = vendors; before 2022-02: 0 = clients with their own phone, 1 = contacts (always
        # empty), 2 = vendors.
        if final_era and group == "0":
            if num.canonical and num.canonical in primary_numbers:
                continue  # a primary contact already known, with its client, from primary_contact_numbers
            party = Party(PartyKind.CONTACT, 0, name, primary=True, numbers=(num,))
        elif not final_era and group == "0":
            party = Party(PartyKind.LOCATION, 0, name, client_name=name, primary=True, numbers=(num,))
        elif not final_era and group == "1":
            party = Party(PartyKind.CONTACT, 0, name, numbers=(num,))
        else:
            party = Party(PartyKind.VENDOR, 0, name, numbers=(num,))
        parties.append(party)
        known.add((name, num.canonical))
    return Snapshot(PartyTable.of(parties), datetime.now(UTC), "legacy", notes=tuple(notes))


# ------------------------------------------------------------------ either


async def pull(
    itflow: Itflow,
    plan: NumberPlan,
    *,
    page_size: int = 500,
    redetect: bool = False,
    previous: Snapshot | None = None,
) -> Snapshot:
    """Pull from the generation ``itflow.capabilities()`` chose for the directory (``redetect``: probe
    again, e.g. after a failure: ITFlow may have been down or upgraded). ``previous``: the last snapshot,
    keyed under ``plan``, whose canonical keys are reused for unchanged numbers."""
    try:
        caps = await (itflow.capabilities(refresh=True) if redetect else itflow.capabilities())
    except ItflowError as exc:
        raise SyncError(f"cannot reach ITFlow: {exc}") from exc
    generation = caps.directory
    try:
        if generation == "v1" and itflow.v1 is not None:
            return await pull_v1(itflow.v1, plan, page_size=page_size, previous=previous)
        if generation == "legacy" and itflow.legacy is not None:
            return await pull_legacy(itflow.legacy, plan)
    except ItflowError as exc:
        raise SyncError(f"directory pull failed: {exc}") from exc
    raise SyncError(f"no directory listing from ITFlow: {explain(caps)}")


def rekey(snapshot: Snapshot, plan: NumberPlan) -> Snapshot:
    """Recompute every canonical key under ``plan`` (after numbers.* settings changed)."""
    table = TableBuilder()
    table.extend(
        Party(
            p.kind,
            p.id,
            p.name,
            p.client_id,
            p.client_name,
            tuple(
                PartyNumber(
                    n.label, n.raw, plan.canonical(n.raw, n.country_code) or "", n.extension, n.country_code
                )
                for n in p.numbers
            ),
            p.primary,
            p.title,
            p.email,
            p.archived,
        )
        for p in snapshot.parties
    )
    return Snapshot(
        table.finish(),
        snapshot.fetched_at,
        snapshot.source,
        snapshot.clients,
        snapshot.archived_clients,
        snapshot.notes,
        keys=table.keys(plan.fingerprint()),
    )
