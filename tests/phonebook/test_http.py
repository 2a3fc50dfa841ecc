"""The phonebook URLs on a real aiohttp listener on loopback (the daemon's HttpFace with its middleware)."""

from __future__ import annotations

import asyncio
import socket
from email.utils import format_datetime, parsedate_to_datetime

import httpx
import pytest
from lxml import etree

from pbx_bridge.http import HttpFace
from pbx_bridge.phonebook.http import phonebook_routes
from tests.phonebook.helpers import eventually
from tests.support.waits import wait_until

STRICT = etree.XMLParser(recover=False)
AUTH = ("phones", "s3cret")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def served(phonebook_env):
    port = free_port()
    env = await phonebook_env(
        "v1-head", formats=["yealink", "cisco", "snom-v2", "gigaset-de", "vcard"], http={"port": port}
    )
    face = HttpFace("127.0.0.1", port, phonebook_routes(env.service), basic_auth=AUTH)
    await face.start()
    assert face.bound_port == port
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", auth=AUTH, timeout=10) as client:
        yield env, client
    await face.stop(asyncio.get_running_loop().time() + 5)


async def test_before_the_first_publish_the_answer_is_503(served):
    _env, client = served
    r = await client.get("/phonebook/yealink")
    assert r.status_code == 503 and r.headers["Retry-After"]


async def test_get_carries_etag_and_last_modified_and_revalidates_with_304(served):
    env, client = served
    await env.service.sync()
    r = await client.get("/phonebook/yealink")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/xml; charset=utf-8"
    etag, last_modified = r.headers["ETag"], r.headers["Last-Modified"]
    assert etag.startswith('"') and parsedate_to_datetime(last_modified).tzinfo is not None
    assert etree.fromstring(r.content, STRICT).tag == "YealinkIPPhoneDirectory"

    r304 = await client.get("/phonebook/yealink", headers={"If-None-Match": etag})
    assert r304.status_code == 304 and r304.content == b"" and r304.headers["ETag"] == etag

    async def status(**headers: str) -> int:
        return (await client.get("/phonebook/yealink", headers=headers)).status_code

    assert await status(**{"If-None-Match": f'"x", W/{etag}'}) == 304
    assert await status(**{"If-None-Match": '"other"'}) == 200
    assert await status(**{"If-Modified-Since": last_modified}) == 304
    earlier = format_datetime(parsedate_to_datetime(last_modified).replace(year=2000), usegmt=True)
    assert await status(**{"If-Modified-Since": earlier}) == 200
    head = await client.head("/phonebook/yealink", headers={"If-None-Match": etag})
    assert head.status_code == 304


async def test_post_is_served_like_get(served):
    env, client = served
    await env.service.sync()
    get = await client.get("/phonebook/snom-v2")
    post = await client.post("/phonebook/snom-v2", headers={"If-None-Match": get.headers["ETag"]})
    assert post.status_code == 200 and post.content == get.content
    assert post.headers["ETag"] == get.headers["ETag"]
    assert etree.fromstring(post.content, STRICT).get("version") == "2.0"


async def test_a_changed_directory_changes_the_etag(served):
    env, client = served
    await env.service.sync()
    old = (await client.get("/phonebook/yealink")).headers["ETag"]
    env.sim.db.add_contact(1, "Zed Newcomer", phone="4125558888")
    await env.service.sync()
    r = await client.get("/phonebook/yealink", headers={"If-None-Match": old})
    assert r.status_code == 200 and r.headers["ETag"] != old
    assert b"Zed Newcomer" in r.content


async def test_cisco_next_links_walk_every_page(served):
    env, client = served
    for i in range(60):
        env.sim.db.add_contact(1, f"Page Person {i:02d}", phone=f"41255530{i:02d}")
    result = await env.service.sync()
    url = "/phonebook/cisco"
    numbers = []
    for _ in range(50):
        r = await client.get(url)
        assert r.status_code == 200
        root = etree.fromstring(r.content, STRICT)
        entries = root.findall("DirectoryEntry")
        assert len(entries) <= 32
        numbers += [e.findtext("Telephone") for e in entries]
        nxt = {k.findtext("Name"): k.findtext("URL") for k in root.findall("SoftKeyItem")}.get("Next")
        if nxt is None:
            break
        assert nxt.startswith(str(client.base_url))  # links come from the listener's public URL
        url = nxt
    assert len(numbers) == len(set(numbers)) == result.records["cisco"]
    assert (await client.get("/phonebook/cisco?page=999")).status_code == 404
    assert (await client.get("/phonebook/cisco?page=two")).status_code == 400


async def test_media_types_unknown_and_unpublished_formats(served):
    env, client = served
    await env.service.sync()
    de = await client.get("/phonebook/gigaset-de")
    assert de.headers["Content-Type"] == "text/xml; charset=utf-16" and de.content[:2] == b"\xff\xfe"
    vcf = await client.get("/phonebook/vcard")
    assert vcf.headers["Content-Type"].startswith("text/vcard") and vcf.content.startswith(b"BEGIN:VCARD")
    assert (await client.get("/phonebook/nokia")).status_code == 404
    unpublished = await client.get("/phonebook/polycom")
    assert unpublished.status_code == 404 and "phonebook.formats" in unpublished.text
    index = await client.get("/phonebook")
    lines = index.text.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["yealink", "cisco", "snom-v2", "gigaset-de", "vcard"]
    assert lines[0].split("\t")[1] == f"{client.base_url}/phonebook/yealink"


async def test_basic_auth_applies_to_the_phonebook(served):
    env, client = served
    await env.service.sync()
    async with httpx.AsyncClient(base_url=client.base_url, timeout=10) as anonymous:
        assert (await anonymous.get("/phonebook/yealink")).status_code == 401


async def test_post_sync_triggers_a_pull(served):
    env, client = served
    await env.service.start()
    try:
        await eventually(lambda: env.service.runs >= 1)
        env.sim.db.add_contact(1, "Triggered Person", phone="4125559999")
        r = await client.post("/phonebook/sync")
        assert r.status_code == 202

        async def listed() -> bool:
            return b"Triggered Person" in (await client.get("/phonebook/yealink")).content

        await wait_until(listed, timeout=10, what="the triggered sync to list the new contact", poll=0.05)
    finally:
        await env.service.stop(asyncio.get_running_loop().time() + 5)


async def test_etag_follows_the_file_actually_served(served):
    # A publish renames new files in before it swaps its outputs: the tag must match the bytes sent.
    env, client = served
    await env.service.sync()
    old = (await client.get("/phonebook/yealink")).headers["ETag"]
    path = env.out / "yealink-phonebook.xml"
    path.write_bytes(path.read_bytes().replace(b"Bell &amp; Whistle", b"Bell &amp; Whistles"))
    r = await client.get("/phonebook/yealink", headers={"If-None-Match": old})
    assert r.status_code == 200 and b"Whistles" in r.content
    again = await client.get("/phonebook/yealink", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304
