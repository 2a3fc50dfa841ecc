"""The daemon's HTTPS listener and per route group allow-lists, on the real daemon (subprocess).

The plain listener stays on loopback for FreePBX's ``CURL(http://...)``; the TLS listener serves the
same routes with a self-made certificate (real TLS on loopback); ``http.phonebook.allow`` opens the
books to the phones' network without opening ``/cid``; a SIGHUP picks up a renewed certificate.
"""

from __future__ import annotations

import asyncio
import signal
import ssl
from pathlib import Path

import httpx
import pytest

from pbx_bridge.config import ConfigError
from pbx_bridge.settings import parse_settings
from tests import test_http
from tests.support.daemon import Daemon, free_port, write_config
from tests.support.tls import make_certificate, peer_fingerprint
from tests.test_http import ALICE, _get

start_daemon = test_http.start_daemon  # the same daemon fixture as the plain listener's tests

PHONES = "127.0.0.2"  # the "phones' LAN": another loopback address the client binds to


async def _https(
    port: int, cert: Path, path: str, *, source: str = "127.0.0.1", method: str = "GET", **kw
) -> httpx.Response:
    transport = httpx.AsyncHTTPTransport(
        local_address=source, verify=ssl.create_default_context(cafile=str(cert))
    )
    async with httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{port}", transport=transport, timeout=10
    ) as client:
        return await client.request(method, path, **kw)


async def _status(
    port: int, target: str, *, source: str, cafile: Path | None = None, method: str = "GET"
) -> int:
    """The status of one request sent byte for byte (a client library would fold ``//cid`` into
    ``/cid`` or read it as a host), over TLS when ``cafile`` is given."""
    ctx = ssl.create_default_context(cafile=str(cafile)) if cafile is not None else None
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx, local_addr=(source, 0), server_hostname="127.0.0.1" if ctx else None
        ),
        timeout=10,
    )
    try:
        writer.write(
            f"{method} {target} HTTP/1.1\r\nHost: pbx\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout=10)
    finally:
        writer.close()
    return int(line.split()[1])


async def test_phonebooks_open_to_the_phones_never_open_caller_id(start_daemon, tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path / "tls")
    tls_port = free_port()
    d = await start_daemon(
        {
            "tls_host": "127.0.0.1",
            "tls_port": tls_port,
            "tls_cert": str(cert),
            "tls_key": str(key),
            "allow": ["127.0.0.1/32", "::1/128"],
            "phonebook": {"allow": ["127.0.0.0/8"]},
        }
    )

    async def published() -> bool:
        return (await _https(tls_port, cert, "/phonebook/yealink", source=PHONES)).status_code == 200

    await d.wait_until(published, what="the phonebook over HTTPS from the phones' address")
    for path in ("/cid", "/cid.json", "/cid.agi", "/metrics"):
        plain = await _get(d, path, source=PHONES, params={"number": ALICE})
        tls = await _https(tls_port, cert, path, source=PHONES, params={"number": ALICE})
        assert plain.status_code == tls.status_code == 403, path
    # FreePBX 17 asks for //cid: every spelling of the caller-ID routes is refused to the phones on
    # both listeners, and so is the operator's sync (POST /phonebook/sync) and the directory's routes
    targets = [
        f"{lead}{route}?number={ALICE.replace('+', '%2B')}"
        for lead in ("/", "//", "///")
        for route in ("cid", "cid.json", "cid.agi")
    ]
    for target in (*targets, "/directory/stats", "/readyz"):
        assert await _status(d.http_port, target, source=PHONES) == 403, target
        assert await _status(tls_port, target, source=PHONES, cafile=cert) == 403, target
    for target in ("/phonebook/sync", "/phonebook/sync?force=1", "/directory/sync"):
        assert await _status(d.http_port, target, source=PHONES, method="POST") == 403, target
        assert await _status(tls_port, target, source=PHONES, cafile=cert, method="POST") == 403, target
    # ... while FreePBX's own //cid on loopback is answered
    assert await _status(d.http_port, targets[3], source="127.0.0.1") == 200
    # FreePBX (loopback, plain HTTP) still gets its caller names
    r = await _get(d, "/cid", params={"number": ALICE})
    assert r.status_code == 200 and r.text == "ACME Corp - Alice Anderson"
    # Grandstream over HTTPS, the way the phone builds the URL
    gs = await _https(tls_port, cert, "/phonebook/grandstream/phonebook.xml", source=PHONES)
    assert gs.status_code == 200 and b"<AddressBook>" in gs.content
    assert "not in http.callerid.allow" in d.log()


async def test_callerid_group_can_be_narrower_than_http_allow(start_daemon) -> None:
    d = await start_daemon({"allow": ["127.0.0.0/8"], "callerid": {"allow": ["127.0.0.1/32"]}})
    assert (await _get(d, "/cid", source=PHONES, params={"number": ALICE})).status_code == 403
    assert (await _get(d, "/healthz", source=PHONES)).status_code == 200
    assert (await _get(d, "/cid", params={"number": ALICE})).status_code == 200


async def test_sighup_loads_a_renewed_certificate(start_daemon, tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path / "tls", "first")
    tls_port = free_port()
    d = await start_daemon(
        {"tls_host": "127.0.0.1", "tls_port": tls_port, "tls_cert": str(cert), "tls_key": str(key)}
    )
    before = peer_fingerprint(tls_port, cert)
    new_cert, new_key = make_certificate(tmp_path / "renewed", "second")
    cert.write_bytes(new_cert.read_bytes())
    key.write_bytes(new_key.read_bytes())
    d.signal(signal.SIGHUP)
    await d.wait_log("SIGHUP: config valid")

    def renewed() -> bool:
        try:
            return peer_fingerprint(tls_port, cert) != before
        except OSError:
            return False

    await d.wait_until(renewed, what="the renewed certificate on the TLS port")
    assert (await _https(tls_port, cert, "/healthz")).text == "ok"


@pytest.mark.parametrize("broken", ["http.tls_cert", "http.tls_key"])
async def test_a_broken_certificate_keeps_plain_http_and_says_why(
    itflow_sim, tmp_path: Path, broken: str
) -> None:
    cert, key = make_certificate(tmp_path / "tls")
    if broken == "http.tls_cert":
        cert.write_text("not a certificate\n")
    else:  # a key, but not this certificate's (a renewal that replaced one file of the two)
        key.write_bytes(make_certificate(tmp_path / "other", "other")[1].read_bytes())
    sim = await itflow_sim("v1-head")
    cfg = write_config(
        tmp_path / "c.yaml",
        itflow_url=sim.url,
        api_key=sim.keys["all"],
        state_dir=tmp_path / "state",
        extra={
            "http": {
                "tls_host": "127.0.0.1",
                "tls_port": free_port(),
                "tls_cert": str(cert),
                "tls_key": str(key),
            }
        },
    )
    d = Daemon(cfg, log_path=tmp_path / "d.log").start()
    try:
        await d.wait_log("pbx-bridge running")
        ready = await _get(d, "/readyz")
        assert ready.status_code == 503
        detail = ready.json()["parts"]["http"]["detail"]
        assert detail.startswith(f"https: {broken}: "), detail  # the setting to fix, not "one of two"
        # The directory's first sync runs in the background (docs/callerid.md, "Directory at scale").
        await d.wait_until(lambda: _synced(d), what="the first directory sync")
        r = await _get(d, "/cid", params={"number": ALICE})  # FreePBX's plain listener still answers
        assert r.status_code == 200 and r.text == "ACME Corp - Alice Anderson"
    finally:
        d.kill()


def test_tls_config_errors_name_the_key(tmp_path: Path) -> None:
    base = "itflow: {url: https://itflow.example.com, api_key: k}\nhttp:\n"
    with pytest.raises(ConfigError, match=r":2: http: .*tls_port needs tls_cert"):
        parse_settings(base + "  tls_port: 8743\n")
    # a missing file names its own key and line, not the http section
    with pytest.raises(ConfigError, match=r":5: http\.tls_key: no such file .*none\.pem"):
        parse_settings(
            base + f"  tls_port: 8743\n  tls_cert: {Path(__file__)}\n  tls_key: {tmp_path}/none.pem\n"
        )
    with pytest.raises(ConfigError, match=r":3: http\.tls_cert: no such file"):
        parse_settings(
            base + f"  tls_cert: {tmp_path}/gone.pem\n  tls_port: 8743\n  tls_key: {Path(__file__)}\n"
        )
    with pytest.raises(ConfigError, match=r"http\.phonebook\.allow"):
        parse_settings(base + "  phonebook: {allow: [not-a-network]}\n")
    ok = parse_settings(base + "  phonebook: {allow: [192.0.2.0/24]}\n")
    assert ok.http.allow_for("phonebook") == ["192.0.2.0/24"]
    assert ok.http.allow_for("callerid") == ["127.0.0.0/8", "::1/128"]


def test_an_old_config_opening_caller_id_to_the_phones_is_named():
    # the advice before per-group lists: the phones' subnet in http.allow, which opens /cid as well
    base = "itflow: {url: https://itflow.example.com, api_key: k}\nhttp:\n"
    old = parse_settings(base + '  allow: [127.0.0.0/8, "::1/128", 192.0.2.0/24]\n')
    assert old.http.callerid_open_beyond_loopback() == ["192.0.2.0/24"]
    fixed = parse_settings(base + "  phonebook: {allow: [127.0.0.0/8, 192.0.2.0/24]}\n")
    assert fixed.http.callerid_open_beyond_loopback() == []
    chosen = parse_settings(base + '  allow: [192.0.2.0/24]\n  callerid: {allow: ["127.0.0.1/32"]}\n')
    assert chosen.http.callerid_open_beyond_loopback() == []


async def test_the_daemon_warns_when_http_allow_opens_caller_id(start_daemon) -> None:
    d = await start_daemon({"allow": ["127.0.0.0/8", "::1/128", "192.0.2.0/24"]})
    assert "caller ID (/cid, /cid.json, /cid.agi) is open to 192.0.2.0/24 through http.allow" in d.log()


async def _synced(d: Daemon) -> bool:
    return (await _get(d, "/directory/stats")).status_code == 200
