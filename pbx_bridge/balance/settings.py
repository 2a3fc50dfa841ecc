"""Config section ``balance`` (IVR balance lookup, "press 3").

The balance discloses money, so the defaults are the careful ones: caller-ID binding, three attempts per
call, a lockout per calling number, and no DTMF client-number path unless a PIN is also required.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from pbx_bridge.allow import networks
from pbx_bridge.settings_base import Section

__all__ = ["BalanceSettings", "CurrencyPrompts", "LanguagePrompts", "read_secret"]


def read_secret(path: Path) -> str:
    """The shared secret in ``path`` (blanks around it ignored); ValueError says why it cannot be used.

    A file other users can read gives the secret to every local process (the very peers it keeps out);
    one they can write lets them choose it. Either is refused (the error never shows the content)."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        why = (exc.strerror if isinstance(exc, OSError) else None) or exc
        raise ValueError(f"cannot read {path}: {why}") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{path}: not a regular file")
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise ValueError(
            f"{path}: readable or writable by every user (mode {stat.S_IMODE(mode):o}); "
            "chmod 640 and give the group to the asterisk and pbx-bridge users"
        )
    if len(text) < 16 or not re.fullmatch(r"[A-Za-z0-9_+/=.-]+", text):
        raise ValueError(
            f"{path}: the secret must be at least 16 letters, digits or '_+/=.-' (e.g. openssl rand -hex 24)"
        )
    return text


def _alts(*names: str) -> list[str]:
    return list(names)


class CurrencyPrompts(Section):
    """Sound files naming one currency's units. Each is an ordered list of alternatives: the first that
    exists is played; "" means "say nothing" (the defined last resort)."""

    major: list[str] = Field(
        default_factory=lambda: _alts("digits/dollars"), description="after the whole units, e.g. 'dollars'"
    )
    minor: list[str] = Field(
        default_factory=lambda: _alts("custom/pbxb-cents", ""), description="after the cents, e.g. 'cents'"
    )


class LanguagePrompts(Section):
    """Prompt names for one Asterisk language (the channel's ``agi_language``). Lists are alternatives,
    tried in order when a file is missing; "" = play nothing."""

    intro: list[str] = Field(default_factory=lambda: _alts("custom/pbxb-your-balance-is", "your"))
    approximate_intro: list[str] = Field(
        default_factory=lambda: _alts(
            "custom/pbxb-open-invoices-total", "custom/pbxb-your-balance-is", "your"
        )
    )
    minus: list[str] = Field(default_factory=lambda: _alts("digits/minus"))
    conjunction: list[str] = Field(
        default_factory=lambda: _alts("vm-and"), description="between the units and the cents"
    )
    enter_client_number: list[str] = Field(
        default_factory=lambda: _alts("custom/pbxb-enter-client-number", "number")
    )
    enter_pin: list[str] = Field(default_factory=lambda: _alts("custom/pbxb-enter-pin", "agent-pass"))
    pin_incorrect: list[str] = Field(
        default_factory=lambda: _alts("custom/pbxb-pin-incorrect", "auth-incorrect")
    )
    refused: list[str] = Field(default_factory=lambda: _alts("custom/pbxb-balance-unavailable", "im-sorry"))
    goodbye: list[str] = Field(default_factory=lambda: _alts("vm-goodbye", ""))
    currencies: dict[str, CurrencyPrompts] = Field(
        default_factory=lambda: {"USD": CurrencyPrompts()},
        description="per ISO currency code; a currency not listed is spoken without a unit word",
    )


class BalanceSettings(Section):
    enabled: bool = True
    # callerid: the caller's number (through the directory) is the proof; pin: the contact's ITFlow
    # contact_pin is asked; both: the number must identify the client AND the PIN must match.
    verification: Literal["callerid", "pin", "both"] = "callerid"
    # Legacy api.php has no currency field; v1 clients have client_currency_code.
    default_currency: str = "USD"
    max_attempts: int = Field(default=3, ge=1, le=10, description="PIN / client-number tries per call")
    # Failures within lockout_window (persisted) that lock one calling number out of one client, and one
    # call (channel and uniqueid) out of everything. A withheld number has no counter of its own:
    # withheld callers must not lock each other out, so for them only the call and the client's
    # slow-down count.
    max_failures_per_number: int = Field(default=5, ge=1, le=100)
    # Failed PINs against one client from any number before its PIN checks slow down: each further check
    # waits pin_delay_first * 2^(failures - this), at most pin_delay_max seconds, one check at a time.
    # Guessing from rotating numbers is bounded that way while the right PIN always still works.
    max_failures_per_client: int = Field(default=10, ge=1, le=1000)
    pin_delay_first: float = Field(default=1.0, gt=0, le=60)
    pin_delay_max: float = Field(default=30.0, gt=0, le=600)
    lockout_window: float = Field(default=3600.0, gt=0, description="seconds failures are remembered")
    # Balances heard (successful lookups) per calling number within number_window, and per door (FastAGI
    # route, classic script endpoint) within door_window; beyond them a polite refusal ("limited").
    # Defaults (docs/balance.md): an office's staff all present its main number, so 10 an hour; 20 a
    # minute per door takes 7+ callers in the balance menu at once, which a real PBX rarely carries.
    max_balances_per_number: int = Field(default=10, ge=1, le=1000)
    number_window: float = Field(default=3600.0, gt=0)
    max_balances_per_door: int = Field(default=20, ge=1, le=10_000)
    door_window: float = Field(default=60.0, gt=0)
    # Peers allowed on both doors (CIDR): the FastAGI peer, and the classic script's HTTP client.
    allow: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    # Optional shared secret for both doors: a file readable by the asterisk user. The classic script
    # reads it itself; over FastAGI the daemon makes Asterisk prove it can read it (SHA-1 of secret and a
    # nonce). It never passes through the dialplan. Unset: no secret asked.
    secret_file: Path | None = None
    # The same file as Asterisk sees it, when that path differs (Asterisk in a chroot or container).
    secret_file_asterisk: Path | None = None
    # Unknown or ambiguous caller: ask for the client number by DTMF. Only honoured when a PIN is also
    # required (verification pin), since a typed number proves nothing by itself.
    client_number_prompt: bool = False
    client_number_digits: int = Field(default=6, ge=1, le=12, description="max digits of a client number")
    pin_digits: int = Field(default=8, ge=1, le=32, description="max digits read for a PIN")
    dtmf_timeout: float = Field(default=6.0, gt=0, le=60, description="seconds to wait for DTMF input")
    # Explicit number -> client id map (E.164 or national digits). The only way the phone IVR works on a
    # legacy-only ITFlow (its answers carry no client ids); consulted first on any backend.
    number_map: dict[str, int] = Field(default_factory=dict)
    # v1 at v26.04+ has no payments: speak the open-invoice total (flagged approximate) or refuse.
    approximate: Literal["speak", "refuse"] = "speak"
    # ITFlow excludes Non-Billable invoices from v25.06 on. auto: decide from the detected era.
    non_billable: Literal["auto", "exclude", "include"] = "auto"
    # Where `pbx-bridge prompts build` writes (one sub-directory per language: <dir>/<lang>/custom/).
    sounds_dir: Path = Path("/var/lib/asterisk/sounds")
    # espeak-ng voice per language for the generated prompts.
    tts_voices: dict[str, str] = Field(default_factory=lambda: {"en": "en-us"})
    # Texts of generated prompts per language, by file name (without custom/ and extension); merged over
    # the built-in English texts (pbx_bridge/balance/prompts.py lists them).
    prompt_texts: dict[str, dict[str, str]] = Field(default_factory=dict)
    prompts: dict[str, LanguagePrompts] = Field(default_factory=lambda: {"en": LanguagePrompts()})
    # Seconds a call may wait for ITFlow to compute the balance; then a polite refusal ("unavailable").
    compute_timeout: float = Field(default=15.0, gt=0, le=120)
    # Seconds the daemon waits for the classic AGI script to relay each reply (then the call is over).
    script_timeout: float = Field(default=8.0, gt=0, le=60)

    @field_validator("default_currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        v = v.strip().upper()
        if len(v) != 3 or not v.isalpha():
            raise ValueError("a 3-letter ISO 4217 code, e.g. USD")
        return v

    @field_validator("allow")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        networks(v)  # the same parser the doors use: ValueError names the item that is no network
        return v

    @field_validator("secret_file")
    @classmethod
    def _secret_readable(cls, v: Path | None) -> Path | None:
        if v is not None:
            read_secret(v)
        return v

    @field_validator("secret_file", "secret_file_asterisk")
    @classmethod
    def _plain_path(cls, v: Path | None) -> Path | None:
        # The path goes into an Asterisk expression: FILE(<path>) inside ${SHA1(...)}.
        if v is not None and not re.fullmatch(r"/[A-Za-z0-9_./-]+", str(v)):
            raise ValueError("an absolute path of letters, digits, '_', '.', '/' and '-' only")
        return v

    @field_validator("prompts")
    @classmethod
    def _has_default_language(cls, v: dict[str, LanguagePrompts]) -> dict[str, LanguagePrompts]:
        if not v:
            raise ValueError("give prompts for at least one language")
        return v

    def prompts_for(self, language: str) -> LanguagePrompts:
        """Prompts for the channel's language: exact, then its base ("en_GB" -> "en"), then the first."""
        lang = (language or "").strip()
        if lang in self.prompts:
            return self.prompts[lang]
        base = lang.split("_")[0].split("-")[0]
        if base in self.prompts:
            return self.prompts[base]
        return next(iter(self.prompts.values()))
