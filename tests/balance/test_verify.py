"""Attempt limits over time (SQLite on disk, clock injected) and identification rules."""

from __future__ import annotations

from pbx_bridge.balance.verify import AttemptLog, Why, _identity_from_lookup
from pbx_bridge.directory.model import LookupResult, MatchKind, Party, PartyKind
from pbx_bridge.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_failures_expire_after_the_window_and_survive_a_restart(tmp_path) -> None:
    clock = Clock()
    store = Store.in_state_dir(tmp_path)
    log = AttemptLog(store, clock=clock)
    for _ in range(3):
        await log.record(number="+14125550101", client_id=1, call_id="c1", kind="pin", ok=False)
    await log.record(number="+14125550101", client_id=1, call_id="c1", kind="pin", ok=True)
    assert await log.failures(number="+14125550101", window=3600) == 3
    assert await log.failures(client_id=1, window=3600) == 3
    store.close()

    store = Store.in_state_dir(tmp_path)  # a daemon restart keeps them
    log = AttemptLog(store, clock=clock)
    assert await log.failures(number="+14125550101", window=3600) == 3
    clock.now += 3601
    assert await log.failures(number="+14125550101", window=3600) == 0
    assert await log.prune(3600) == 4
    store.close()


def _party(kind: PartyKind, pid: int, client: int, *, archived: bool = False) -> Party:
    return Party(
        kind=kind, id=pid, name=f"p{pid}", client_id=client, client_name=f"c{client}", archived=archived
    )


def test_identification_rules() -> None:
    alice = _party(PartyKind.CONTACT, 1, 1)
    ident, why = _identity_from_lookup(
        LookupResult(MatchKind.CONTACT, "+1", party=alice, client_id=1, contact_id=1)
    )
    assert ident is not None and (ident.client_id, ident.contact_ids, why) == (1, (1,), Why.CALLERID)
    archived = _party(PartyKind.CONTACT, 6, 1, archived=True)
    assert (
        _identity_from_lookup(LookupResult(MatchKind.CONTACT, "+1", party=archived, client_id=1))[1]
        is Why.ARCHIVED
    )
    vendor = _party(PartyKind.VENDOR, 2, 1)
    assert (
        _identity_from_lookup(LookupResult(MatchKind.VENDOR, "+1", party=vendor, client_id=1))[1]
        is Why.UNKNOWN
    )
    same_client = (_party(PartyKind.CONTACT, 1, 1), _party(PartyKind.CONTACT, 2, 1))
    ident, _ = _identity_from_lookup(LookupResult(MatchKind.AMBIGUOUS, "+1", candidates=same_client))
    assert ident is not None and (ident.client_id, ident.contact_ids) == (1, (1, 2))
    two_clients = (_party(PartyKind.CONTACT, 1, 1), _party(PartyKind.CONTACT, 3, 2))
    assert _identity_from_lookup(LookupResult(MatchKind.AMBIGUOUS, "+1", candidates=two_clients)) == (
        None,
        Why.AMBIGUOUS,
    )
    assert _identity_from_lookup(LookupResult(MatchKind.LEGACY, "+1", display="ACME"))[1] is Why.NO_IDS
