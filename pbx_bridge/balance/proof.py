"""Proof that the FastAGI peer is the Asterisk that can read the balance secret, without the secret ever
passing through the dialplan or over the wire.

Asterisk can only hand a FastAGI server a value through the dialplan (the ``agi://`` URL, arguments or
variables), where AMI ``Newexten``/``VarSet`` events and the verbose log show it. So the daemon asks
instead: ``GET FULL VARIABLE ${SHA1(${FILE(<path>)}<nonce>)}`` makes Asterisk read the secret file
itself (FILE(), func_env; SHA1(), func_sha1; both loaded by FreePBX's ``autoload=yes``) and answer only
the SHA-1 of the secret followed by a fresh random nonce. AMI's ``AGIExecStart`` shows the command (the
path and the nonce), ``AGIExecEnd`` only ``Result: Success``. A local process that connects to the port
cannot answer without reading the file.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

__all__ = ["SecretProof"]


@dataclass(frozen=True)
class SecretProof:
    path: str          # the secret file as Asterisk sees it (validated: a plain path)
    secret: bytes      # its content as the daemon read it

    def command(self, nonce: str) -> str:
        return f"GET FULL VARIABLE ${{SHA1(${{FILE({self.path})}}{nonce})}}"

    def answers(self, nonce: str) -> set[str]:
        """Hex digests that prove it: FILE() may or may not keep the file's final newline."""
        out = set()
        for secret in (self.secret, self.secret.strip()):
            out.add(hashlib.sha1(secret + nonce.encode(), usedforsecurity=False).hexdigest())
        return out

    async def check(self, session: Any) -> bool:
        nonce = secrets.token_hex(16)
        reply = await session.command(self.command(nonce), probe_on_failure=False)
        given = (reply.data if reply.result == "1" else "").strip().lower().encode()
        ok = False
        for expected in self.answers(nonce):
            ok |= hmac.compare_digest(given, expected.encode())
        return ok
