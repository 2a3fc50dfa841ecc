"""Password hashes for the calls page's sign-in: scrypt (stdlib ``hashlib.scrypt``), self-describing.

``scrypt$<n>$<r>$<p>$<salt, base64>$<hash, base64>``: the cost travels with the hash, so raising it
later keeps old hashes working. ``pbx-bridge screen passwd NAME`` makes one for the config.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

__all__ = ["hash_password", "verify_password"]

_N, _R, _P, _LEN = 2**14, 8, 1, 32
# Compared against when the user name is unknown, so that case costs as much time as a wrong password.
_DUMMY = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=2**27)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = _derive(password, salt, _N, _R, _P, _LEN)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Does ``password`` match ``stored``? ``None`` (no such user) costs the same time and is False."""
    text = stored if stored is not None else _DUMMY
    try:
        scheme, n, r, p, salt, digest = text.split("$")
        want = base64.b64decode(digest, validate=True)
        if scheme != "scrypt" or not 8 <= len(want) <= 64:
            return False
        got = _derive(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p), len(want))
    except ValueError:
        return False
    return hmac.compare_digest(got, want) and stored is not None
