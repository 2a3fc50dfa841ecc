"""Sessions expire (lifetime and idle time); password hashes verify only the right password."""

from __future__ import annotations

from pbx_bridge.screen.passwords import hash_password, verify_password
from pbx_bridge.screen.sessions import Sessions


def test_a_session_ends_after_its_lifetime_and_when_idle() -> None:
    now = [1000.0]
    sessions = Sessions(clock=lambda: now[0], lifetime=3600, idle=600)
    s = sessions.create("dana")
    now[0] += 599
    assert sessions.get(s.id) is s  # each request restarts the idle timer
    now[0] += 599
    assert sessions.get(s.id) is s
    now[0] += 600
    assert sessions.get(s.id) is None  # idle too long
    t = sessions.create("dana")
    for _ in range(7):
        now[0] += 500
        assert sessions.get(t.id) is t
    now[0] += 500
    assert sessions.get(t.id) is None  # 4000 s: past the lifetime although never idle
    assert sessions.get("") is None and sessions.get("made-up") is None


def test_password_hashes() -> None:
    stored = hash_password("correct horse 1")
    assert stored.startswith("scrypt$16384$8$1$") and "correct" not in stored
    assert verify_password("correct horse 1", stored)
    assert not verify_password("correct horse 2", stored)
    assert not verify_password("correct horse 1", None)
    assert not verify_password("x", "scrypt$broken")
    assert hash_password("same") != hash_password("same")  # salted
