"""Publishing to files: atomic writes, modes, vendor file names, unchanged = no writes, shrink guard."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from lxml import etree

from pbx_bridge.metrics import Metrics
from pbx_bridge.phonebook.formats import FORMATS
from pbx_bridge.phonebook.publisher import Publisher, atomic_write
from pbx_bridge.phonebook.settings import ALL_FORMATS, PhonebookSettings
from tests.phonebook.helpers import PLAN, book_of, many_parties, nasty_parties


def publisher(tmp_path: Path, metrics: Metrics | None = None, **settings: object) -> Publisher:
    cfg = PhonebookSettings(output_dir=tmp_path / "out", **settings)
    return Publisher(
        cfg, public_url="http://pbx.test:8734", state_path=tmp_path / "state.json", metrics=metrics
    )


def files(directory: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in directory.iterdir()}


def test_every_format_is_written_under_its_vendor_file_name_with_the_mode(tmp_path):
    pub = publisher(tmp_path, file_mode=0o640, dir_mode=0o750)
    result = pub.publish(nasty_parties(), PLAN, source="test")
    out = tmp_path / "out"
    assert result.status == "published"
    names = {p.name for p in out.iterdir()}
    for fid in ALL_FORMATS:
        assert FORMATS[fid].file_name in names, fid
    assert "000000000000-directory.xml" in names and "phonebook.xml" in names
    assert "phonebook.vcf" in names and "phonebook.csv" in names
    assert not [n for n in names if n.endswith(".tmp")]
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o640
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    root = etree.parse(str(out / "000000000000-directory.xml")).getroot()
    assert root.tag == "directory"


def test_unchanged_directory_writes_nothing(tmp_path):
    metrics = Metrics()
    pub = publisher(tmp_path, metrics)
    parties = many_parties(200)
    pub.publish(parties, PLAN)
    before = files(tmp_path / "out")
    writes = pub.writes
    metrics.phonebook_success.set(0)
    again = pub.publish(list(parties), PLAN)
    assert again.status == "unchanged" and again.written == []
    assert (
        metrics.registry.get_sample_value("pbx_bridge_phonebook_last_success_timestamp_seconds") or 0
    ) > 0  # a quiet directory is still a successful sync
    assert pub.writes == writes
    assert files(tmp_path / "out") == before


def test_restart_with_the_same_directory_rewrites_nothing(tmp_path):
    parties = many_parties(100)
    publisher(tmp_path).publish(parties, PLAN)
    before = files(tmp_path / "out")
    fresh = publisher(tmp_path)  # a new daemon: nothing in memory, files and state on disk
    result = fresh.publish(parties, PLAN)
    assert result.status == "published" and result.written == []
    assert fresh.writes == 0
    assert files(tmp_path / "out") == before
    assert fresh.output("yealink").page(1) == (tmp_path / "out" / "yealink-phonebook.xml").read_bytes()


def test_a_change_rewrites_only_changed_files(tmp_path):
    pub = publisher(tmp_path, formats=["yealink", "gigaset-de"])
    parties = many_parties(600)
    pub.publish(parties, PLAN)
    before = files(tmp_path / "out")
    # entry 599 sorts last: past Gigaset DE's 500-entry cut, so only the Yealink file changes
    changed = [*parties[:-1], parties[-1].__class__(**{**_fields(parties[-1]), "name": "Person 999999"})]
    result = pub.publish(changed, PLAN)
    assert result.status == "published"
    assert [p.name for p in result.written] == ["yealink-phonebook.xml"]
    after = files(tmp_path / "out")
    assert after["gigaset-de-phonebook.xml"] == before["gigaset-de-phonebook.xml"]
    assert after["yealink-phonebook.xml"] != before["yealink-phonebook.xml"]


def _fields(p):
    return {f: getattr(p, f) for f in p.__dataclass_fields__}


def test_paged_formats_write_their_first_page_and_keep_every_page_for_http(tmp_path):
    pub = publisher(tmp_path, formats=["cisco", "panasonic"])
    pub.publish(many_parties(40, numbers=2), PLAN)  # cisco: 80 records, 3 pages; panasonic: 2 pages
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["cisco-directory.xml", "panasonic-phonebook.xml"]
    cisco = pub.output("cisco")
    assert cisco.page_count == 3
    assert cisco.page(1) == (out / "cisco-directory.xml").read_bytes()
    assert b"http://pbx.test:8734/phonebook/cisco?page=3" in cisco.page(2)
    assert pub.output("panasonic").page_count == 2


def test_files_streamed_while_rendering_hold_the_same_bytes_as_a_rendering_in_memory(tmp_path):
    # 4,100 entries: CSV is streamed in chunks, vCard card by card, XML element by element
    parties = nasty_parties() + many_parties(4100, numbers=3)
    pub = publisher(tmp_path)
    pub.publish(parties, PLAN)
    book = book_of(parties)
    for fid in ALL_FORMATS:
        spec = FORMATS[fid]
        expected = spec.render(book, pub.ctx).pages[0]
        assert (tmp_path / "out" / spec.file_name).read_bytes() == expected, fid
        assert pub.output(fid).page(1) == expected, fid


def test_a_book_of_many_pages_serves_every_page_exactly_and_leaves_no_stray_file(tmp_path):
    # 1100 parties x 2 numbers = 2200 Cisco records, 69 pages: kept in a spool file, not in memory
    parties = many_parties(1100, numbers=2)
    pub = publisher(tmp_path, formats=["cisco"])
    pub.publish(parties, PLAN)
    expected = FORMATS["cisco"].render(book_of(parties), pub.ctx).pages
    cisco = pub.output("cisco")
    assert cisco.page_count == len(expected) == 69
    assert [cisco.page(n) for n in range(1, 70)] == expected
    assert cisco.page(69) == expected[-1] and cisco.page(2) == expected[1]  # any order
    with pytest.raises(IndexError):
        cisco.page(70)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "state.json"]
    # the next publish replaces the pages; the previous output object stays readable meanwhile
    pub.publish(parties[:1000], PLAN, force=True)
    assert cisco.page(3) == expected[2]
    assert pub.output("cisco").page_count == 63


def test_shrink_guard_trips_on_an_80_percent_loss(tmp_path, caplog):
    metrics = Metrics()
    pub = publisher(tmp_path, metrics)
    parties = many_parties(100)
    pub.publish(parties, PLAN)
    before = files(tmp_path / "out")
    with caplog.at_level(logging.WARNING, "pbx_bridge.phonebook"):
        result = pub.publish(parties[:20], PLAN)
    assert result.status == "guarded"
    assert "shrank from 100 to 20 entries (80% lost" in caplog.text
    assert files(tmp_path / "out") == before
    assert pub.entries == 100
    assert metrics.registry.get_sample_value("pbx_bridge_phonebook_shrink_guard_total") == 1
    assert b"Person 000099" in pub.output("yealink").page(1)
    # the guard survives a restart (the count is persisted) ...
    assert publisher(tmp_path).publish(parties[:20], PLAN).status == "guarded"
    # ... and --force overrides it
    forced = pub.publish(parties[:20], PLAN, force=True)
    assert forced.status == "published" and pub.entries == 20
    assert b"Person 000099" not in (tmp_path / "out" / "yealink-phonebook.xml").read_bytes()


def test_shrink_within_the_share_is_published(tmp_path):
    pub = publisher(tmp_path, shrink_guard=0.5)
    pub.publish(many_parties(100), PLAN)
    assert pub.publish(many_parties(60), PLAN).status == "published"


def test_empty_directory_never_replaces_a_good_book(tmp_path):
    pub = publisher(tmp_path, shrink_guard=0.99)
    pub.publish(many_parties(10), PLAN)
    assert pub.publish([], PLAN).status == "guarded"


def test_memory_only_without_output_dir(tmp_path):
    pub = Publisher(PhonebookSettings(), state_path=None)
    result = pub.publish(nasty_parties(), PLAN)
    assert result.status == "published" and result.written == []
    assert pub.output("vcard").page(1).startswith(b"BEGIN:VCARD")
    assert len(pub.output("cisco").etags) == pub.output("cisco").page_count
    with pytest.raises(IndexError):
        pub.output("cisco").page(99)


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "book.xml"
    atomic_write(target, b"old", 0o644)

    with pytest.raises(TypeError):
        atomic_write(target, "not bytes", 0o644)  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["book.xml"]
    assert os.access(target, os.R_OK)
