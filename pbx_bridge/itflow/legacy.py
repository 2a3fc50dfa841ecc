"""Client for ITFlow's legacy ``/api.php`` (2019-05 to 2022-04; still found on old installs).

**The key is in the URL.** api.php reads only query parameters, so ``api_key`` must be one: it lands
in ITFlow's web-server access log. Use a key made for pbx-bridge alone. On our side the key is added
to the request on its way to the wire (:class:`~pbx_bridge.itflow.transport.KeyInQueryTransport`), so
httpx's request log, our logs and every error text show ``/api.php?cid=...`` without it.

Framing quirks handled (docs/itflow-api.md §1 and §6):

* a leading ``\\n`` on every answer (2019-08 to 2022-02); PHP notices in the body (display_errors=On);
* auth failures as HTTP 200 texts (``Missing the API Key``, ``Incorrect API Key``, the 2019
  ``BAAAAADDDDD`` page), as a 302 to ``login.php``, or as 401 texts (2022);
* ``cid``: ``name - number``, ``" - number"`` = no match, the pre-2019-08 bare name / empty body, and a
  500 whose body still holds the answer (PHP 8, names with an apostrophe, docs/itflow-api.md §6.4);
* ``account_balance``: PHP float printing (``100.5``, ``150``, ``-25``, ``1.0E+15``);
* lists as ``entry<br>entry<br>`` with no newlines;
* the phonebook's broken XML (unescaped ``&`` and ``<``, declaration glued to the root, odd
  indentation), read with lxml's recovering parser after repairing what can be repaired, so no entry
  around the damage is lost.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import httpx
from lxml import etree

from pbx_bridge.itflow.errors import (
    AuthError,
    MalformedResponse,
    NotAvailable,
    ServerError,
    redact,
)
from pbx_bridge.itflow.transport import ApiClient, RetryPolicy, send_with_retries

__all__ = [
    "LegacyClient",
    "LegacyClientEmail",
    "LegacyClientNumber",
    "LegacyPhonebookEntry",
    "LegacyPrimaryContactEmail",
    "LegacyPrimaryContactNumbers",
    "check_answer",
    "parse_cid_answer",
    "parse_phonebook",
    "parse_php_float",
]

log = logging.getLogger("pbx_bridge.itflow.legacy")

# Whole answers that mean "key not accepted" in the eras that said so with HTTP 200 (docs/itflow-api.md §1.2).
_AUTH_ANSWERS = frozenset(
    {
        "Missing the API Key",
        "Missing the API Key.",
        "Incorrect API Key",
        "Incorrect API Key.",
        "Incorrect or expired API Key.",
        "<h1> Ma!! You've been BAAAAADDDDD!! </h1>",
    }
)
# PHP notices/warnings printed into the body when display_errors=On.
_PHP_NOTICE = re.compile(
    r"<br\s*/?>\s*<b>(?:Notice|Warning|Deprecated|Fatal error)</b>:.*?<br\s*/?>\s*", re.IGNORECASE | re.DOTALL
)
_CID_TAIL = re.compile(r"^(?P<name>.*) - (?P<number>-?\d+)$", re.DOTALL)
_PHP_FLOAT = re.compile(r"^-?(?:\d+(?:\.\d+)?(?:E[+-]?\d+)?|INF|NAN)$", re.IGNORECASE)
_KNOWN_TAGS = "AddressBook|Contact|LastName|FirstName|Phone|phonenumber|Groups|groupid"
_BARE_AMP = re.compile(r"&(?!(?:[A-Za-z][A-Za-z0-9]*|#\d+|#x[0-9A-Fa-f]+);)")
_STRAY_LT = re.compile(rf"<(?!/?(?:{_KNOWN_TAGS})\s*/?>|\?xml|!--)")


@dataclass(frozen=True)
class LegacyPhonebookEntry:
    """One ``<Contact>`` of the legacy XML phonebook. ``group`` is the ``groupid`` text ("" if none).

    Final era (2022): group 0 = the primary contact of each client (empty name and number for a client
    without one), group 1 = vendors. Earlier: 0 clients, 1 contacts (always empty), 2 vendors.
    """

    name: str
    number: str
    group: str = ""


@dataclass(frozen=True)
class LegacyClientNumber:
    """``client_numbers`` entry (2019 to 2022-02): a client and its phone."""

    client_name: str
    phone: str


@dataclass(frozen=True)
class LegacyClientEmail:
    client_name: str
    email: str


@dataclass(frozen=True)
class LegacyPrimaryContactNumbers:
    """``primary_contact_numbers`` entry (2022-02 on): each client with its primary contact, if any."""

    client_name: str
    contact_name: str
    contact_phone: str
    contact_mobile: str


@dataclass(frozen=True)
class LegacyPrimaryContactEmail:
    client_name: str
    contact_name: str
    contact_email: str


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _phone(value: str) -> str:
    # The 2019-2022 schema defaulted contact_mobile to the text 'NULL'.
    value = value.strip()
    return "" if value.upper() == "NULL" else value


def _clean_text(body: str) -> str:
    """Drop the 2019-2022 leading newline and any PHP notices printed into the answer."""
    if body.startswith("\n"):
        body = body[1:]
    return _PHP_NOTICE.sub("", body)


def parse_cid_answer(text: str) -> str | None:
    """The name in a ``cid`` answer, or None for no match.

    ``"Jane Doe - 4125551234"`` -> ``"Jane Doe"``; ``" - 4125551234"`` and ``""`` -> None; a bare name
    (before 2019-08-21) -> the name. A name may itself contain ``" - "``; the number is the last part.
    """
    text = _clean_text(text).strip("\r\n")
    if not text.strip():
        return None
    m = _CID_TAIL.match(text)
    name = m.group("name") if m else text
    name = name.strip()
    return name or None


def parse_php_float(text: str) -> Decimal:
    """PHP's ``echo`` of a float (precision 14): ``100.5``, ``150``, ``-25``, ``0``, ``1.0E+15``."""
    raw = _clean_text(text).strip()
    if not _PHP_FLOAT.match(raw) or raw.upper() in ("INF", "-INF", "NAN"):
        raise ValueError(f"not a PHP number: {raw[:40]!r}")
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"not a PHP number: {raw[:40]!r}") from None


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _repair_xml(text: str) -> str:
    """Make the legacy phonebook parseable: text before the declaration, bare ``&`` and stray ``<``."""
    text = _PHP_NOTICE.sub("", text)
    start = text.find("<?xml")
    if start < 0:
        start = text.find("<AddressBook")
    text = text[start:] if start >= 0 else text
    # A control character in one name makes libxml2's recovery drop entities later in the document
    # ("Bell & Whistle" -> "Bell  Whistle"); XML cannot carry them anyway.
    text = _XML_ILLEGAL.sub("", text)
    text = _BARE_AMP.sub("&amp;", text)
    return _STRAY_LT.sub("&lt;", text)


def parse_phonebook(data: bytes | str) -> list[LegacyPhonebookEntry]:
    """Entries of a legacy phonebook, in document order, keeping every ``<Contact>`` (also empty ones)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    repaired = _repair_xml(text)
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
    root = etree.fromstring(repaired.encode("utf-8"), parser=parser)
    if root is None:
        if not text.strip():
            return []
        raise ValueError("no XML address book in the answer")
    entries: list[LegacyPhonebookEntry] = []
    for contact in root.iter("Contact"):
        name = contact.findtext("LastName") or ""
        number = contact.findtext("Phone/phonenumber")
        if number is None:
            number = contact.findtext(".//phonenumber") or ""
        group = contact.findtext("Groups/groupid") or contact.findtext(".//groupid") or ""
        entries.append(LegacyPhonebookEntry(name=name.strip(), number=_phone(number), group=group.strip()))
    return entries


def check_answer(
    status: int, text: str, location: str = "", *, endpoint: str = "api.php", allow_500: bool = False
) -> None:
    """Raise the error an api.php answer means, in any era; return for a usable answer.

    Auth failures: 401 texts (2022), the same texts with HTTP 200 (2019-08 to 2022-01), the 2019
    ``BAAAAADDDDD`` page, or a 302 to ``login.php`` (2019-07/08). 404: no api.php at all.
    """
    body = _clean_text(text).strip()
    if status in (401, 403) or (status == 200 and body in _AUTH_ANSWERS):
        raise AuthError(
            f"the API key was not accepted ({body[:60] or f'HTTP {status}'}). api.php keys are 16 "
            "characters, under Settings > API Keys (2022) or General Settings (2019-2021).",
            endpoint=endpoint,
            status=status,
            server_message=body[:120],
        )
    if status in (301, 302, 303, 307, 308):
        if "login" in location:
            raise AuthError(
                "the API key was not accepted (api.php redirected to login.php).",
                endpoint=endpoint,
                status=status,
            )
        raise MalformedResponse(
            f"api.php redirected (HTTP {status}); is itflow.url the base URL?",
            endpoint=endpoint,
            status=status,
        )
    if status == 404:
        raise NotAvailable(
            "this ITFlow has no api.php (removed in April 2022): use the v1 API (itflow.api: v1 or auto).",
            endpoint=endpoint,
            status=404,
        )
    if status >= 500 and not allow_500:
        raise ServerError(
            f"api.php failed with HTTP {status} (a PHP/SQL error on the server).",
            endpoint=endpoint,
            status=status,
        )
    if status != 200 and status < 500:
        raise MalformedResponse(f"unexpected HTTP {status} from api.php.", endpoint=endpoint, status=status)


def _br_list(text: str) -> list[str]:
    return [part for part in _clean_text(text).split("<br>") if part.strip()]


class LegacyClient(ApiClient):
    """Client for one ITFlow's ``/api.php``. Use as ``async with LegacyClient(url, key) as api: ...``."""

    key_in_query = True

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        verify_tls: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(
            base_url, api_key, timeout=timeout, verify_tls=verify_tls, transport=transport, retry=retry
        )
        self.saw_leading_newline: bool | None = None  # framing seen on the last answer (era hint)

    # ------------------------------------------------------------------ transport

    async def request(
        self, function: str, params: dict[str, str], *, idempotent: bool = True, allow_500: bool = False
    ) -> tuple[int, str]:
        """GET ``/api.php?<params>`` (the key is added on the wire); returns (status, body text).

        Auth failures of every era raise :class:`AuthError`; 404 :class:`NotAvailable`; 5xx
        :class:`ServerError` unless ``allow_500`` (the caller reads the body itself).
        """
        endpoint = f"api.php?{function}"
        started = time.monotonic()

        def send() -> Awaitable[httpx.Response]:
            return self._http.get("/api.php", params=params)

        response = await send_with_retries(
            send,
            endpoint=endpoint,
            idempotent=idempotent,
            policy=self._retry,
            secret=self._key,
            timeout_s=self._timeout,
        )
        status = response.status_code
        text = redact(response.content.decode("utf-8", "replace"), self._key)
        self.saw_leading_newline = text.startswith("\n")
        log.debug(
            "GET %s -> HTTP %d, %d bytes, %.3f s", endpoint, status, len(text), time.monotonic() - started
        )
        check_answer(
            status, text, response.headers.get("location", ""), endpoint=endpoint, allow_500=allow_500
        )
        return status, text

    # ------------------------------------------------------------------ functions

    async def cid(self, number: str) -> str | None:
        """Caller-ID name for ``number`` (None = no match). Only digits are sent: api.php intval()s the
        value, so a formatted number would become 0 and match the first record with an empty phone.

        A 500 whose body still carries ``name - number`` is an answer (PHP 8: the name had an
        apostrophe and ITFlow's alert INSERT failed after printing it, docs/itflow-api.md §6.4)."""
        digits = _digits(number)
        if not digits or not digits.lstrip("0"):
            return None  # would be intval 0: never ask, it matches empty phones
        status, text = await self.request("cid", {"cid": digits}, allow_500=True)
        if status >= 500:
            cleaned = _clean_text(text).strip()
            if _CID_TAIL.match(cleaned):
                log.debug("api.php?cid: HTTP %d but the body holds the answer; using it", status)
                return parse_cid_answer(cleaned)
            raise ServerError(
                f"api.php failed with HTTP {status} and no answer in the body.",
                endpoint="api.php?cid",
                status=status,
            )
        return parse_cid_answer(text)

    async def phonebook(self) -> list[LegacyPhonebookEntry]:
        """The XML phonebook, parsed leniently (see :func:`parse_phonebook`)."""
        _, text = await self.request("phonebook", {"phonebook": "1"})
        if not _clean_text(text).strip():
            raise NotAvailable(
                "api.php answered nothing to phonebook (before 2019-08 it was phonebookalpha).",
                endpoint="api.php?phonebook",
                status=200,
            )
        try:
            return parse_phonebook(text)
        except ValueError as exc:
            raise MalformedResponse(
                f"the phonebook is not XML ({exc}).", endpoint="api.php?phonebook", status=200
            ) from None

    async def account_balance(self, client_id: int) -> Decimal:
        """ITFlow's balance of a client (invoices not Draft/Cancelled minus their payments).

        ``account_balance=<id>`` is the only form api.php ever read; the ``client_id=`` URL in old
        READMEs answers nothing. An unknown client is 0, not an error."""
        _, text = await self.request("account_balance", {"account_balance": str(int(client_id))})
        if not _clean_text(text).strip():
            raise NotAvailable(
                "api.php answered nothing to account_balance.", endpoint="api.php?account_balance", status=200
            )
        try:
            return parse_php_float(text)
        except ValueError as exc:
            raise MalformedResponse(str(exc), endpoint="api.php?account_balance", status=200) from None

    async def client_numbers(self) -> list[LegacyClientNumber]:
        """Every client's name and phone (api.php before 2022-02-04; later ones answer nothing)."""
        _, text = await self.request("client_numbers", {"client_numbers": "1"})
        out = []
        for entry in _br_list(text):
            name, _, phone = entry.rpartition(" - ")
            out.append(LegacyClientNumber(client_name=name.strip(), phone=_phone(phone)))
        return out

    async def client_emails(self) -> list[LegacyClientEmail]:
        """Every client's name and e-mail (before 2022-02-04)."""
        _, text = await self.request("client_emails", {"client_emails": "1"})
        out = []
        for entry in _br_list(text):
            name, _, email = entry.rpartition(" - ")
            out.append(LegacyClientEmail(client_name=name.strip(), email=email.strip()))
        return out

    async def primary_contact_numbers(self) -> list[LegacyPrimaryContactNumbers]:
        """Every client with its primary contact's name, phone and mobile (2022-02-04 on); a client
        without a primary contact has empty contact fields."""
        _, text = await self.request("primary_contact_numbers", {"primary_contact_numbers": "1"})
        out = []
        for entry in _br_list(text):
            # phones are digits only, so split them off the right; the client name may hold " - "
            rest, _, mobile = entry.rpartition(" - ")
            rest, _, phone = rest.rpartition(" - ")
            client, _, contact = rest.rpartition(" - ")
            out.append(
                LegacyPrimaryContactNumbers(
                    client_name=client.strip(),
                    contact_name=contact.strip(),
                    contact_phone=_phone(phone),
                    contact_mobile=_phone(mobile),
                )
            )
        return out

    async def primary_contact_emails(self) -> list[LegacyPrimaryContactEmail]:
        """Every client with its primary contact's name and e-mail (2022-02-04 on)."""
        _, text = await self.request("primary_contact_emails", {"primary_contact_emails": "1"})
        out = []
        for entry in _br_list(text):
            rest, _, email = entry.rpartition(" - ")
            client, _, contact = rest.rpartition(" - ")
            out.append(
                LegacyPrimaryContactEmail(
                    client_name=client.strip(), contact_name=contact.strip(), contact_email=email.strip()
                )
            )
        return out

    async def incoming_call(self) -> bool:
        """Ask api.php to log an incoming call. True when it answered 200; False for the 500 every
        PHP 8 install gives (its log INSERT never worked since 2019-09). Not repeated on failure."""
        status, _ = await self.request(
            "incoming_call", {"incoming_call": "1"}, idempotent=False, allow_500=True
        )
        return status == 200

    async def add_asset(
        self,
        client_id: int,
        name: str,
        *,
        type: str = "",
        make: str = "",
        model: str = "",
        serial: str = "",
        os: str = "",
    ) -> bool:
        """Add an asset to a client (2022-01 on). True when api.php said ``Asset added!`` (which it
        says even when its INSERT failed). A write: never repeated blindly."""
        params = {"add_asset": name, "client_id": str(int(client_id))}
        params.update(
            {
                k: v
                for k, v in (("type", type), ("make", make), ("model", model), ("serial", serial), ("os", os))
                if v
            }
        )
        _, text = await self.request("add_asset", params, idempotent=False)
        return "Asset added!" in _clean_text(text)
