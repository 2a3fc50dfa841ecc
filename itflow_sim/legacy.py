"""``/api.php`` at commit 6132ce81e (final logic, key era K5; docs/itflow-api.md §1, §6.2/§6.4 overriding).

Query parameters only, any HTTP method. Functions fire independently, in source order, and their
outputs concatenate: cid, incoming_call, primary_contact_numbers, phonebook, primary_contact_emails,
account_balance, add_asset. Text answers are ``text/html; charset=UTF-8``; lists are ``<br>``-joined.
With ``mysqli_exceptions`` (PHP >= 8.1) a failing INSERT ends the request with HTTP 500 but keeps what
was already echoed (docs/itflow-api.md §6.4); without it (PHP 7) the failure is silent.
"""

from __future__ import annotations

from collections.abc import Mapping

from itflow_sim.auth import find_key
from itflow_sim.data import Database, Row
from itflow_sim.envelope import Reply
from itflow_sim.php import intval, php_empty, php_float_str, sql_num, strip_tags

__all__ = ["LegacyApi"]

HTML = "text/html; charset=UTF-8"
XML = "text/xml;charset=UTF-8"
_XML_HEADERS = {"Pragma": "public", "Cache-control": "private", "Expires": "-1"}
_CID_PARTS = (
    ("contacts", "contact_phone", "contact_name"),
    ("contacts", "contact_mobile", "contact_name"),
    ("locations", "location_phone", "location_name"),
    ("vendors", "vendor_phone", "vendor_name"),
)


class _Fatal(Exception):
    """An uncaught mysqli exception: PHP stops, status 500, the output so far is still sent."""


def _entry(name: str, phone: str, group: int, *, vendor: bool = False) -> str:
    # Whitespace from the PHP template (docs/itflow-api.md §6.2): each entry opens with 8 spaces and
    # closes with a newline and 8 spaces (vendor entries with a blank line first), so entries are
    # separated by "\n" + 16 spaces and the document ends "</Contact>\n\n        </AddressBook>".
    tail = "\n\n        " if vendor else "\n        "
    return (
        "        <Contact>\n"
        f"            <LastName>{name}</LastName>\n"
        "            <Phone>\n"
        f"                <phonenumber>{phone}</phonenumber>\n"
        "            </Phone>\n"
        "            <Groups>\n"
        f"                <groupid>{group}</groupid>\n"
        "            </Groups>\n"
        f"        </Contact>{tail}"
    )


def _s(value: str | None) -> str:
    return "" if value is None else value  # PHP echoes NULL as ""


class LegacyApi:
    def __init__(
        self,
        db: Database,
        *,
        leading_newline: bool,
        mysqli_exceptions: bool,
        phonebook_era: str,
        auth_era: str = "K5",
        era: str = "final",
    ) -> None:
        self.auth_era = auth_era
        self.broken_2021 = era == "2021-broken"
        self.db = db
        self.leading_newline = leading_newline
        self.mysqli_exceptions = mysqli_exceptions
        self.phonebook_era = phonebook_era

    def handle(self, query: Mapping[str, str], *, ip: str = "127.0.0.1", user_agent: str = "") -> Reply:
        out: list[str] = ["\n"] if self.leading_newline else []
        reply = Reply(200, b"", HTML)
        self._ip, self._ua = ip, user_agent
        key = query.get("api_key")
        # K2 (2019-08 -> 2022-01): HTTP 200 texts, "missing" only when the parameter is absent;
        # K3/K4: 401 with a period; K5 (the pinned commit): 401 "Incorrect or expired API Key.".
        era = self.auth_era
        missing = key is None if era == "K2" else php_empty(key)
        if missing:
            self.db.log("API", "Failed", "No API Key specified", log_ip=ip, log_user_agent=user_agent)
            text, status = ("Missing the API Key", 200) if era == "K2" else ("Missing the API Key.", 401)
            return self._done(reply, [*out, text], status, committed=False)
        assert key is not None
        if find_key(self.db, key) is None:
            self.db.log("API", "Failed", "Incorrect or expired key", log_ip=ip, log_user_agent=user_agent)
            text, status = {"K2": ("Incorrect API Key", 200), "K3": ("Incorrect API Key.", 401)}.get(
                era, ("Incorrect or expired API Key.", 401)
            )
            return self._done(reply, [*out, text], status, committed=False)
        try:
            if "cid" in query:
                out.append(
                    self._broken_cid(query["cid"]) if self.broken_2021 else self._cid(query["cid"], out)
                )
            if "incoming_call" in query:
                self._insert_or_fail(
                    None, "logs", {"log_type": "call", "log_description": "incoming", "log_action": None}
                )
            if self.broken_2021 and "client_numbers" in query:
                out.append(self._client_list("Client Numbers", "Client Phone Numbers were pulled"))
            if not self.broken_2021 and "primary_contact_numbers" in query:
                out.append(self._primary_numbers())
            if "phonebook" in query:
                reply.content_type = XML
                reply.headers.update(_XML_HEADERS)
                out.append(self._phonebook())
            if self.broken_2021 and "client_emails" in query:
                out.append(self._client_list("Client Emails", "Client Emails were pulled"))
            if not self.broken_2021 and "primary_contact_emails" in query:
                out.append(self._primary_emails())
            if "account_balance" in query:
                out.append(
                    self._broken_balance() if self.broken_2021 else self._balance(query["account_balance"])
                )
            if "add_asset" in query and "client_id" in query:
                out.append(self._add_asset(query))
        except _Fatal:
            return self._done(reply, out, 500)
        return self._done(reply, out, 200)

    @staticmethod
    def _done(reply: Reply, out: list[str], status: int, *, committed: bool = True) -> Reply:
        reply.status = status
        reply.body = "".join(out).encode("utf-8", "surrogateescape")
        reply.committed = committed  # an authenticated request writes log/alert rows
        return reply

    def _insert_or_fail(self, check: str | None, table: str, values: dict[str, object]) -> None:
        """An INSERT built by string concatenation: a ``'`` in ``check`` or a NULL log_action fails."""
        broken = (check is not None and "'" in check) or (
            table == "logs" and values.get("log_action") is None
        )
        if broken:
            if self.mysqli_exceptions:
                raise _Fatal
            return
        self.db.insert(table, values)

    def _log(self, action: str, description: str) -> None:
        self.db.log("API", action, description, log_ip=self._ip, log_user_agent=self._ua)

    # ---- functions --------------------------------------------------------------------------------------

    def _cid(self, raw: str, out: list[str]) -> str:
        number = intval(raw)
        name = ""
        for table, col, name_col in _CID_PARTS:
            idc = f"{table[:-1]}_id"
            rows = sorted(self.db[table], key=lambda r: int(r[idc] or 0))
            hit = next((r for r in rows if (v := sql_num(r[col])) is not None and v == number), None)
            if hit is not None:
                name = _s(hit[name_col])
                break
        answer = f"{name} - {number}"
        # The echo happens before the (unescaped) INSERTs: a fatal error there keeps the answer
        # (docs/itflow-api.md §6.4).
        out.append(answer)
        text = f"Inbound call from {answer}"
        self._insert_or_fail(
            name, "alerts", {"alert_type": "Inbound Call", "alert_message": text, "alert_date": self.db.now()}
        )
        self._insert_or_fail(
            name,
            "logs",
            {
                "log_type": "Call",
                "log_action": "Inbound",
                "log_description": text,
                "log_ip": self._ip,
                "log_user_agent": self._ua,
                "log_created_at": self.db.now(),
            },
        )
        out.pop()
        return answer

    # ---- 2021-08-27 -> 2022-02-04 16:22: the schema dropped clients.client_phone/client_email and renamed
    # invoices.client_id, but api.php still used them (docs/itflow-api.md §1.5, §1.6, §1.8 "broken window").

    def _sql_failed(self) -> None:
        if self.mysqli_exceptions:
            raise _Fatal  # the SELECT fails before anything is echoed

    def _broken_cid(self, raw: str) -> str:
        self._sql_failed()
        answer = f" - {intval(raw)}"
        text = f"Inbound call from {answer}"
        self.db.insert(
            "alerts", {"alert_type": "Inbound Call", "alert_message": text, "alert_date": self.db.now()}
        )
        self.db.log("Call", "Inbound", text, log_ip=self._ip, log_user_agent=self._ua)
        return answer

    def _client_list(self, action: str, description: str) -> str:
        # SELECT * still works; PHP reads the vanished client_phone/client_email as undefined: empty.
        clients = sorted(self.db["clients"], key=lambda r: int(r["client_id"] or 0))
        self._log(action, description)
        return "".join(f"{_s(c['client_name'])} - <br>" for c in clients)

    def _broken_balance(self) -> str:
        self._sql_failed()
        return "0"

    def _clients_with_primary(self) -> list[tuple[Row, Row | None]]:
        clients = sorted(self.db["clients"], key=lambda r: int(r["client_id"] or 0))
        primary: dict[str | None, Row] = {}
        for c in sorted(self.db["contacts"], key=lambda r: int(r["contact_id"] or 0)):
            if c["contact_primary"] == "1":
                primary.setdefault(c["contact_client_id"], c)  # one map, not a scan per client
        return [(c, primary.get(c["client_id"])) for c in clients]

    def _primary_numbers(self) -> str:
        parts = []
        for client, contact in self._clients_with_primary():
            c = contact or {}
            parts.append(
                f"{_s(client['client_name'])} - {_s(c.get('contact_name'))} - "
                f"{_s(c.get('contact_phone'))} - {_s(c.get('contact_mobile'))}<br>"
            )
        self._log("Client Numbers", "Client Phone Numbers were pulled")
        return "".join(parts)

    def _primary_emails(self) -> str:
        parts = []
        for client, contact in self._clients_with_primary():
            c = contact or {}
            parts.append(
                f"{_s(client['client_name'])} - {_s(c.get('contact_name'))} - "
                f"{_s(c.get('contact_email'))}<br>"
            )
        self._log("Client Emails", "Client Emails were pulled")
        return "".join(parts)

    def _phonebook(self) -> str:
        entries: list[str] = []
        vendors = sorted(self.db["vendors"], key=lambda r: int(r["vendor_id"] or 0))
        if self.phonebook_era == "2019":
            # 2019-08 -> 2022-02 era as it ran last (2021-08 -> 2022-02): client phones gone, contact entries
            # empty because of the variable-name bug, vendors in group 2.
            for client in sorted(self.db["clients"], key=lambda r: int(r["client_id"] or 0)):
                entries.append(_entry(_s(client["client_name"]), "", 0))
            for _ in self.db["contacts"]:
                entries.append(_entry("", "", 1))
            vendor_group = 2
        else:
            for _client, contact in self._clients_with_primary():
                c = contact or {}
                entries.append(_entry(_s(c.get("contact_name")), _s(c.get("contact_phone")), 0))
            vendor_group = 1
        for v in vendors:
            entries.append(_entry(_s(v["vendor_name"]), _s(v["vendor_phone"]), vendor_group, vendor=True))
        self._log("Phonebook", "XML Phonebook Downloaded")
        return '<?xml version="1.0" encoding="utf-8"?><AddressBook>' + "".join(entries) + "</AddressBook>"

    def _balance(self, raw: str) -> str:
        cid = str(intval(raw))
        invoices = [i for i in self.db["invoices"] if i["invoice_client_id"] == cid]
        billed = [
            i["invoice_amount"]
            for i in invoices
            if (i["invoice_status"] or "").casefold() not in ("draft", "cancelled")
        ]
        ids = {i["invoice_id"] for i in invoices}
        paid = [p["payment_amount"] for p in self.db["payments"] if p["payment_invoice_id"] in ids]
        # SUM() of no rows is NULL; PHP's null - null is int 0, anything else a float.
        if not billed and not paid:
            value: float | int = 0
        else:
            value = sum(float(x or 0) for x in billed) - sum(float(x or 0) for x in paid)
        text = php_float_str(value)
        self._log("Account Balance", f"Client {cid} checked their balance which had a balance of {text}")
        return text

    def _add_asset(self, query: Mapping[str, str]) -> str:
        def clean(name: str) -> str:
            return strip_tags(query.get(name, "")).strip(" \t\n\r\0\x0b")

        name = clean("add_asset")
        self.db.insert(
            "assets",
            {
                "asset_name": name,
                "asset_type": clean("type"),
                "asset_make": clean("make"),
                "asset_model": clean("model"),
                "asset_serial": clean("serial"),
                "asset_os": clean("os"),
                "asset_client_id": intval(query.get("client_id")),
            },
        )
        self._log("Asset Created", name)
        return "Asset added!"
