"""The ``cid`` route over a raw FastAGI socket: which number is looked up, which commands go out; and what
a caller-name door shows (the ASCII fold never brings a splitter back)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from pbx_bridge.agi.server import FastAgiServer
from pbx_bridge.callerid.route import cid_options, cid_route, door_text
from pbx_bridge.directory.display import cut
from pbx_bridge.directory.model import LookupResult, MatchKind, Party, PartyKind
from tests.agi.peer import HANG_GUARD, Peer, env_block, parse_args

# The set docs/callerid.md justifies, written out independently of the code.
DOCUMENTED = set('()[]{},:;|"\\')

ALICE = Party(kind=PartyKind.CONTACT, id=7, name="Alice", client_id=1, client_name="ACME Corp")


class Directory:
    """A caller-ID service with fixed answers; records what it was asked."""

    def __init__(self, answers: dict[str, LookupResult], fail: bool = False) -> None:
        self.answers, self.fail = answers, fail
        self.asked: list[tuple[str, bool | None]] = []

    async def lookup(self, raw_number: str, *, live: bool | None = None) -> LookupResult:
        self.asked.append((raw_number, live))
        if self.fail:
            raise RuntimeError("directory broken")
        return self.answers.get(raw_number, LookupResult(match=MatchKind.NONE, number=raw_number))


def contact(display: str) -> LookupResult:
    return LookupResult(
        match=MatchKind.CONTACT,
        number="+14125550101",
        display=display,
        party=ALICE,
        client_id=1,
        client_name="ACME Corp",
        contact_id=7,
    )


@pytest.fixture
async def serve() -> AsyncIterator:
    servers: list[FastAgiServer] = []

    async def start(directory: Directory) -> FastAgiServer:
        server = FastAgiServer(
            "127.0.0.1", 0, {"cid": cid_route(directory)}, env_timeout=2, command_timeout=2
        )
        await server.start()
        servers.append(server)
        return server

    yield start
    for s in servers:
        await s.stop(asyncio.get_running_loop().time() + 1)


async def run_call(server: FastAgiServer, env: bytes) -> list[list[str]]:
    peer = await Peer.connect(server.port)
    await peer.send(env)
    await peer.answer_all("200 result=1")
    return [parse_args(c) for c in peer.commands]


async def test_match_sets_name_and_contract_variables(serve) -> None:
    hostile = 'ACME "Corp" \\ $ {x} – Zoë 👩‍💻'
    safe = "ACME 'Corp' / $ x – Zoë 👩‍💻"  # the FreePBX-safe rule; letters and emoji stay
    d = Directory({"4125550101": contact(hostile)})
    server = await serve(d)
    words = await run_call(server, env_block(callerid="4125550101", args=("201",)))
    assert [w[2:] for w in words] == [
        ["CALLERID(name)", safe],
        ["ITFLOW_MATCH", "contact"],
        ["ITFLOW_NAME", safe],
        ["ITFLOW_CLIENT_ID", "1"],
        ["ITFLOW_CLIENT_NAME", "ACME Corp"],
        ["ITFLOW_CONTACT_ID", "7"],
    ]
    assert d.asked == [("4125550101", None)]  # "201" (an argument) is not a number to look up


async def test_no_match_leaves_name_and_empties_variables(serve) -> None:
    server = await serve(Directory({}))
    words = await run_call(server, env_block(callerid="15559990000"))
    assert [w[2:] for w in words] == [
        ["ITFLOW_MATCH", "none"],
        ["ITFLOW_NAME", ""],
        ["ITFLOW_CLIENT_ID", ""],
        ["ITFLOW_CLIENT_NAME", ""],
        ["ITFLOW_CONTACT_ID", ""],
    ]


async def test_arguments_never_choose_the_number(serve) -> None:
    d = Directory({"4125550101": contact("ACME Corp - Alice")})
    server = await serve(d)
    env = env_block(
        "cid?number=4125550101&live=no", callerid="15559990000", args=("4125550101", "number=4125550101")
    )
    words = await run_call(server, env)
    assert d.asked == [("15559990000", False)]
    assert ["ITFLOW_MATCH", "none"] in [w[2:] for w in words]


async def test_lookup_failure_fails_open(serve) -> None:
    server = await serve(Directory({}, fail=True))
    words = await run_call(server, env_block())
    assert all(w[2] != "CALLERID(name)" for w in words)
    assert ["ITFLOW_MATCH", "none"] in [w[2:] for w in words]


async def test_newline_in_a_name_cannot_inject_a_command(serve) -> None:
    evil = 'Evil"\nEXEC System "id'
    server = await serve(Directory({"4125550101": contact(evil)}))
    peer = await Peer.connect(server.port)
    await peer.send(env_block(callerid="4125550101"))
    async with asyncio.timeout(HANG_GUARD):
        await peer.answer_all()
    assert len(peer.commands) == 6
    assert all(c.startswith("SET VARIABLE ") for c in peer.commands)
    assert parse_args(peer.commands[0])[3] == "Evil'EXEC System 'id"


def test_options() -> None:
    assert cid_options(["201"], {}) == {"live": None}
    assert cid_options(["live=yes"], {}) == {"live": True}
    assert cid_options([], {"live": "0"}) == {"live": False}


def test_the_ascii_door_is_safe_and_no_longer_too() -> None:
    # Look-alikes that NFKD folds into the rule's characters (fullwidth and small forms, parenthesized
    # numbers) and folds that lengthen (roman numerals, unit signs): ?charset=ascii (Superfecta) must
    # neither bring a splitter back nor outgrow the bytes the name was cut to.
    rng = random.Random(13)
    alphabet = [chr(c) for c in range(0x20, 0x7F)] + list(
        "（）［］｛｝，：；｜＂＼﹙﹚﹕﹐﹔⑴⒇⑽⒜Ⅷⅷ㎉㏂㏍ßæ…äöü王👩"
    )
    for _ in range(2000):
        name = cut("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 50))), 40, 40)
        shown = door_text(name, ascii=True)
        assert shown.isascii() and not DOCUMENTED & set(shown), (name, shown)
        assert len(shown.encode()) <= len(name.encode()) <= 40
    fullwidth = "x\uff09\uff1aSet\uff08DB\uff08t/inj\uff09=PWNED"
    assert door_text(fullwidth, ascii=True) == "x -Set DB t/inj =PWNED"
