"""``pbx-bridge prompts build``: generate the balance IVR phrases Asterisk's core sounds lack.

The English core set has ``digits/dollars``, ``digits/minus``, ``vm-and``, ``your`` and the number words,
but no "cents", no "your account balance is" and no PIN prompts. This writes them with espeak-ng (speech)
and sox (8 kHz mono 16-bit WAV, the format Asterisk plays without transcoding from slin) into
``<sounds_dir>/<language>/custom/`` (FreePBX's custom-recordings directory), named as the configured
prompts reference them (``custom/pbxb-cents`` -> ``custom/pbxb-cents.wav``). Files are written
atomically; existing ones are kept unless ``--force``. When a file is missing anyway, the balance IVR plays
the next configured alternative (see ``balance.prompts``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pbx_bridge.balance.settings import BalanceSettings, LanguagePrompts
from pbx_bridge.errors import PbxBridgeError

__all__ = ["BUILTIN_TEXTS", "BuiltPrompt", "PromptBuildError", "build_prompts", "generated_names"]

BUILTIN_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "pbxb-your-balance-is": "Your account balance is",
        "pbxb-open-invoices-total": "The amount due on your open invoices is",
        "pbxb-cents": "cents",
        "pbxb-enter-client-number": "Please enter your client number, then press the pound key.",
        "pbxb-enter-pin": "Please enter your PIN, then press the pound key.",
        "pbxb-pin-incorrect": "That PIN is not correct.",
        "pbxb-balance-unavailable": "Sorry, we cannot give you your balance on this call. "
        "Please contact our office.",
    },
}
_TOOL_TIMEOUT = 60.0


class PromptBuildError(PbxBridgeError):
    """A tool is missing or failed; the message says which and how to fix it."""


@dataclass(frozen=True, slots=True)
class BuiltPrompt:
    language: str
    name: str  # as played: custom/pbxb-cents
    path: Path
    action: str  # written | kept | missing-text
    text: str = ""


def _prompt_names(prompts: LanguagePrompts) -> list[str]:
    names: list[str] = []
    # Every prompt list of the model, in declaration order: a prompt added there is built too.
    lists = [getattr(prompts, f) for f in type(prompts).model_fields if f != "currencies"]
    for cur in prompts.currencies.values():
        lists += [cur.major, cur.minor]
    for alternatives in lists:
        for name in alternatives:
            if name.startswith("custom/") and name not in names:
                names.append(name)
    return names


def generated_names(settings: BalanceSettings, language: str) -> list[str]:
    """The ``custom/...`` prompt names the configuration references for ``language``."""
    return _prompt_names(settings.prompts_for(language))


def _texts(settings: BalanceSettings, language: str) -> dict[str, str]:
    base = language.split("_")[0].split("-")[0]
    texts = dict(BUILTIN_TEXTS.get(base, {}))
    texts.update(BUILTIN_TEXTS.get(language, {}))
    texts.update(settings.prompt_texts.get(base, {}))
    texts.update(settings.prompt_texts.get(language, {}))
    return texts


def _run(argv: list[str]) -> None:
    try:
        subprocess.run(argv, check=True, capture_output=True, timeout=_TOOL_TIMEOUT)
    except FileNotFoundError:
        raise PromptBuildError(f"{argv[0]} not found: apt-get install espeak-ng sox") from None
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:] or ["failed"]
        raise PromptBuildError(f"{argv[0]} failed: {detail[0]}") from None
    except subprocess.TimeoutExpired:
        raise PromptBuildError(f"{argv[0]} took longer than {_TOOL_TIMEOUT:g} s") from None


def build_prompts(
    settings: BalanceSettings,
    *,
    languages: list[str] | None = None,
    sounds_dir: Path | None = None,
    force: bool = False,
) -> list[BuiltPrompt]:
    """Generate every configured ``custom/`` prompt that has a text; returns what happened to each."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise PromptBuildError(f"{tool} not found: apt-get install espeak-ng sox")
    root = Path(sounds_dir or settings.sounds_dir)
    out: list[BuiltPrompt] = []
    for language in languages or list(settings.prompts):
        voice = (
            settings.tts_voices.get(language) or settings.tts_voices.get(language.split("_")[0]) or language
        )
        texts = _texts(settings, language)
        target_dir = root / language / "custom"
        for name in generated_names(settings, language):
            stem = name.removeprefix("custom/")
            path = target_dir / f"{stem}.wav"
            text = texts.get(stem, "")
            if not text:
                out.append(BuiltPrompt(language, name, path, "missing-text"))
                continue
            if path.exists() and not force:
                out.append(BuiltPrompt(language, name, path, "kept", text))
                continue
            target_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix="pbxb-tts-") as tmp:
                raw = Path(tmp) / "raw.wav"
                _run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text])
                fd, partial = tempfile.mkstemp(prefix=f".{stem}.", suffix=".wav", dir=target_dir)
                os.close(fd)
                try:
                    # Asterisk's .wav: 8 kHz, mono, signed 16-bit; a little headroom against clipping.
                    _run(
                        [
                            "sox",
                            str(raw),
                            "-r",
                            "8000",
                            "-c",
                            "1",
                            "-b",
                            "16",
                            "-e",
                            "signed-integer",
                            partial,
                            "gain",
                            "-n",
                            "-3",
                        ]
                    )
                    os.chmod(partial, 0o644)
                    os.replace(partial, path)
                finally:
                    if os.path.exists(partial):
                        os.unlink(partial)
            out.append(BuiltPrompt(language, name, path, "written", text))
    return out
