"""The HTTP door asked the way CID Superfecta's "Regular Expressions" source asks it, and its answer put
through what Superfecta does with it (docs/freepbx.md, Superfecta section): the URL with ``$thenumber``
replaced by the raw number, a browser User-Agent, any status >= 400 read as an empty page, the page
trimmed, the first group of the regular expression ``(.+)`` taken as the name, then tags stripped, every
non-ASCII byte mangled (its hard-wired "IA5" filter), ``"``, ``'`` and ``;`` deleted, 60 bytes kept.
An empty result means "no name here": Superfecta asks its next source."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pbx_bridge.callerid.settings import CallerIdSettings
from tests.callerid.http_face import raw_get
from tests.callerid.stack import cid_stack
from tests.callerid.test_route import Directory, contact

RECIPE = "/cid?number=$thenumber&miss=empty&charset=ascii"
BROWSER = "User-Agent: Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.8.1.1) Gecko/20061204\r\n"


async def superfecta_source(port: int, url: str, thenumber: str) -> str:
    """One "Regular Expressions" source lookup: what Superfecta would set as the name, "" for none."""
    status, page = await raw_get(port, url.replace("$thenumber", thenumber), headers=BROWSER)
    assert status < 300 or status >= 400, "Superfecta would follow a redirect; the door never sends one"
    text = "" if status >= 400 else page.decode("utf-8", "replace").strip()
    if text == "1":
        text = ""
    found = re.search(r"(.+)", text)
    if found is None:
        return ""
    name = re.sub(r"<[^>]*>", "", found.group(1)).strip()  # tags stripped, twice in Superfecta
    # IA5: each byte of a UTF-8 letter is mapped on its own, so no non-ASCII letter survives.
    name = "".join(chr(b) if b < 0x80 else "?" for b in name.encode("utf-8"))
    return re.sub(r"[\";']", "", name)[:60]


def _port(stack: Any) -> int:
    return int(stack.http_base.rsplit(":", 1)[1])


async def test_recipe_keeps_the_name_readable(itflow_sim: Any, tmp_path: Path) -> None:
    # The real stack: the name comes from the simulator through sync, caller ID and the daemon's HTTP face.
    sim = await itflow_sim("v1-head")
    sim.db.add_contact(
        sim.db.add_client("ACME <Ltd>"), 'O\'Brien "Bob" Müller', phone="4125559101", phone_country_code="1"
    )
    async with cid_stack(sim, tmp_path) as stack:
        port = _port(stack)
        assert await superfecta_source(port, RECIPE, "+14125559101") == "ACME Ltd - O`Brien `Bob` Muller"
        # Without charset=ascii, Superfecta itself mangles it (what an admin saw before the recipe).
        plain = await superfecta_source(port, "/cid?number=$thenumber", "+14125559101")
        assert plain == "ACME  - OBrien Bob M??ller"  # <Ltd> taken for a tag, quotes gone, ü garbled


async def test_a_miss_lets_the_chain_go_on(itflow_sim: Any, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    async with cid_stack(sim, tmp_path) as stack:
        port = _port(stack)
        assert await superfecta_source(port, RECIPE, "+14125559999") == ""
        # Without miss=empty the number itself comes back, and Superfecta stops at a "hit".
        assert await superfecta_source(port, "/cid?number=$thenumber", "+14125559999") == "+14125559999"


async def test_errors_and_outages_also_let_the_chain_go_on(itflow_sim: Any, tmp_path: Path, face) -> None:
    sim = await itflow_sim("v1-head")
    async with cid_stack(sim, tmp_path, callerid=CallerIdSettings(live_budget=0.2)) as stack:
        # Known to ITFlow but added after the sync, so only a live lookup could name it: ITFlow is gone.
        sim.db.add_contact(
            sim.db.add_client("Late Co"), "Lara Late", phone="4125559998", phone_country_code="1"
        )
        sim.down = True
        port = _port(stack)
        assert await superfecta_source(port, RECIPE, "+14125559998") == ""
        assert await superfecta_source(port, "/cid/wrong?number=$thenumber&miss=empty", "+14125559998") == ""
    # A wrong password: refused before any lookup (the directory behind it is never asked).
    locked = await face(Directory({}), basic_auth=("pbx", "secret"))
    assert await superfecta_source(locked, RECIPE, "+14125550101") == ""  # 401


async def test_folding_never_brings_back_a_character_the_rule_removed(face) -> None:
    # Fullwidth look-alikes pass the rule (Asterisk splits on ASCII bytes only), and NFKD folds them to
    # ASCII punctuation: the rule must come after the fold, or charset=ascii hands FreePBX a working
    # "x):Set(DB(t/inj)=PWNED" again.
    named = contact(
        "x\uff09\uff1aSet\uff08DB\uff08t/inj\uff09=PWNED \uff5b\uff0c\uff02\uff3c\uff5c\uff1b\u2474"
    )  # { , " \\ | ; and a circled (1)
    port = await face(Directory({"+14125550101": named}))
    status, body = await raw_get(port, "//cid?number=%2B14125550101&charset=ascii")
    assert (status, body.decode()) == (200, "x -Set DB t/inj =PWNED '//- 1")
    assert await superfecta_source(port, RECIPE, "+14125550101") == "x -Set DB t/inj =PWNED //- 1"
