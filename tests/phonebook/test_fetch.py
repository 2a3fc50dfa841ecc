"""Every format fetched the way its phone builds the request, over HTTP and HTTPS (a self-made
certificate, real TLS on loopback), from a directory of hostile names: the answer is well-formed,
passes the vendor's documented structure and limits (our own checks from the vendors' facts, plus the
transcribed schemas in ``schemas/``) and keeps every entry.

The request each phone makes (docs/phonebook.md, "What the phone requests"):

* Yealink, Fanvil, Gigaset, Snom tbook, vCard/CSV: the configured URL as it is.
* Snom remote XML directory: the configured URL, by POST.
* Grandstream: the server path (P331) with ``/phonebook.xml`` appended.
* Polycom: ``<MAC>-directory.xml`` in the contacts directory (then ``000000000000-directory.xml``).
* Cisco: the directory URL, then each page's Next soft key.
* Panasonic: the phonebook URL, then each page's ``Link: rel="next"``.
* Gigaset online directory: the configured URL with ``command=get_list``, the search and the offset.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import vobject
from lxml import etree

from pbx_bridge.http import HttpFace, RouteGroup, TlsListener
from pbx_bridge.phonebook.http import phonebook_routes
from pbx_bridge.phonebook.settings import ALL_FORMATS
from tests.support.daemon import free_port
from tests.support.tls import make_certificate

STRICT = etree.XMLParser(recover=False, resolve_entities=False, no_network=True)
SCHEMAS = Path(__file__).parent / "schemas"
LONG = "Longname " + "x" * 191
SCOTLAND = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # an emoji tag sequence
HOSTILE = {  # name -> the number it is published under (E.164, as FreePBX presents caller ID)
    'O\'Brien "Bob" Müller': "+14125550901",
    '=HYPERLINK("x")': "+14125550902",
    "Emoji 😀 👩\u200d👩\u200d👧 " + SCOTLAND: "+14125550903",
    LONG: "+14125550904",
    "Tab\tCR\r": "+14125550905",
}
VENDOR = ("<Ltd>", "+14125550906")
CLIENT = "Smith & Sons"
MAC = "0004f2a1b2c3"
ACCOUNT = 1  # grandstream_account_index by default (GXP21xx 1.0.5: accounts 1-6)


def schema(name: str, **subst: str) -> etree.XMLSchema:
    text = (SCHEMAS / f"{name}.xsd").read_text()
    for key, value in subst.items():
        text = text.replace(key, value)
    return etree.XMLSchema(etree.fromstring(text.encode()))


def valid(xsd: etree.XMLSchema, root: etree._Element) -> None:
    assert xsd.validate(root), xsd.error_log


def xml(body: bytes) -> etree._Element:
    assert not body.startswith(b"\xef\xbb\xbf"), "no UTF-8 BOM before the prolog"
    return etree.fromstring(body, STRICT)


def fragments(body: bytes) -> list[etree._Element]:
    text = re.sub(r"^<\?xml[^>]*\?>\s*(<!DOCTYPE [A-Za-z]+>\s*)?", "", body.decode("utf-8"))
    return list(etree.fromstring(f"<w>{text}</w>".encode(), STRICT))


def texts(root: etree._Element) -> str:
    values = [el.text or "" for el in root.iter()]
    values += [v for el in root.iter() for v in el.attrib.values()]
    return "\n".join(values)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def phones(phonebook_env, certificate):
    """The book served like the daemon serves it: phonebook route group on a plain and a TLS site."""
    port, tls_port = free_port(), free_port()
    env = await phonebook_env(
        "v1-head", formats=list(ALL_FORMATS), http={"port": port}, gigaset_online_directory=True
    )
    db = env.sim.db
    client = db.add_client(CLIENT)
    for name, e164 in HOSTILE.items():
        db.add_contact(client, name, phone=e164[2:])
    db.add_vendor(VENDOR[0], phone=VENDOR[1][2:])
    result = await env.service.sync()
    assert result.status == "published", result
    cert, key = certificate
    face = HttpFace(
        "127.0.0.1",
        port,
        [],
        groups=[RouteGroup("phonebook", phonebook_routes(env.service), ["127.0.0.0/8"])],
        tls=TlsListener("127.0.0.1", tls_port, cert, key),
    )
    await face.start()
    assert face.health().ok, face.health().detail
    trust = ssl.create_default_context(cafile=str(cert))
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as plain,
        httpx.AsyncClient(base_url=f"https://127.0.0.1:{tls_port}", verify=trust, timeout=10) as tls,
    ):
        yield env, {"http": plain, "https": tls}
    await face.stop(asyncio.get_running_loop().time() + 5)


async def fetch(client: httpx.AsyncClient, format_id: str) -> list[httpx.Response]:
    """The pages of ``format_id`` requested as its phone requests them (bounded: 50 pages)."""
    if format_id == "grandstream":
        return [await client.get("/phonebook/grandstream/phonebook.xml")]
    if format_id == "polycom":
        return [await client.get(f"/phonebook/polycom/{MAC}-directory.xml")]
    if format_id == "snom-v2":
        return [await client.post("/phonebook/snom-v2")]
    pages = [await client.get(f"/phonebook/{format_id}")]
    for _ in range(50):
        nxt = next_page(format_id, pages[-1])
        if nxt is None:
            break
        pages.append(await client.get(nxt))
    return pages


def next_page(format_id: str, r: httpx.Response) -> str | None:
    if format_id == "cisco":  # the phone follows the Next soft key's URL
        for key in xml(r.content).iter("SoftKeyItem"):
            if key.findtext("Name") == "Next":
                u = urlsplit(key.findtext("URL") or "")
                return f"{u.path}?{u.query}"
        return None
    if format_id == "panasonic":
        nxt = r.links.get("next")
        return None if nxt is None else "{0.path}?{0.query}".format(urlsplit(nxt["url"]))
    return None


# ---- the vendors' documented structure and limits, one checker per format: returns the published text


def check_yealink(bodies: list[bytes]) -> str:
    root = xml(bodies[0])
    assert root.tag == "YealinkIPPhoneDirectory"
    for e in root.iter("DirectoryEntry"):
        assert e.findtext("Name") and e.findall("Telephone")
    return texts(root)


def check_yealink_grouped(bodies: list[bytes]) -> str:
    root = xml(bodies[0])
    assert root.tag == "YealinkIPPhoneBook"
    for menu in root.iter("Menu"):
        assert menu.get("Name")
        for unit in menu.iter("Unit"):
            assert unit.get("Name") and unit.get("Phone1") is not None
            # up to three numbers, as attributes Phone1..Phone3 (no Phone4)
            assert set(unit.attrib) <= {"Name", "Phone1", "Phone2", "Phone3", "default_photo"}, unit.attrib
    return texts(root)


def check_yealink_local(bodies: list[bytes]) -> str:
    parts = fragments(bodies[0])
    assert [p.tag for p in parts] == ["root_group", "root_contact"]
    names = [c.get("display_name") for c in parts[1].iter("contact")]
    assert all(names) and len(names) == len(set(names)) <= 1000
    assert len(list(parts[0].iter("group"))) <= 48
    return "\n".join(texts(p) for p in parts)


def check_grandstream(bodies: list[bytes]) -> str:
    root = xml(bodies[0])
    valid(schema("grandstream-gxp", ACCT_MIN="1", ACCT_MAX="6"), root)
    assert {p.findtext("accountindex") for p in root.iter("Phone")} == {str(ACCOUNT)}
    return texts(root)


def check_cisco(bodies: list[bytes]) -> str:
    xsd = schema("cisco-directory")
    out = []
    for body in bodies:
        root = xml(body)
        valid(xsd, root)
        # Mandatory escape sequences: no raw ' or " anywhere after the declaration
        assert b"'" not in body.split(b"?>", 1)[1] and b'"' not in body.split(b"?>", 1)[1]
        out.append(texts(root))
    return "\n".join(out)


def check_polycom(bodies: list[bytes]) -> str:
    root = xml(bodies[0])
    valid(schema("polycom-directory"), root)
    cts = [i.findtext("ct") for i in root.iter("item")]
    assert len(cts) == len(set(cts))
    for item in root.iter("item"):
        for tag in ("fn", "ln"):
            assert len((item.findtext(tag) or "").encode()) <= 40
    return texts(root)


def check_snom(bodies: list[bytes]) -> str:
    root = xml(bodies[0])
    assert root.tag == "tbook" and root.get("complete") == "true" and root.get("e") == "2"
    for item in root.iter("item"):
        assert item.findtext("name") and item.findtext("number")
    # index is unique (since 8.2.20 it updates that exact slot: a repeated index loses an entry)
    indexes = [item.get("index") for item in root.iter("item")]
    assert all(i is not None and i.isdigit() for i in indexes) and len(indexes) == len(set(indexes))
    return texts(root)


def check_snom_v2(bodies: list[bytes]) -> str:
    root = xml(bodies[0])
    assert root.tag == "tbook" and root.get("version") == "2.0" and root.get("e") == "2"
    for c in root.iter("contact"):
        assert [n.get("no") for n in c.iter("number")]
    return texts(root)


def check_fanvil(bodies: list[bytes]) -> str:
    root = xml(bodies[0])
    assert root.tag == "FanvilIPPhoneDirectory"
    for e in root.iter("DirectoryEntry"):
        assert e.findtext("Name") and e.find("Telephone") is not None
    return texts(root)


def check_gigaset(bodies: list[bytes]) -> str:
    assert bodies[0].split(b"\n", 2)[1] == b"<!DOCTYPE LocalDirectory>"
    assert len(bodies[0]) <= 2 * 1024 * 1024
    entries = fragments(bodies[0])
    assert entries and all(e.tag == "entry" and e.get("surname") for e in entries) and len(entries) <= 2000
    documented = {"surname", "name", "office1", "office2", "mobile1", "mobile2", "home1", "home2"}
    for e in entries:  # attributes only, the eight Gigaset documents; no child elements
        assert set(e.attrib) <= documented and len(e) == 0, e.attrib
    return "\n".join(texts(e) for e in entries)


def check_gigaset_de(bodies: list[bytes]) -> str:
    body = bodies[0]
    assert body.startswith(b"\xff\xfe")
    assert body.decode("utf-16").startswith('<?xml version="1.0" encoding="UTF-16"?>')
    root = xml(body)
    valid(schema("gigaset-de"), root)
    assert all(len(c.findtext("Email") or "") <= 128 for c in root.iter("Contact"))
    assert [int(c.findtext("UID")) for c in root.iter("Contact")] == list(range(1, len(root) + 1))
    return texts(root)


def check_panasonic(bodies: list[bytes]) -> str:
    out = []
    for body in bodies:
        root = xml(body)
        assert root.tag == "ppxml"
        book = root.find("PhoneBook")
        assert book is not None and book.get("version") == "2.0"
        people = book.findall("Personnel")
        assert 1 <= len(people) <= 20
        assert [p.get("id") for p in people] == [str(i) for i in range(1, len(people) + 1)]
        for p in people:
            assert len(p.findtext("Name") or "") <= 24
            for n in p.iter("PhoneNum"):
                assert n.get("type") in ("ext", "company", "mobile", "home")
                assert re.fullmatch(r"\+?[0-9]{1,32}", n.text or "")
        out.append(texts(root))
    return "\n".join(out)


def _no_formula(cells: list[str]) -> None:
    for cell in cells:
        assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r") or re.fullmatch(r"\+[0-9*#]+", cell), cell


def check_panasonic_csv(bodies: list[bytes]) -> str:
    body = bodies[0]
    assert body.startswith(b"\xff\xfe")
    rows = list(csv.reader(io.StringIO(body[2:].decode("utf-16-le"))))
    assert len(rows) <= 1000
    for row in rows:
        assert int(row[0]) >= 1 and len(row[1]) <= 24 and len(row) == 7
        _no_formula(row[1:2])
        for number in row[2:]:
            assert re.fullmatch(r"\+?[0-9*#]{0,32}", number)
    return "\n".join(",".join(r) for r in rows)


def check_csv(bodies: list[bytes]) -> str:
    rows = list(csv.DictReader(io.StringIO(bodies[0].decode("utf-8"))))
    for row in rows:
        _no_formula([row[k] for k in ("name", "first_name", "last_name", "organization", "group", "email")])
        for k in ("office", "mobile", "other"):
            assert re.fullmatch(r"\+?[0-9*#]*", row[k])
    return "\n".join(",".join(r.values()) for r in rows)


def check_vcard(bodies: list[bytes]) -> str:
    cards = list(vobject.readComponents(bodies[0].decode("utf-8")))
    assert cards
    return "\n".join(f"{c.fn.value}\n" + "\n".join(t.value for t in c.contents.get("tel", [])) for c in cards)


def check_itflow_legacy(bodies: list[bytes]) -> str:
    return texts(xml(bodies[0]))


CHECKS = {
    "yealink": check_yealink,
    "yealink-grouped": check_yealink_grouped,
    "yealink-local": check_yealink_local,
    "grandstream": check_grandstream,
    "cisco": check_cisco,
    "polycom": check_polycom,
    "snom": check_snom,
    "snom-v2": check_snom_v2,
    "fanvil": check_fanvil,
    "gigaset": check_gigaset,
    "gigaset-de": check_gigaset_de,
    "panasonic": check_panasonic,
    "panasonic-csv": check_panasonic_csv,
    "vcard": check_vcard,
    "csv": check_csv,
    "itflow-legacy": check_itflow_legacy,
}


def test_every_format_has_a_check():
    assert set(CHECKS) == set(ALL_FORMATS)


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("format_id", ALL_FORMATS)
async def test_fetched_as_the_phone_fetches_it(phones, format_id: str, scheme: str):
    env, clients = phones
    responses = await fetch(clients[scheme], format_id)
    assert all(r.status_code == 200 for r in responses), [(r.url, r.status_code) for r in responses]
    published = env.service.publisher.output(format_id)
    assert published is not None and len(responses) == published.page_count  # every page reached
    text = CHECKS[format_id]([r.content for r in responses])
    digits = re.sub(r"[^0-9+\n]", "", text)
    for number in [*HOSTILE.values(), VENDOR[1]]:  # every entry kept, under the number FreePBX presents
        assert number in digits or number[1:] in digits, f"{format_id}: {number} missing"
    assert "TabCR" not in text  # one rule with caller ID: a tab reads as a space


async def test_polycom_seed_file_and_per_phone_file_are_the_same_book(phones):
    _env, clients = phones
    seed = await clients["http"].get("/phonebook/polycom/000000000000-directory.xml")
    mine = await clients["http"].get(f"/phonebook/polycom/{MAC}-directory.xml")
    other = await clients["http"].get("/phonebook/polycom/not-a-mac-directory.xml")
    assert seed.status_code == mine.status_code == 200 and seed.content == mine.content
    assert other.status_code == 404
    # the phone's upload of its own edits is refused: the shared book is never replaced by a phone
    upload = await clients["http"].put(f"/phonebook/polycom/{MAC}-directory.xml", content=b"<directory/>")
    assert upload.status_code == 405
    again = await clients["http"].get(f"/phonebook/polycom/{MAC}-directory.xml")
    assert again.content == mine.content


async def test_grandstream_per_phone_path_and_trailing_slash(phones):
    _env, clients = phones
    direct = await clients["http"].get("/phonebook/grandstream/phonebook.xml")
    for path in (f"/phonebook/grandstream/{MAC}/phonebook.xml", "/phonebook/grandstream//phonebook.xml"):
        r = await clients["http"].get(path)
        assert r.status_code == 200 and r.content == direct.content, path


async def test_query_parameters_a_firmware_adds_are_ignored(phones):
    _env, clients = phones
    plain = await clients["http"].get("/phonebook/yealink")
    r = await clients["http"].get("/phonebook/yealink", params={"mac": MAC, "model": "T54W"})
    assert r.status_code == 200 and r.content == plain.content


async def test_csv_cells_are_text_and_numbers_stay_dialable(phones):
    _env, clients = phones
    rows = list(csv.DictReader(io.StringIO((await clients["http"].get("/phonebook/csv")).text)))
    row = next(r for r in rows if "HYPERLINK" in r["name"])
    assert row["name"].startswith("'=HYPERLINK")
    assert row["office"] == "+14125550902"  # a number, not neutralised text


async def test_cisco_quotes_are_entities_and_latin1_on_request(phones):
    _env, clients = phones
    pages = await fetch(clients["http"], "cisco")
    body = b"".join(p.content for p in pages)
    assert b"O&apos;Brien &quot;Bob&quot;" in body
    latin = await clients["http"].get("/phonebook/cisco", headers={"Accept-Charset": "iso-8859-1"})
    assert latin.headers["Content-Type"] == "text/xml; charset=iso-8859-1"
    assert latin.content.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    utf8 = pages[0]
    assert xml(latin.content).findtext("Title") == xml(utf8.content).findtext("Title")
    assert latin.headers["ETag"] != utf8.headers["ETag"] and latin.headers["Vary"] == "Accept-Charset"
    same = await clients["http"].get(
        "/phonebook/cisco", headers={"Accept-Charset": "utf-8, iso-8859-1;q=0.5"}
    )
    assert same.content == utf8.content


async def test_panasonic_page_one_links_to_the_rest(phones):
    env, clients = phones
    for i in range(45):
        env.sim.db.add_contact(1, f"Panasonic Person {i:02d}", phone=f"41255560{i:02d}")
    await env.service.sync()
    pages = await fetch(clients["http"], "panasonic")
    assert len(pages) == env.service.publisher.output("panasonic").page_count >= 3
    first = pages[0].links
    assert "next" in first and "last" in first and "prev" not in first
    names = [n.text for p in pages for n in xml(p.content).iter("Name")]
    assert sum(1 for n in names if n.startswith("Panasonic Person")) == 45


async def gigaset_search(client: httpx.AsyncClient, **params: str) -> etree._Element:
    r = await client.get("/phonebook/gigaset", params={"command": "get_list", "type": "pr", **params})
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/xml; charset=utf-8"
    root = xml(r.content)
    assert root.tag == "list" and root.get("response") == "get_list" and root.get("type") == "pr"
    for entry in root.iter("entry"):
        assert entry.get("id") and entry.findtext("ln") and entry.findtext("hm")
    return root


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_gigaset_online_directory_searches_and_pages(phones, scheme: str):
    _env, clients = phones
    client = clients[scheme]
    hit = await gigaset_search(client, ln="o'bri", fn="bob")  # every term starts a word of the name
    assert [e.findtext("ln") for e in hit.iter("entry")] == ['O\'Brien "Bob" Müller (Smith & Sons)']
    reverse = await gigaset_search(client, hm="4125550906")  # a reverse lookup by number
    assert [e.findtext("ln") for e in reverse.iter("entry")] == ["<Ltd>"]
    everyone = await gigaset_search(client, ln="*", count="100")
    total = int(everyone.get("total"))
    assert total == len(everyone.findall("entry")) > 6
    page = await gigaset_search(client, ln="*", first="4", count="3")  # the phone's offset
    assert (page.get("first"), page.get("last"), page.get("total")) == ("4", "6", str(total))
    assert [e.findtext("hm") for e in page.iter("entry")] == [
        e.findtext("hm") for e in everyone.iter("entry")
    ][3:6]
    past = await gigaset_search(client, ln="*", first=str(total + 5))
    assert past.get("total") == str(total) and not past.findall("entry")
    none = await gigaset_search(client, ln="zzzz-nobody")
    assert none.get("total") == "0" and not none.findall("entry")


async def test_gigaset_online_directory_off_by_default(phonebook_env):
    env = await phonebook_env("v1-head", formats=["gigaset"])
    await env.service.sync()
    assert env.service.publisher.book is None  # no entries held in memory unless asked for
    port = free_port()
    face = HttpFace("127.0.0.1", port, phonebook_routes(env.service))
    await face.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            r = await client.get("/phonebook/gigaset", params={"command": "get_list", "ln": "a"})
            assert r.status_code == 404 and "gigaset_online_directory" in r.text
            assert (await client.get("/phonebook/gigaset")).status_code == 200  # the central book
    finally:
        await face.stop(asyncio.get_running_loop().time() + 5)


async def test_published_file_names_serve_the_same_pages(phones):
    env, clients = phones
    for i in range(40):
        env.sim.db.add_contact(1, f"Paged Person {i:02d}", phone=f"41255570{i:02d}")
    await env.service.sync()
    client = clients["http"]
    for format_id, first in (("cisco", "cisco-directory.xml"), ("panasonic", "panasonic-phonebook.xml")):
        stem = first.rsplit(".", 1)[0]
        assert (await client.get(f"/phonebook/{format_id}/{first}")).content == (
            await client.get(f"/phonebook/{format_id}")
        ).content
        assert (await client.get(f"/phonebook/{format_id}/{stem}-2.xml")).content == (
            await client.get(f"/phonebook/{format_id}", params={"page": "2"})
        ).content
        assert (await client.get(f"/phonebook/{format_id}/{stem}-999.xml")).status_code == 404
    assert (await client.get("/phonebook/yealink/phonebook.xml")).status_code == 404  # not its name


async def yealink_search(client: httpx.AsyncClient, typed: str, key: str = "search") -> etree._Element:
    # remote_phonebook.data.N.url = …/phonebook/yealink?search=#SEARCH: the phone puts what was typed
    r = await client.get("/phonebook/yealink", params={key: typed})
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/xml; charset=utf-8"
    root = xml(r.content)
    assert root.tag == "YealinkIPPhoneDirectory"
    for e in root.iter("DirectoryEntry"):
        assert e.findtext("Name") and e.findall("Telephone")
    return root


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_yealink_search_answers_what_the_user_typed(phones, scheme: str):
    _env, clients = phones
    client = clients[scheme]
    names = [e.findtext("Name") for e in (await yealink_search(client, "o'bri bob")).iter("DirectoryEntry")]
    assert len(names) == 1 and names[0].startswith('O\'Brien "Bob" Müller')
    by_number = await yealink_search(client, "412 555 0906", key="term")  # Wazo's parameter name
    assert [e.findtext("Name") for e in by_number.iter("DirectoryEntry")] == ["<Ltd>"]
    nobody = await yealink_search(client, "zzzz-nobody")
    assert nobody.find("DirectoryEntry") is None
    # nothing typed (or the placeholder sent as it is): the whole book, as without #SEARCH
    whole = await client.get("/phonebook/yealink")
    for typed in ("", "#SEARCH"):
        r = await client.get("/phonebook/yealink", params={"search": typed})
        assert r.content == whole.content, typed
