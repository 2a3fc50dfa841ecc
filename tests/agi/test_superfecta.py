"""The HTTP door asked the way CID Superfecta's "Regular Expressions" source asks it, and its answer put
through what Superfecta does with it (docs/freepbx.md, Superfecta section): the URL with ``$thenumber``
replaced by the raw number, a browser User-Agent, any status >= 400 read as an empty page, the page
trimmed, the first group of the regular expression ``(.+)`` taken as the name, then tags stripped, every
non-ASCII byte mangled (its hard-wired "IA5" filter), ``"``, ``'`` and ``;`` deleted, 60 bytes kept.
An empty result means "no name here": Superfecta asks its next source."""

from __future__ import annotations

import re

from tests.agi.http_face import raw_get
from tests.agi.test_cid import Directory, contact

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
    name = re.sub(r"<[^>]*>", "", found.group(1)).strip()          # tags stripped, twice in Superfecta
    # IA5: each byte of a UTF-8 letter is mapped on its own, so no non-ASCII letter survives.
    name = "".join(chr(b) if b < 0x80 else "?" for b in name.encode("utf-8"))
    return re.sub(r"[\";']", "", name)[:60]


async def test_recipe_keeps_the_name_readable(face) -> None:
    named = contact("ACME <Ltd> - O'Brien \"Bob\" Müller")
    port = await face(Directory({"+14125550101": named}))
    assert await superfecta_source(port, RECIPE, "+14125550101") == "ACME Ltd - O`Brien `Bob` Muller"
    # Without charset=ascii, Superfecta itself mangles it (what an admin saw before the recipe).
    plain = await superfecta_source(port, "/cid?number=$thenumber", "+14125550101")
    assert plain == "ACME Ltd - OBrien Bob M??ller"


async def test_a_miss_lets_the_chain_go_on(face) -> None:
    port = await face(Directory({}))
    assert await superfecta_source(port, RECIPE, "+14125559999") == ""
    # Without miss=empty the number itself comes back, and Superfecta stops at a "hit".
    assert await superfecta_source(port, "/cid?number=$thenumber", "+14125559999") == "+14125559999"


async def test_errors_and_outages_also_let_the_chain_go_on(face) -> None:
    port = await face(Directory({}, fail=True))
    assert await superfecta_source(port, RECIPE, "+14125550101") == ""
    assert await superfecta_source(port, "/cid/wrong?number=$thenumber&miss=empty", "+14125550101") == ""
    locked = await face(Directory({"+14125550101": contact("ACME")}), basic_auth=("pbx", "secret"))
    assert await superfecta_source(locked, RECIPE, "+14125550101") == ""        # 401
