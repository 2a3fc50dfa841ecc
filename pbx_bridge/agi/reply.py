"""One AGI reply line, parsed: a plain value that the parser (``protocol``) makes and the errors carry."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["AgiReply"]


@dataclass(frozen=True, slots=True)
class AgiReply:
    """One reply: ``200 result=1 (ACME Corp - Alice)`` -> code 200, result "1", data "ACME Corp - Alice"."""

    code: int
    result: str = ""
    data: str = ""
    extras: dict[str, str] = field(default_factory=dict)  # e.g. {"endpos": "5120"}
    raw: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def failed(self) -> bool:
        """``result=-1``: the command failed (missing file, error) or the caller hung up."""
        return self.code == 200 and self.result == "-1"

    @property
    def result_int(self) -> int | None:
        try:
            return int(self.result)
        except ValueError:
            return None

    @property
    def endpos(self) -> int | None:
        value = self.extras.get("endpos")
        return int(value) if value is not None and value.lstrip("-").isdigit() else None
