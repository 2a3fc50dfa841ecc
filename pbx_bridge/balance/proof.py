"""Proof that the FastAGI peer is the Asterisk that can read the balance secret, without the secret ever
passing through the dialplan or over the wire.

Asterisk can only hand a FastAGI server a value through the dialplan (the ``agi://`` URL, arguments or
variables), where AMI ``Newexten``/``VarSet`` events and the verbose log show it. So the daemon asks
instead: ``GET FULL VARIABLE ${SHA1(${FILE(<path>)}<nonce>)}`` makes Asterisk read the secret file
itself (FILE(), func_env; SHA1(), func_sha1; both loaded by FreePBX's ``autoload=yes``) and answer only
the SHA-1 of the secret followed by a fresh random nonce. AMI's ``AGIExecStart`` shows the command (the
path and the nonce), ``AGIExecEnd`` only ``Result: Success``. A local process that connects to the port
cannot answer without reading the file.

Why SHA-1 of secret and nonce suffices here: the daemon draws a new 128-bit nonce for every question, so
a recorded answer answers no other question, and length extension does not help a peer that cannot
choose what follows the secret. The digest travels only on the AGI connection. With ``agi set debug on``
Asterisk's console would show nonce/digest pairs, which allow offline guessing: hence a random secret of
at least 16 characters (``openssl rand -hex 24``), in a file other users cannot read (settings.read_secret).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from pbx_bridge.agi.errors import AgiError
from pbx_bridge.agi.session import AgiSession

__all__ = ["PROOF_TIMEOUT", "SecretProof"]

PROOF_TIMEOUT = 2.0  # seconds for the answer


# What may follow the secret in the file: FILE() hands Asterisk the content as written, final newline and
# all (``openssl rand -hex 24 > file`` writes one; Windows editors write CRLF).
_TAILS = (b"", b"\n", b"\r\n")
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9_./-]+")


@dataclass(frozen=True)
class SecretProof:
    path: str  # the secret file as Asterisk sees it (validated: a plain path)
    secret: bytes  # the validated secret (settings.read_secret), without blanks around it
    answer_within: float = PROOF_TIMEOUT

    def __post_init__(self) -> None:
        # SHA1 of an empty secret and the nonce is SHA1(nonce): anyone could answer it.
        if len(self.secret.strip()) < 16:
            raise ValueError("the balance secret is missing or too short")
        # The path goes unquoted into an Asterisk expression: no '$', braces, parentheses, commas or
        # blanks that could end FILE() or start another expression (settings validate it the same way).
        if not _PLAIN_PATH.fullmatch(self.path):
            raise ValueError(f"not a plain absolute path: {self.path!r}")

    def command(self, nonce: str) -> str:
        return f"GET FULL VARIABLE ${{SHA1(${{FILE({self.path})}}{nonce})}}"

    def answers(self, nonce: str) -> list[bytes]:
        """Hex digests that prove it, one per way the file may end."""
        return [hashlib.sha1(self.secret + tail + nonce.encode()).hexdigest().encode() for tail in _TAILS]

    async def check(self, session: AgiSession) -> bool:
        """Ask once with a fresh nonce; False for a wrong, failed or late answer (``answer_within``: Asterisk
        answers in milliseconds, and a peer that sits on the question must not hold a connection long)."""
        nonce = secrets.token_hex(16)  # 128 random bits per question: no answer can be replayed
        try:
            async with asyncio.timeout(self.answer_within):
                reply = await session.command(self.command(nonce), probe_on_failure=False)
        except (TimeoutError, AgiError):
            return False
        given = (reply.data if reply.result == "1" else "").strip().lower().encode()
        ok = False
        for expected in self.answers(nonce):  # every candidate compared, each in constant time
            ok |= hmac.compare_digest(given, expected)
        return ok
