"""Voicemail audio in the ticket: signed, expiring links served by the daemon (docs/tickets.md,
"Voicemail audio links").

A link names the mailbox (context and box) and the message's ``msg_id`` (from its ``msgNNNN.txt``:
Asterisk renumbers ``msgNNNN`` when an earlier message is deleted, the id stays), plus an expiry; an
HMAC-SHA256 over all of them, with a key kept in the state directory, signs it. Serving:

* signature wrong or expiry past -> 403 (checked first, in constant time, before touching the disk);
* the message no longer in the mailbox (deleted, or moved out of every folder) -> 410 Gone;
* else its audio, converted by sox to PCM WAV (browsers play neither GSM nor WAV49).

Nothing of the request becomes a path: context, box and id must match strict patterns and be signed,
the folders are a fixed list, and the file is found by reading the mailbox's own ``.txt`` files.
"""

from __future__ import annotations

import asyncio
import configparser
import hashlib
import hmac
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from pbx_bridge.errors import PbxBridgeError

__all__ = [
    "FOLDERS",
    "VoicemailAudio",
    "VoicemailLinkError",
    "VoicemailLinks",
    "load_key",
    "voicemail_routes",
]

log = logging.getLogger("pbx_bridge.tickets")

FOLDERS = ("INBOX", "Old", "Urgent", "Work", "Family", "Friends")
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")  # a context or a mailbox, never "." or ".."
_MSG_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SIG = re.compile(r"^[0-9a-f]{64}$")
_AUDIO = ("wav", "WAV", "gsm", "ulaw", "alaw", "g722", "sln")
_KEY_FILE = "voicemail-links.key"


class VoicemailLinkError(PbxBridgeError):
    """The signing key cannot be read or made (state directory not writable), or sox is missing or
    failed on a message."""


def load_key(state_dir: Path) -> bytes:
    """The HMAC key from the state directory, made on first use (32 random bytes, mode 0600)."""
    path = state_dir / _KEY_FILE
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise VoicemailLinkError(f"cannot read {path}: {exc.strerror}") from None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
        return path.read_bytes()
    except OSError as exc:
        raise VoicemailLinkError(f"cannot create {path}: {exc.strerror}") from None


def _valid(context: str, box: str, msg_id: str) -> bool:
    return bool(
        _NAME.match(context) and _NAME.match(box) and _MSG_ID.match(msg_id) and ".." not in context + box
    )


class VoicemailLinks:
    """Makes and checks links ``{base}/voicemail/{context}/{box}/{msg_id}.wav?e=<expiry>&s=<sig>``."""

    def __init__(self, key: bytes, *, base_url: str, days: float = 30.0) -> None:
        self._key = key
        self.base_url = base_url.rstrip("/")
        self.days = days

    def _sign(self, context: str, box: str, msg_id: str, expires: int) -> str:
        msg = f"v1\n{context}\n{box}\n{msg_id}\n{expires}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def link(self, mailbox: str, msg_id: str, *, now: float | None = None) -> tuple[str, int] | None:
        """(URL, expiry epoch) for message ``msg_id`` of ``mailbox`` ("202@default"); None when the
        names cannot be linked safely."""
        box, _, context = mailbox.partition("@")
        context = context or "default"
        if not _valid(context, box, msg_id):
            return None
        expires = int((time.time() if now is None else now) + self.days * 86400)
        sig = self._sign(context, box, msg_id, expires)
        path = f"/voicemail/{quote(context)}/{quote(box)}/{quote(msg_id)}.wav"
        return f"{self.base_url}{path}?e={expires}&s={sig}", expires

    def verify(self, context: str, box: str, msg_id: str, expires: str, sig: str, *, now: float) -> bool:
        if not (
            _valid(context, box, msg_id) and expires.isdigit() and len(expires) <= 12 and _SIG.match(sig)
        ):
            return False
        good = self._sign(context, box, msg_id, int(expires))
        return hmac.compare_digest(good, sig) and int(expires) > now


@dataclass(frozen=True, slots=True)
class VoicemailAudio:
    """Finds a message in the spool by its id, and converts its audio to PCM WAV."""

    spool_root: Path
    sox: str = "sox"

    def find(self, context: str, box: str, msg_id: str) -> Path | None:
        """The message's audio file, or None when it is no longer in any folder of the mailbox."""
        mailbox = self.spool_root / context / box
        for folder in FOLDERS:
            d = mailbox / folder
            try:
                infos = sorted(d.glob("msg[0-9][0-9][0-9][0-9].txt"))
            except OSError:
                continue
            for info in infos:
                if _msg_id(info) == msg_id:
                    for ext in _AUDIO:
                        audio = info.with_suffix(f".{ext}")
                        if audio.is_file():
                            return audio
                    return None
        return None

    async def wav(self, audio: Path) -> bytes:
        """PCM WAV (16-bit, the file's own rate) of ``audio`` through sox."""
        exe = shutil.which(self.sox)
        if exe is None:
            raise VoicemailLinkError("sox not found: apt-get install sox")
        with tempfile.TemporaryDirectory(prefix="pbx-bridge-vm-") as tmp:
            out = Path(tmp) / "out.wav"
            src = ["-t", _sox_type(audio)] if audio.suffix.lower() != ".wav" else []
            proc = await asyncio.create_subprocess_exec(
                exe,
                *src,
                str(audio),
                "-e",
                "signed-integer",
                "-b",
                "16",
                str(out),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await asyncio.wait_for(proc.communicate(), 30)
            if proc.returncode != 0:
                raise VoicemailLinkError(
                    f"sox failed on {audio.name}: {err.decode(errors='replace').strip()[:200]}"
                )
            return out.read_bytes()


def _sox_type(audio: Path) -> str:
    return {".gsm": "gsm", ".ulaw": "ul", ".alaw": "al", ".sln": "sln"}.get(audio.suffix.lower(), "wav")


def _msg_id(info: Path) -> str:
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        cp.read_string(info.read_text(encoding="utf-8", errors="replace"))
        return cp["message"].get("msg_id", "").strip()
    except (OSError, configparser.Error, KeyError):
        return ""


def voicemail_routes(links: VoicemailLinks, audio: VoicemailAudio) -> list[web.RouteDef]:
    async def serve(request: web.Request) -> web.StreamResponse:
        m = request.match_info
        context, box, msg_id = m["context"], m["box"], m["msg"]
        if not links.verify(
            context, box, msg_id, request.query.get("e", ""), request.query.get("s", ""), now=time.time()
        ):
            return web.Response(status=403, text="this link is not valid (tampered with, or expired)\n")
        found = await asyncio.to_thread(audio.find, context, box, msg_id)
        if found is None:
            return web.Response(status=410, text="this voicemail message has been deleted\n")
        try:
            body = await audio.wav(found)
        except (VoicemailLinkError, TimeoutError) as exc:
            log.error("voicemail link: %s", exc)
            return web.Response(status=500, text="the message could not be converted\n")
        return web.Response(
            body=body,
            content_type="audio/wav",
            headers={
                "Cache-Control": "private, no-store",
                "Content-Disposition": f'inline; filename="voicemail-{box}-{msg_id}.wav"',
            },
        )

    return [web.get(r"/voicemail/{context}/{box}/{msg}.wav", serve)]
