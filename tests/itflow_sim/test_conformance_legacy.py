"""Conformance: legacy ``/api.php`` of commit 6132ce81e on PHP 8.2 (docs/itflow-api.md §1, §6.2, §6.4,
§6.8).

Text answers are compared byte for byte with docs/itflow-api.md's examples and rules.
"""

from __future__ import annotations

import pytest
from lxml import etree

from tests.support.sim_fixtures import legacy_request

HTML = "text/html; charset=UTF-8"


async def call(sim, **params):
    return await legacy_request(sim, {"api_key": sim.keys["all"], **params})


# ---- auth (K5) -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "0"])
async def test_missing_or_php_empty_key_is_401_missing(itflow_sim, key):
    sim = await itflow_sim("legacy-2022")
    params = {"cid": "4125550101"} if key is None else {"api_key": key, "cid": "4125550101"}
    r = await legacy_request(sim, params)
    assert (r.status_code, r.content) == (401, b"Missing the API Key.")
    assert r.headers["content-type"] == HTML


@pytest.mark.parametrize("which", ["wrong", "expired"])
async def test_wrong_or_expired_key_is_401_incorrect(itflow_sim, which):
    sim = await itflow_sim("legacy-2022")
    key = "NotTheKey0000000" if which == "wrong" else sim.keys["expired"]
    r = await legacy_request(sim, {"api_key": key, "cid": "4125550101"})
    assert (r.status_code, r.content) == (401, b"Incorrect or expired API Key.")


@pytest.mark.parametrize(
    ("era", "params", "status", "body"),
    [
        ("K2", {}, 200, b"Missing the API Key"),
        ("K2", {"api_key": ""}, 200, b"Incorrect API Key"),  # K2: "missing" only when absent
        ("K2", {"api_key": "wrong"}, 200, b"Incorrect API Key"),
        ("K3", {"api_key": "0"}, 401, b"Missing the API Key."),
        ("K3", {"api_key": "wrong"}, 401, b"Incorrect API Key."),
    ],
)
async def test_older_auth_eras_framing(itflow_sim, era, params, status, body):
    sim = await itflow_sim("legacy-2022", quirks={"legacy_auth": era})
    r = await legacy_request(sim, {**params, "cid": "4125550101"})
    assert (r.status_code, r.content) == (status, body)


async def test_k2_200_error_text_with_leading_newline(itflow_sim):
    sim = await itflow_sim("legacy-2022", quirks={"legacy_auth": "K2", "leading_newline": True})
    r = await legacy_request(sim, {"api_key": "wrong", "cid": "1"})
    assert (r.status_code, r.content) == (200, b"\nIncorrect API Key")


@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
async def test_any_method_is_accepted(itflow_sim, method):
    sim = await itflow_sim("legacy-2022")
    r = await legacy_request(sim, {"api_key": sim.keys["all"], "cid": "4125550101"}, method=method)
    assert (r.status_code, r.content) == (200, b"Alice Anderson - 4125550101")


async def test_valid_key_without_function_and_the_readme_client_id_url_are_empty_200(itflow_sim):
    sim = await itflow_sim("legacy-2022")
    assert (await call(sim)).content == b""
    r = await call(sim, client_id="1")  # README's balance URL never worked (docs/itflow-api.md §1.8)
    assert (r.status_code, r.content) == (200, b"")


# ---- cid -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cid", "body"),
    [
        ("4125550101", "Alice Anderson - 4125550101"),  # contact phone
        ("4125550199", "Alice Anderson - 4125550199"),  # contact mobile
        ("4125550100", "ACME HQ - 4125550100"),  # location phone
        ("8005550123", "Bell & Whistle - 8005550123"),  # vendor phone
        ("8005550999", "Old Telecom - 8005550999"),  # archived vendor included
        ("4125550177", "Archie Archived - 4125550177"),  # archived contact included
        ("+14125550101", " - 14125550101"),  # intval keeps the country code digits: no such number stored
        ("17245550124", "Carla Country - 17245550124"),
        ("04125550101", "Alice Anderson - 4125550101"),  # leading zero dropped by intval
        ("9999999999", " - 9999999999"),  # no match: empty name, leading space
        # docs/itflow-api.md §6.8: formatted input is 0, matching the first empty phone
        ("(412) 555-0101", "Nora NoPhone - 0"),
        ("abc", "Nora NoPhone - 0"),
        ("99999999999999999999999", " - 9223372036854775807"),  # saturates
    ],
)
async def test_cid_intval_and_numeric_matching(itflow_sim, cid, body):
    sim = await itflow_sim("legacy-2022")
    r = await call(sim, cid=cid)
    assert (r.status_code, r.text) == (200, body)
    assert r.headers["content-type"] == HTML


async def test_cid_writes_alert_and_log_rows(itflow_sim):
    sim = await itflow_sim("legacy-2022")
    await call(sim, cid="4125550101")
    assert sim.db.alerts[-1]["alert_type"] == "Inbound Call"
    assert sim.db.alerts[-1]["alert_message"] == "Inbound call from Alice Anderson - 4125550101"
    log = sim.db.logs[-1]
    assert (log["log_type"], log["log_action"], log["log_description"]) == (
        "Call",
        "Inbound",
        "Inbound call from Alice Anderson - 4125550101",
    )


async def test_apostrophe_name_is_500_with_the_answer_and_stops_later_functions(itflow_sim):
    sim = await itflow_sim("legacy-2022")
    r = await call(sim, cid="7245550121", account_balance="1")
    assert (r.status_code, r.text) == (500, "Siobhan O'Brien - 7245550121")
    alerts_before = len(sim.db.alerts)
    r = await call(sim, cid="7245550121")
    assert len(sim.db.alerts) == alerts_before  # the INSERT failed


async def test_php7_mode_answers_200_for_the_apostrophe_name(itflow_sim):
    sim = await itflow_sim("legacy-2022", quirks={"mysqli_exceptions": False})
    r = await call(sim, cid="7245550121", account_balance="2")
    assert (r.status_code, r.text) == (200, "Siobhan O'Brien - 7245550121150")


async def test_incoming_call_is_500_empty_on_php8_and_empty_200_on_php7(itflow_sim):
    sim = await itflow_sim("legacy-2022")
    r = await call(sim, incoming_call="1")
    assert (r.status_code, r.content) == (500, b"")
    sim7 = await itflow_sim("legacy-2022", quirks={"mysqli_exceptions": False})
    r = await call(sim7, incoming_call="1")
    assert (r.status_code, r.content) == (200, b"")


async def test_functions_concatenate_in_source_order(itflow_sim):
    sim = await itflow_sim("legacy-2022")
    r = await call(sim, account_balance="2", cid="4125550101")
    assert r.text == "Alice Anderson - 4125550101150"


# ---- leading newline quirk (docs/itflow-api.md §1.3) ----------------------------------------------


async def test_leading_newline_quirk_prefixes_every_body(itflow_sim):
    sim = await itflow_sim("legacy-2022", quirks={"leading_newline": True})
    assert (await call(sim, cid="4125550101")).text == "\nAlice Anderson - 4125550101"
    assert (await call(sim, cid="1")).text == "\n - 1"
    r = await legacy_request(sim, {"api_key": "wrong", "cid": "1"})
    assert (r.status_code, r.text) == (401, "\nIncorrect or expired API Key.")
    assert (await call(sim)).text == "\n"
    assert (await call(sim, phonebook="")).text.startswith("\n<?xml ")


# ---- lists (docs/itflow-api.md §1.6) --------------------------------------------------------------


async def test_primary_contact_numbers_and_emails(itflow_sim):
    sim = await itflow_sim("legacy-2022")
    r = await call(sim, primary_contact_numbers="")
    assert r.text == (
        "ACME Corp - Alice Anderson - 4125550101 - 4125550199<br>"
        "Globex - Bob Globex - 7245550120 - 7245550198<br>"
        "Initech - Nora NoPhone -  - NULL<br>"
        "Umbrella -  -  - <br>"
        "Hooli - Hank Hooli - 6505550100 - <br>"
        "Old Co -  -  - <br>"
    )
    r = await call(sim, primary_contact_emails="")
    assert r.text.startswith("ACME Corp - Alice Anderson - alice@acme.example<br>Globex - Bob Globex - ")
    assert r.text.endswith("Old Co -  - <br>")
    assert sim.db.logs[-1]["log_description"] == "Client Emails were pulled"


async def test_empty_list_is_an_empty_body(itflow_sim):
    sim = await itflow_sim("legacy-2022", seed={"clients": []})
    assert (await call(sim, primary_contact_numbers="")).content == b""


# ---- account_balance (docs/itflow-api.md §1.8) ----------------------------------------------------


@pytest.mark.parametrize(
    ("client", "text"),
    [("1", "290.5"), ("2", "150"), ("3", "-25"), ("4", "0"), ("5", "100.5"), ("999", "0"), ("abc", "0")],
)
async def test_account_balance_prints_a_php_float(itflow_sim, client, text):
    sim = await itflow_sim("legacy-2022")
    r = await call(sim, account_balance=client)
    assert (r.status_code, r.text) == (200, text)


async def test_account_balance_logs_the_check(itflow_sim):
    sim = await itflow_sim("legacy-2022")
    await call(sim, account_balance="5")
    assert sim.db.logs[-1]["log_description"] == "Client 5 checked their balance which had a balance of 100.5"


async def test_add_asset_needs_client_id_and_always_says_added(itflow_sim):
    sim = await itflow_sim("legacy-2022")
    assert (await call(sim, add_asset="PC-9")).content == b""
    r = await call(sim, add_asset="<b>PC-9</b> ", client_id="77", type="Desktop")
    assert r.text == "Asset added!"
    asset = sim.db["assets"][-1]
    assert (asset["asset_name"], asset["asset_type"], asset["asset_client_id"]) == ("PC-9", "Desktop", "77")


# ---- phonebook (docs/itflow-api.md §1.7, §6.2) ----------------------------------------------------

SMALL = {
    "clients": [{"client_id": 1, "client_name": "A"}, {"client_id": 2, "client_name": "B"}],
    "contacts": [
        {
            "contact_id": 1,
            "contact_client_id": 1,
            "contact_name": "Ann",
            "contact_phone": "111",
            "contact_mobile": "999",
            "contact_primary": 1,
        }
    ],
    "vendors": [
        {"vendor_id": 1, "vendor_name": "Bell & Whistle", "vendor_phone": "800"},
        {"vendor_id": 2, "vendor_name": "V2", "vendor_phone": "801"},
    ],
}


def entry(name: str, phone: str, group: int) -> str:
    return (
        "<Contact>\n"
        f"            <LastName>{name}</LastName>\n"
        "            <Phone>\n"
        f"                <phonenumber>{phone}</phonenumber>\n"
        "            </Phone>\n"
        "            <Groups>\n"
        f"                <groupid>{group}</groupid>\n"
        "            </Groups>\n"
        "        </Contact>"
    )


async def test_phonebook_is_byte_exact_with_glued_declaration_and_6_2_whitespace(itflow_sim):
    sim = await itflow_sim("legacy-2022", seed=SMALL)
    r = await call(sim, phonebook="")
    expected = (
        '<?xml version="1.0" encoding="utf-8"?><AddressBook>'
        + " " * 8
        + entry("Ann", "111", 0)
        + "\n"
        + " " * 16
        + entry("", "", 0)  # client B: no primary contact
        + "\n"
        + " " * 16
        + entry("Bell & Whistle", "800", 1)
        + "\n\n"
        + " " * 16
        + entry("V2", "801", 1)
        + "\n\n"
        + " " * 8
        + "</AddressBook>"
    )
    assert r.text == expected
    assert r.headers["content-type"] == "text/xml;charset=UTF-8"
    assert (r.headers["pragma"], r.headers["cache-control"], r.headers["expires"]) == (
        "public",
        "private",
        "-1",
    )
    assert sim.db.logs[-1]["log_description"] == "XML Phonebook Downloaded"


async def test_default_phonebook_is_malformed_but_recoverable(itflow_sim):
    sim = await itflow_sim("legacy-2022")
    r = await call(sim, phonebook="")
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(r.content)  # the unescaped '&' in "Bell & Whistle"
    root = etree.fromstring(r.content, etree.XMLParser(recover=True))
    assert len(root.findall("Contact")) == 6 + 3  # one per client (archived too) + every vendor
    groups = [c.findtext("Groups/groupid") for c in root.findall("Contact")]
    assert groups == ["0"] * 6 + ["1"] * 3


async def test_phonebook_2019_era_lists_clients_empty_contacts_and_vendors_in_group_2(itflow_sim):
    sim = await itflow_sim("legacy-2022", seed=SMALL, quirks={"phonebook_era": "2019"})
    r = await call(sim, phonebook="")
    root = etree.fromstring(r.content, etree.XMLParser(recover=True))
    got = [
        (c.findtext("LastName"), c.findtext("Phone/phonenumber"), c.findtext("Groups/groupid"))
        for c in root.findall("Contact")
    ]
    assert got[:3] == [("A", "", "0"), ("B", "", "0"), ("", "", "1")]
    assert [g for _, _, g in got[3:]] == ["2", "2"]


# ---- the 2021-08-27 -> 2022-02-04 broken window (docs/itflow-api.md §1.5, §1.6, §1.8) ------------

BROKEN_2021 = {
    "legacy_era": "2021-broken",
    "phonebook_era": "2019",
    "legacy_auth": "K3",
    "mysqli_exceptions": False,
    "leading_newline": True,
}


async def test_broken_window_on_php7(itflow_sim):
    sim = await itflow_sim("legacy-2022", quirks=BROKEN_2021)
    assert (await call(sim, cid="4125550101")).text == "\n - 4125550101"
    assert (await call(sim, account_balance="1")).text == "\n0"
    numbers = await call(sim, client_numbers="")
    assert (
        numbers.text
        == "\nACME Corp - <br>Globex - <br>Initech - <br>Umbrella - <br>Hooli - <br>Old Co - <br>"
    )
    assert (await call(sim, client_emails="")).text.startswith("\nACME Corp - <br>Globex - <br>")
    assert (await call(sim, primary_contact_numbers="")).text == "\n"  # not there yet


async def test_broken_window_on_php8_is_a_500(itflow_sim):
    sim = await itflow_sim("legacy-2022", quirks={"legacy_era": "2021-broken"})
    r = await call(sim, cid="4125550101")
    assert (r.status_code, r.content) == (500, b"")
    r = await call(sim, client_numbers="", account_balance="1")
    assert (r.status_code, r.text) == (
        500,
        "ACME Corp - <br>Globex - <br>Initech - <br>Umbrella - <br>Hooli - <br>Old Co - <br>",
    )
