"""The four ITFlow versions the simulator can pretend to be, and their quirk switches.

Each profile is pinned to a real ITFlow revision; what each one answers is written down in
docs/itflow-api.md (§6 lists what real servers confirmed, §7 the 26.09/26.10 changes; every § and Q
number in the tables below is that page's):

=============  ================  =====  =========================================  ======================
profile        pinned to         v1     key model / scoping                        legacy ``/api.php``
=============  ================  =====  =========================================  ======================
legacy-2022    commit 6132ce81e  V1a    company key (``api_keys`` with expiry);    yes, final logic (K5)
               (2022-02-04)             only ``assets/read`` existed in v1
v1-v25         tag v26.3         V1c    ``api_key_client_id``: 0 = all clients,    no (404 HTML)
                                        N = locked to client N; reads filter
                                        ``<x>_client_id LIKE c``; payments/read;
                                        the §6.1 stale-success quirk
v1-head        commit 0262707ef  V1d    user-bound keys + RBAC; reads ignore       no (404 HTML)
                                        ``client_id``; no payments; ticket_replies
v1-2610        release 26.10     V1e    as V1d, plus: reads honour ``client_id``   no (404 HTML)
                                        (Q1 mobile arm still leaks); archived
                                        locations/vendors/documents/domains/
                                        networks/software hidden from reads;
                                        delete needs archived contacts/locations/
                                        clients; an assignee stores status Open;
                                        63 endpoints (tickets/close, clients/
                                        delete, archive/write endpoints)
=============  ================  =====  =========================================  ======================

Quirk switches and their per-profile defaults (override with ``Simulator(..., quirks={...})``):

===================  ===========  ======  ========  ============================================
quirk                legacy-2022  v1-v25  v1-head   effect (v1-2610 has v1-head's defaults)
===================  ===========  ======  ========  ============================================
leading_newline      False        False   False     legacy bodies start with ``\\n`` (2019-08-15 ->
                                                    2022-02-04 16:51, docs/itflow-api.md §1.3)
mysqli_exceptions    True         True    True      PHP >= 8.1: an SQL error is HTTP 500 (legacy
                                                    ``cid`` 500 keeps the echoed answer, §6.4); off =
                                                    PHP 7, the failing statement is silently skipped
phonebook_era        "2022"       "2022"  "2022"    "2022": primary-contact names group 0, vendors
                                                    group 1; "2019": clients 0 (phones empty, as in
                                                    the 2021-08 -> 2022-02 window), contacts 1 with
                                                    empty values (the variable-name bug), vendors 2
numeric_keys         True         False   False     rows carry PHP numeric duplicate keys
                                                    (``"0":"12","contact_id":"12",...``), before v26.02
legacy_auth          "K5"         "K5"    "K5"      api.php key-error framing (§1.2): "K5" 401
                                                    ``Incorrect or expired API Key.``; "K3" 401
                                                    ``Incorrect API Key.``; "K2" HTTP 200 texts
                                                    ``Missing the API Key`` / ``Incorrect API Key``
legacy_era           "final"      "final" "final"   "2021-broken": api.php of 2021-08-27 -> 2022-02-04
                                                    16:22 (columns gone from the schema): cid is
                                                    `` - <n>`` (PHP 7) or 500 empty (PHP 8),
                                                    ``client_numbers``/``client_emails`` print
                                                    ``<client> - <br>``, no ``primary_contact_*``,
                                                    account_balance ``0`` / 500; pair it with
                                                    phonebook_era "2019", legacy_auth "K3" and
                                                    mysqli_exceptions False for a faithful install
===================  ===========  ======  ========  ============================================
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Literal

__all__ = ["PROFILES", "Profile", "Quirks", "resolve_quirks"]

AuthModel = Literal["company", "client", "user"]
PhonebookEra = Literal["2019", "2022"]
LegacyAuthEra = Literal["K2", "K3", "K5"]
LegacyEra = Literal["final", "2021-broken"]


@dataclass(frozen=True)
class Quirks:
    leading_newline: bool = False
    mysqli_exceptions: bool = True
    phonebook_era: PhonebookEra = "2022"
    numeric_keys: bool = False
    legacy_auth: LegacyAuthEra = "K5"
    legacy_era: LegacyEra = "final"


@dataclass(frozen=True)
class Profile:
    name: str
    pinned: str
    era: str  # v1 behavioural era (docs/itflow-api.md §3.1, §7): V1a, V1c, V1d or V1e
    auth: AuthModel
    legacy: bool  # serves /api.php
    endpoints: frozenset[str]  # "module/function" present as files
    wrong_key_message: str
    quirks: Quirks = field(default_factory=Quirks)
    # Era V1e behaviours (docs/itflow-api.md §7), all off for the older profiles.
    client_filter: bool = False  # reads narrow by a client_id parameter (body first, then query; isset)
    hides_archived: frozenset[str] = frozenset()  # tables whose reads skip archived rows, even by id
    delete_needs_archived: frozenset[str] = frozenset()  # tables whose delete refuses a live row
    assignee_opens: bool = False  # tickets/create with ticket_assigned_to > 0 stores status 2 (Open)
    lead_optional: bool = False  # clients/update without client_is_lead works (docs/itflow-api.md: Q8 fixed)

    @property
    def rbac(self) -> bool:
        return self.auth == "user"

    def has(self, module: str, function: str) -> bool:
        return f"{module}/{function}" in self.endpoints


def _eps(spec: str) -> frozenset[str]:
    out: set[str] = set()
    for part in spec.split(";"):
        module, funcs = part.split(":")
        out.update(f"{module.strip()}/{f}" for f in funcs.split())
    return frozenset(out)


HEAD_ENDPOINTS = _eps(
    "assets: read create update delete; certificates: read create;"
    "clients: read create update archive unarchive;"
    "contacts: read create update delete archive unarchive; credentials: read create update;"
    "documents: read create update; domains: read; expenses: read; invoice_items: read create;"
    "invoices: read; locations: read create; networks: read; products: read; quotes: read; software: read;"
    "technicians: time; ticket_replies: read create; tickets: read create resolve; vendors: read;"
    "custom: readme"
)
V26_3_ENDPOINTS = (
    HEAD_ENDPOINTS - _eps("invoice_items: read create; ticket_replies: read create; custom: readme")
) | _eps("payments: read")
# 26.09 added tickets/close and clients/delete; 26.10 the archive/write endpoints below
# (docs/itflow-api.md §7 rows 3, 7).
V26_10_ENDPOINTS = HEAD_ENDPOINTS | _eps(
    "tickets: close; clients: delete;"
    "locations: update archive unarchive delete; documents: archive unarchive;"
    "vendors: create update archive unarchive; domains: create update archive unarchive;"
    "networks: create update archive unarchive; software: archive unarchive"
)
# 2022-02-04: of v1 only assets/read existed (certificates/domains/networks/software came 02-05,
# contacts/tickets 02-12).
LEGACY_2022_ENDPOINTS = _eps("assets: read")

WRONG_KEY = "Authentication failed. API key is invalid or has expired."

_V1_HEAD = Profile(
    name="v1-head",
    pinned="commit 0262707ef (after v26.08)",
    era="V1d",
    auth="user",
    legacy=False,
    endpoints=HEAD_ENDPOINTS,
    wrong_key_message=WRONG_KEY,
    quirks=Quirks(),
)

PROFILES: dict[str, Profile] = {
    "legacy-2022": Profile(
        name="legacy-2022",
        pinned="commit 6132ce81e (2022-02-04)",
        era="V1a",
        auth="company",
        legacy=True,
        endpoints=LEGACY_2022_ENDPOINTS,
        wrong_key_message="API Key authentication failure or expired.",
        quirks=Quirks(numeric_keys=True),
    ),
    "v1-v25": Profile(
        name="v1-v25",
        pinned="tag v26.3",
        era="V1c",
        auth="client",
        legacy=False,
        endpoints=V26_3_ENDPOINTS,
        wrong_key_message=WRONG_KEY,
        quirks=Quirks(),
    ),
    "v1-head": _V1_HEAD,
    # 26.10 is v26.08 plus the changes of docs/itflow-api.md §7: everything not named here is v1-head's.
    "v1-2610": replace(
        _V1_HEAD,
        name="v1-2610",
        pinned="release 26.10 (DB 2.7.9)",
        era="V1e",
        endpoints=V26_10_ENDPOINTS,
        client_filter=True,
        hides_archived=frozenset({"locations", "documents", "vendors", "domains", "networks", "software"}),
        delete_needs_archived=frozenset({"contacts", "locations", "clients"}),
        assignee_opens=True,
        lead_optional=True,
    ),
}


def resolve_quirks(profile: Profile, overrides: Quirks | dict[str, object] | None) -> Quirks:
    """The profile's defaults with ``overrides`` applied; unknown names are an error."""
    if overrides is None:
        return profile.quirks
    if isinstance(overrides, Quirks):
        return overrides
    known = {f.name for f in fields(Quirks)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown simulator quirk(s): {', '.join(sorted(unknown))}; known: {sorted(known)}")
    if "phonebook_era" in overrides and overrides["phonebook_era"] not in ("2019", "2022"):
        raise ValueError("phonebook_era must be '2019' or '2022'")
    if "legacy_era" in overrides and overrides["legacy_era"] not in ("final", "2021-broken"):
        raise ValueError("legacy_era must be 'final' or '2021-broken'")
    if "legacy_auth" in overrides and overrides["legacy_auth"] not in ("K2", "K3", "K5"):
        raise ValueError("legacy_auth must be 'K2', 'K3' or 'K5'")
    return replace(profile.quirks, **overrides)  # type: ignore[arg-type]
