"""HTTP caller-name door over real HTTP on loopback: the daemon's own HTTP face (middleware included),
asked the way FreePBX's cidlookup asks (``//cid?number=%2B...``, raw request line, body = the name)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from aiohttp import web

from pbx_bridge.directory.model import LookupResult
from tests.agi.peer import HANG_GUARD
from tests.callerid.http_face import callerid, raw_get
from tests.callerid.test_route import Directory, contact

# Every text aiohttp or our middleware would answer by itself; none may ever become a caller's name.
STOCK_TEXTS = (
    b"404",
    b"405",
    b"500",
    b"Not Found",
    b"Not Allowed",
    b"forbidden",
    b"authentication",
    b"Internal Server Error",
    b"trouble",
)


class Stalled(Directory):
    """A caller-ID service whose lookups never finish (a hung ITFlow behind a broken budget)."""

    def __init__(self) -> None:
        super().__init__({})
        self.pending = 0

    async def lookup(self, raw_number: str, *, live: bool | None = None) -> LookupResult:
        self.asked.append((raw_number, live))
        self.pending += 1
        try:
            await asyncio.sleep(HANG_GUARD * 3)
        finally:
            self.pending -= 1
        raise AssertionError("unreachable")


def freepbx_target(number: str, path: str = "//cid") -> str:
    """The request target FreePBX 17's cidlookup builds: its raw path after a slash, "+" as %2B."""
    return f"{path}?number={number.replace('+', '%2B')}"


async def test_every_run_of_slashes_is_the_same_door(face) -> None:
    port = await face(Directory({"+14125550101": contact("ACME Corp - Alice")}))
    for path in ("/cid", "//cid", "///cid"):
        status, body = await raw_get(port, freepbx_target("+14125550101", path))
        assert (status, body) == (200, b"ACME Corp - Alice"), path  # answered directly, no redirect


async def test_plain_body_is_exactly_the_safe_name(face) -> None:
    name = 'ACME "Corp" \\ $ {x} – Zoë 👩‍💻'
    port = await face(Directory({"4125550101": contact(name)}))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
        r = await c.get("/cid", params={"number": "4125550101"})
    assert r.status_code == 200
    assert r.content == "ACME 'Corp' / $ x – Zoë 👩‍💻".encode()  # no trailing newline
    assert r.headers["content-type"].startswith("text/plain")
    assert "charset=utf-8" in r.headers["content-type"]
    assert r.headers["cache-control"] == "no-store"


async def test_safe_names_can_be_switched_off(face) -> None:
    name = 'ACME "Corp" (EU), x:y'
    settings = callerid(safe_names=False)
    port = await face(Directory({"4125550101": contact(name)}), settings)
    assert await raw_get(port, "//cid?number=4125550101") == (200, name.encode())


@pytest.mark.parametrize(
    ("hostile", "shown"),
    [
        ("x):Set(DB(t/inj)=PWNED", "x -Set DB t/inj =PWNED"),
        ("a,b", "a b"),
        ("(x)", "x"),
        ('"q"', "'q'"),
        ("${EXTEN}", "$EXTEN"),
        ('O\'Brien "Bob" Müller', "O'Brien 'Bob' Müller"),
        ("ACME [EU] | Ops; <Ltd>", "ACME EU / Ops- <Ltd>"),
    ],
)
async def test_hostile_names_come_out_readable_and_inert(face, hostile: str, shown: str) -> None:
    port = await face(Directory({"4125550101": contact(hostile)}))
    status, body = await raw_get(port, "//cid?number=4125550101")
    assert (status, body.decode()) == (200, shown)
    status, raw = await raw_get(port, "//cid.json?number=4125550101")
    data = json.loads(raw)
    assert status == 200 and data["name"] == data["variables"]["ITFLOW_NAME"] == shown


async def test_json_names_and_client_names_are_safe(face) -> None:
    result = contact("ACME (EU) - Alice")
    hostile = LookupResult(
        match=result.match,
        number=result.number,
        display=result.display,
        party=result.party,
        client_id=1,
        client_name="ACME (EU), Inc.",
        contact_id=7,
    )
    port = await face(Directory({"4125550101": hostile}))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
        body = (await c.get("/cid.json", params={"number": "4125550101", "live": "no"})).json()
    assert body["name"] == "ACME EU - Alice" and body["client_name"] == "ACME EU Inc."
    assert body["variables"]["ITFLOW_CLIENT_NAME"] == "ACME EU Inc."


async def test_plus_arrives_as_2b_and_raw(face) -> None:
    d = Directory({"+442071234567": contact("London Ltd")})
    port = await face(d)
    assert await raw_get(port, "//cid?number=%2B442071234567") == (200, b"London Ltd")
    # A raw "+" (Superfecta puts the number into its URL as is) is form-decoded to a space: still "+".
    assert await raw_get(port, "/cid?number=+442071234567") == (200, b"London Ltd")
    assert [a for a, _ in d.asked] == ["+442071234567", "+442071234567"]


async def test_miss_answers_the_number_or_an_empty_body(face) -> None:
    port = await face(Directory({}))
    assert await raw_get(port, freepbx_target("+15559990000")) == (200, b"+15559990000")
    assert await raw_get(port, "//cid?number=15559990000&miss=empty") == (200, b"")
    empty_port = await face(Directory({}), callerid(http_miss="empty"))
    assert await raw_get(empty_port, "//cid?number=15559990000") == (200, b"")
    assert await raw_get(empty_port, "//cid?number=15559990000&miss=number") == (200, b"15559990000")


async def test_a_hostile_number_echoed_on_a_miss_is_made_safe_too(face) -> None:
    port = await face(Directory({}))
    status, body = await raw_get(port, "//cid?number=1):Set(DB(t/x)=1")
    assert (status, body) == (200, b"1 -Set DB t/x =1")


async def test_failure_answers_the_number_and_missing_number_is_empty(face) -> None:
    port = await face(Directory({}, fail=True))
    assert await raw_get(port, "//cid?number=15559990000") == (200, b"15559990000")
    assert await raw_get(port, "//cid") == (400, b"")
    assert await raw_get(port, "//cid?number=") == (400, b"")


async def test_control_characters_in_the_number_never_reach_the_body(face) -> None:
    port = await face(Directory({}))
    assert await raw_get(port, "/cid?number=555%0D%0A0100") == (200, b"5550100")


async def test_a_stalled_lookup_is_answered_with_the_number_within_the_guard(face) -> None:
    stalled = Stalled()
    settings = callerid(live_budget=0.05)
    port = await face(stalled, settings)
    answer = await raw_get(port, "//cid?number=15559990000")
    # The lookup was asked and would hang for HANG_GUARD * 3; the answer came anyway (raw_get gives up
    # after HANG_GUARD), and the guard cancelled the hung lookup instead of leaving it running.
    assert answer == (200, b"15559990000") and stalled.asked and stalled.pending == 0
    assert await raw_get(port, "//cid?number=15559990000&miss=empty") == (200, b"")


async def test_every_error_on_the_door_answers_the_fallback(face) -> None:
    async def boom(_request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    port = await face(Directory({}), extra=[web.get("/cid/boom", boom)])
    cases = {
        "//cid/lookup?number=15559990000": 404,  # a wrong path under the door
        "//cidx?number=15559990000": 404,
        "//cid/?number=15559990000": 404,
        "/cid/boom?number=15559990000": 500,  # an internal error
        "//nowhere?number=15559990000": 404,  # a path the admin mistyped, with a number
    }
    for target, want in cases.items():
        status, body = await raw_get(port, target)
        assert (status, body) == (want, b"15559990000"), target
    status, body = await raw_get(port, "//cid?number=15559990000", method="POST")
    assert (status, body) == (405, b"15559990000")
    status, body = await raw_get(port, "//cid/lookup?number=15559990000&miss=empty")
    assert (status, body) == (404, b"")


async def test_refused_clients_and_wrong_passwords_get_the_fallback(face) -> None:
    locked = await face(Directory({"4125550101": contact("ACME")}), basic_auth=("pbx", "secret"))
    status, body = await raw_get(locked, "//cid?number=4125550101")
    assert (status, body) == (401, b"4125550101")
    ok = "Authorization: Basic cGJ4OnNlY3JldA==\r\n"  # pbx:secret
    assert await raw_get(locked, "//cid?number=4125550101", headers=ok) == (200, b"ACME")
    outside = await face(Directory({}), allow=["10.0.0.0/8"])
    assert await raw_get(outside, "//cid?number=4125550101") == (403, b"4125550101")


async def test_no_stock_error_text_anywhere_on_the_face(face) -> None:
    port = await face(Directory({}), readiness=lambda: {})
    for target, method in [
        ("//phonebook", "GET"),
        ("/nope", "GET"),
        ("//", "GET"),
        ("/healthz", "POST"),
        ("//cid", "DELETE"),
        ("///readyz/x", "GET"),
    ]:
        status, body = await raw_get(port, target, method=method)
        assert status in (404, 405), target
        assert not any(t in body for t in STOCK_TEXTS), (target, body)
    assert await raw_get(port, "//healthz") == (404, b"")  # only the door is slash-tolerant


async def test_requests_the_parser_refuses_get_no_text(face) -> None:
    # libcurl sends a caller number's non-ASCII or control bytes as they are; aiohttp's parser refuses
    # the request line before any middleware, with a text repeating the number: never as the name.
    port = await face(Directory({}))
    for target in [
        "//cid?number=x):Set(DB(t/inj)=PWNEDé".encode(),
        b"//cid?number=a\x01b",
        b"//cid?number=" + b"9" * 9000,
    ]:
        status, body = await raw_get(port, target)
        assert (status, body) == (400, b""), target[:40]
    # A header aiohttp refuses after parsing but before any middleware (its route's Expect check).
    for target in ("//cid?number=15559990000", "//nowhere?number=15559990000"):
        status, body = await raw_get(port, target, headers="Expect: x):Set(DB(t/inj)=PWNED\r\n")
        assert (status, body) == (417, b""), target
    status, body = await raw_get(port, "//cid?number=15559990000", headers="Bad header line\r\n")
    assert (status, body) == (400, b"")


async def test_data_doors_keep_their_own_answers(face) -> None:
    d = Directory({"4125550101": contact("ACME Corp - Alice")})
    port = await face(d)
    status, raw = await raw_get(port, "//cid.json?number=4125550101&live=no")
    body = json.loads(raw)
    assert status == 200
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
        assert body["match"] == "contact" and body["name"] == "ACME Corp - Alice"
        assert body["variables"] == {
            "ITFLOW_MATCH": "contact",
            "ITFLOW_NAME": "ACME Corp - Alice",
            "ITFLOW_CLIENT_ID": "1",
            "ITFLOW_CLIENT_NAME": "ACME Corp",
            "ITFLOW_CONTACT_ID": "7",
        }
        assert d.asked == [("4125550101", False)]
        none = (await c.get("/cid.json", params={"number": "1"})).json()
        assert none["match"] == "none" and none["variables"]["ITFLOW_MATCH"] == "none"
        missing = await c.get("/cid.json")
        assert missing.status_code == 400 and "error" in missing.json()


async def test_agi_lines_variant(face) -> None:
    port = await face(Directory({"4125550101": contact('Evil\nITFLOW_MATCH=none "x"')}))
    status, body = await raw_get(port, "/cid.agi?number=4125550101")
    assert status == 200
    assert body.decode().split("\n") == [
        "ITFLOW_MATCH=contact",
        "ITFLOW_NAME=EvilITFLOW_MATCH=none 'x'",
        "ITFLOW_CLIENT_ID=1",
        "ITFLOW_CLIENT_NAME=ACME Corp",
        "ITFLOW_CONTACT_ID=7",
    ]
    assert (await raw_get(port, "//cid.agi"))[0] == 400
