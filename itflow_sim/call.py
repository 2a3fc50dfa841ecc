"""One v1 request as an endpoint sees it: PHP's ``$_GET``, the JSON-replaced ``$_POST``, the caller's key."""

from __future__ import annotations

from dataclasses import dataclass, field

from itflow_sim.auth import KeyContext
from itflow_sim.data import Database, Row
from itflow_sim.php import intval, sql_like, strip_tags
from itflow_sim.profiles import Profile, Quirks

__all__ = ["Call", "PhpFatal"]


class PhpFatal(Exception):
    """An uncaught PHP 8 error (TypeError and the like): HTTP 500, empty body, whatever the mysqli mode."""


@dataclass
class Call:
    db: Database
    profile: Profile
    quirks: Quirks
    key: KeyContext
    module: str
    function: str
    get: dict[str, str]
    post: dict[str, object]
    limit: int = 50
    offset: int = 0
    path: str = ""
    ip: str = "127.0.0.1"
    user_agent: str = ""
    notes: list[str] = field(default_factory=list)

    # ---- parameters ----------------------------------------------------------------------------------

    def p(self, name: str) -> str | None:
        """A POST (JSON body) value as PHP would stringify it; None when not ``isset``."""
        value = self.post.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "1" if value else ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return value if isinstance(value, str) else str(value)

    def clean(self, name: str, default: str = "") -> str:
        """ITFlow's ``sanitizeInput``: tags stripped and trimmed (SQL escaping is invisible in storage)."""
        if isinstance(self.post.get(name), (list, dict)):
            # PHP 8: strip_tags(array) is an uncaught TypeError, i.e. HTTP 500 with an empty body.
            raise PhpFatal(f"{name}: array given")
        value = self.p(name)
        return default if value is None else strip_tags(value).strip(" \t\n\r\0\x0b")

    def pint(self, name: str, default: int = 0) -> int:
        value = self.p(name)
        return default if value is None else intval(value)

    # ---- scoping -------------------------------------------------------------------------------------

    @property
    def scoped_key(self) -> bool:
        """V1b/V1c: a key locked to one client."""
        return self.profile.auth == "client" and self.key.client_id != 0

    def like_client(self) -> str:
        """V1c's ``<x>_client_id LIKE '<c>'`` pattern."""
        if self.key.client_id:
            return str(self.key.client_id)
        if "client_id" in self.get:
            return str(intval(self.get["client_id"]))
        return "%"

    def client_filter(self) -> int | None:
        """V1e reads: the ``client_id`` narrowing (JSON body first, then query; ``isset``, so 0 counts)."""
        if not self.profile.client_filter or self.function != "read":
            return None
        raw = self.post.get("client_id")
        if raw is None:
            raw = self.get.get("client_id")
        return None if raw is None else intval(raw)

    def in_scope(self, value: str | None) -> bool:
        """Does a row whose client column holds ``value`` pass this era's read scoping?"""
        if self.profile.auth == "user":
            narrowed = self.client_filter()
            if narrowed is not None and intval(value) != narrowed:
                return False
            return self.key.read_scope(value)
        if self.profile.auth == "client":
            return sql_like(value, self.like_client())
        return True

    def write_client(self) -> int:
        """The client a write targets: V1c scoped keys force their client, else the body's ``client_id``."""
        if self.scoped_key:
            return self.key.client_id
        return self.pint("client_id")

    def audit(
        self, entity_type: str, action: str, description: str, *, client_id: int = 0, entity_id: int = 0
    ) -> None:
        """The two audit rows a successful write leaves (entity action + API/Success)."""
        name = (
            (self.key.key["api_key_name"] or "")
            .replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
        )
        extra = {
            "log_ip": self.ip,
            "log_user_agent": self.user_agent,
            "log_user_id": self.key.key["api_key_user_id"] or "0",
            "log_client_id": client_id,
            "log_entity_id": entity_id,
        }
        self.db.log(entity_type, action, f"{description} via API ({name})", **extra)
        self.db.log(
            "API", "Success", f"{action}d {entity_type.lower()} {description} via API ({name})", **extra
        )


def row_int(row: Row, col: str) -> int:
    return int(row.get(col) or 0)
