"""The FreePBX-safe name rule and the ASCII fold, as pure functions."""

from __future__ import annotations

import random

import pytest

from pbx_bridge.directory.ascii_name import ascii_name
from pbx_bridge.directory.display import cut
from pbx_bridge.directory.safe_name import UNSAFE_CHARACTERS, freepbx_safe

# The set docs/callerid.md justifies, written out independently of the code.
DOCUMENTED = set('()[]{},:;|"\\')


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("x):Set(DB(t/inj)=PWNED", "x -Set DB t/inj =PWNED"),
        ("a,b", "a b"),
        ("(x)", "x"),
        ('"q"', "'q'"),
        ("${EXTEN}", "$EXTEN"),
        ("$[1+1]", "$ 1+1"),
        ('O\'Brien "Bob" Müller', "O'Brien 'Bob' Müller"),
        ("ACME (Europe), Ltd.", "ACME Europe Ltd."),
        ("Dr. Who: Time Lord", "Dr. Who- Time Lord"),
        ("A|B \\ C; D", "A/B / C- D"),
        ("Foo <666>", None),  # CALLERID(all) takes the number from the last <...>
        ("Zoë 👩‍💻 王小明 – Ärzte & Söhne #1 @home 50% +x =y !z ?w 'v' `u` ~t ^s *r", None),
        ("", ""),
        ("()", ""),
    ],
)
def test_rule(name: str, safe: str | None) -> None:
    assert freepbx_safe(name) == (name if safe is None else safe)


def test_the_rule_is_the_documented_set() -> None:
    assert set(UNSAFE_CHARACTERS) == DOCUMENTED


def test_never_longer_idempotent_and_complete() -> None:
    rng = random.Random(12)
    alphabet = [chr(c) for c in range(0x20, 0x7F)] + list("äöüßé👩\u200d💻王")
    for _ in range(2000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 50)))
        safe = freepbx_safe(name)
        assert not DOCUMENTED & set(safe), name
        assert len(safe) <= len(name) and len(safe.encode()) <= len(name.encode())
        assert freepbx_safe(safe) == safe
        # A name cut to FreePBX's 40 bytes stays within them once made safe.
        short = cut(name, 40, 40)
        assert len(freepbx_safe(short).encode()) <= 40


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("O'Brien 'Bob' Müller", "O`Brien `Bob` Muller"),
        ("Łódź Straße Ærø", "Lodz Strasse AEro"),
        ("José “Pepe” García – Café", "Jose `Pepe` Garcia - Cafe"),
        ("Zoë 👩‍💻 王", "Zoe"),
        ("ACME <Ltd>", "ACME Ltd"),
        ("ACME Ltd", "ACME Ltd"),
    ],
)
def test_ascii_fold(name: str, folded: str) -> None:
    assert ascii_name(name) == folded
    assert ascii_name(name).isascii()
