"""What one v1 call answers, shared by the client (:mod:`.v1`) and its typed endpoint methods
(:mod:`.endpoints`), so neither has to import the other for it."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Json", "JsonObject", "Param", "V1Response"]

# A decoded JSON value, as ``json.loads`` gives it.
Json = dict[str, "Json"] | list["Json"] | str | int | float | bool | None
JsonObject = dict[str, Json]

# A request parameter: sent in the query string (reads) or the JSON body (writes); None is not sent.
Param = str | int | float | bool | None


@dataclass(frozen=True)
class V1Response:
    """One v1 answer. ``rows`` are the data rows (no numeric duplicate keys, null as ``""``); ``raw`` the
    whole envelope as ITFlow sent it."""

    rows: list[dict[str, str]] = field(default_factory=list)
    count: int = 0
    raw: JsonObject | None = None
    success: bool = True
    message: str = ""

    @property
    def insert_id(self) -> int | None:
        """The new id from a create (``data:[{"insert_id":N}]``), else None."""
        if self.rows and self.rows[0].get("insert_id", "").lstrip("-").isdigit():
            return int(self.rows[0]["insert_id"])
        return None
