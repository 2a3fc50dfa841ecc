"""Asterisk 23 (FreePBX 18) removed the DeadAGI application and users.conf: nothing of ours may use them.

Scans what reaches Asterisk: the lab's dialplans and configs, the classic AGI scripts, the code that
writes or reads Asterisk files, and the dialplan lines of the docs.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REMOVED = re.compile(r"\bDeadAGI\b|\busers\.conf\b", re.I)


def _files() -> list[Path]:
    out: list[Path] = []
    for top in ("lab", "agi", "pbx_bridge", "tests/fixtures", "systemd", "scripts"):
        for path in (ROOT / top).rglob("*"):
            if (
                path.is_file()
                and "chroot" not in path.relative_to(ROOT).parts
                and path.suffix not in (".pyc", ".wav", ".gsm", ".sln", ".zst", ".pcap")
            ):
                out.append(path)
    return out


def test_nothing_reaching_asterisk_uses_deadagi_or_users_conf() -> None:
    files = _files()
    assert len(files) > 50  # the scan saw the tree
    hits = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in files
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if REMOVED.search(line)
    ]
    assert not hits, hits


def test_no_dialplan_line_in_the_docs_uses_deadagi() -> None:
    hits = [
        f"{p.name}:{n}"
        for p in (ROOT / "docs").glob("*.md")
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if "=>" in line and REMOVED.search(line)
    ]
    assert not hits, hits
