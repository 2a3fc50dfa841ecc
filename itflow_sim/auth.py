"""API keys, users and RBAC of the simulated install (docs/itflow-api.md §1.2 K5, §3.1 V1a/V1c, §2.3 V1d).

Default keys per profile (names are what ``Simulator.keys`` exposes):

* legacy-2022 (company keys): ``all``; ``expired`` (expiry date = today, so dead since 00:00).
* v1-v25 (``api_key_client_id``): ``all`` (0 = all clients), ``client`` (locked to client 1),
  ``client2`` (locked to client 2), ``expired``.
* v1-head (user-bound): ``all`` (admin user), ``client`` (Technician allow-listed to client 1),
  ``readonly`` (Accountant: client R, support R, sales R, financial W), ``deny`` (Technician with
  client 2 on its deny list), ``inactive`` (archived user), ``unbound`` (user id 0, as keys made
  before the v26.08 migration), ``expired``.

Every default key's credential decrypt password is ``DECRYPT_PASSWORD`` ("sim-decrypt-password").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from itflow_sim.data import Database, Row
from itflow_sim.php import sql_eq, strip_tags
from itflow_sim.profiles import Profile

__all__ = [
    "DECRYPT_PASSWORD",
    "MODULE_OF",
    "KeyContext",
    "find_key",
    "install_default_keys",
    "required_level",
]

MODULE_OF: dict[str, str] = {
    **dict.fromkeys(
        [
            "assets",
            "certificates",
            "documents",
            "domains",
            "networks",
            "software",
            "tickets",
            "ticket_replies",
            "technicians",
        ],
        "module_support",
    ),
    **dict.fromkeys(["clients", "contacts", "locations", "vendors"], "module_client"),
    **dict.fromkeys(["invoices", "invoice_items", "quotes", "products"], "module_sales"),
    "expenses": "module_financial",
    "credentials": "module_credential",
}

_ROLES = [
    (
        1,
        "Accountant",
        0,
        {
            "module_client": 1,
            "module_support": 1,
            "module_sales": 1,
            "module_financial": 2,
            "module_reporting": 1,
        },
    ),
    (
        2,
        "Technician",
        0,
        {"module_client": 2, "module_support": 2, "module_credential": 2, "module_sales": 2},
    ),
    (3, "Administrator", 1, {}),
]
FAR_FUTURE = "2099-12-31"
# credentials/* need ``api_key_decrypt_password``; the simulator accepts this one for every default key.
DECRYPT_PASSWORD = "sim-decrypt-password"


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _secret(prefix: str, name: str, length: int) -> str:
    base = f"{prefix}{name.capitalize()}Key"
    return (base + "0" * length)[:length]


def install_default_keys(db: Database, profile: Profile) -> dict[str, str]:
    """Create the profile's default users/roles/keys (unless the seed has its own); return name->secret."""
    if db["api_keys"]:
        return {k["api_key_name"] or str(k["api_key_id"]): k["api_key_secret"] or "" for k in db["api_keys"]}
    today = _today()
    keys: dict[str, str] = {}

    def add(name: str, length: int, prefix: str, **cols: object) -> None:
        secret = _secret(prefix, name, length)
        db.insert(
            "api_keys",
            {
                "api_key_name": name,
                "api_key_secret": secret,
                "api_key_expire": cols.pop("expire", FAR_FUTURE),
                "api_key_decrypt_hash": DECRYPT_PASSWORD,
                **cols,
            },
        )
        keys[name] = secret

    if profile.auth == "company":
        add("all", 16, "Leg")
        add("expired", 16, "Leg", expire=today)
    elif profile.auth == "client":
        add("all", 16, "V25", api_key_client_id=0)
        add("client", 16, "V25", api_key_client_id=1)
        add("client2", 16, "V25", api_key_client_id=2)
        add("expired", 16, "V25", api_key_client_id=0, expire=today)
    else:
        if not db["user_roles"]:
            for rid, name, admin, perms in _ROLES:
                db.insert("user_roles", {"role_id": rid, "role_name": name, "role_is_admin": admin})
                for module, level in perms.items():
                    db.insert(
                        "user_role_permissions",
                        {"user_role_id": rid, "module_name": module, "user_role_permission_level": level},
                    )
        if not db["users"]:
            db.insert(
                "users",
                {"user_id": 1, "user_name": "Sim Admin", "user_email": "admin@msp.test", "user_role_id": 3},
            )
            db.insert(
                "users",
                {
                    "user_id": 2,
                    "user_name": "Rita Restricted",
                    "user_email": "rita@msp.test",
                    "user_role_id": 2,
                },
            )
            db.insert("user_client_permissions", {"user_id": 2, "client_id": 1, "permission_type": "allow"})
            db.insert(
                "users",
                {
                    "user_id": 3,
                    "user_name": "Andy Accountant",
                    "user_email": "andy@msp.test",
                    "user_role_id": 1,
                },
            )
            db.insert(
                "users",
                {
                    "user_id": 4,
                    "user_name": "Gone Tech",
                    "user_email": "gone@msp.test",
                    "user_role_id": 2,
                    "user_archived_at": "2026-01-01 00:00:00",
                },
            )
            db.insert(
                "users",
                {"user_id": 5, "user_name": "Dana Denied", "user_email": "dana@msp.test", "user_role_id": 2},
            )
            db.insert("user_client_permissions", {"user_id": 5, "client_id": 2, "permission_type": "deny"})
        add("all", 32, "Head", api_key_user_id=1)
        add("client", 32, "Head", api_key_user_id=2)
        add("readonly", 32, "Head", api_key_user_id=3)
        add("deny", 32, "Head", api_key_user_id=5)
        add("inactive", 32, "Head", api_key_user_id=4)
        add("unbound", 32, "Head", api_key_user_id=0)
        add("expired", 32, "Head", api_key_user_id=1, expire=today)
    return keys


def _php_trim(text: str) -> str:
    return text.strip(" \t\n\r\0\x0b")


def find_key(db: Database, raw: str) -> Row | None:
    """The key row for ``raw`` (cleaned like ITFlow: tags stripped, trimmed), unexpired, or None.

    ``api_key_expire > NOW()`` with a DATE column: the key is dead from 00:00 of its expiry date.
    """
    key = _php_trim(strip_tags(raw))
    today = datetime.now(UTC).date()
    for row in db["api_keys"]:
        if not sql_eq(row["api_key_secret"], key):
            continue
        try:
            expire = date.fromisoformat((row["api_key_expire"] or "")[:10])
        except ValueError:
            continue
        if expire > today:
            return row
    return None


def required_level(function: str) -> int:
    return {"read": 1, "create": 2, "update": 2, "delete": 3}.get(function, 2)


@dataclass
class KeyContext:
    """Who is calling: the key row plus, at HEAD, its user's role and client lists."""

    key: Row
    client_id: int = 0  # V1b/V1c: 0 = all-clients key
    user: Row | None = None
    admin: bool = False
    allow: list[int] = field(default_factory=list)
    deny: list[int] = field(default_factory=list)
    levels: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, db: Database, key: Row) -> KeyContext:
        ctx = cls(key=key, client_id=int(key["api_key_client_id"] or 0))
        uid = key["api_key_user_id"] or "0"
        user = db.find("users", "user_id", uid) if uid != "0" else None
        ctx.user = user
        if user is not None:
            role = db.find("user_roles", "role_id", user["user_role_id"] or "0")
            ctx.admin = bool(role and role["role_is_admin"] == "1")
            for perm in db["user_role_permissions"]:
                if perm["user_role_id"] == user["user_role_id"]:
                    ctx.levels[perm["module_name"] or ""] = int(perm["user_role_permission_level"] or 0)
            for cp in db["user_client_permissions"]:
                if cp["user_id"] == uid:
                    (ctx.allow if cp["permission_type"] == "allow" else ctx.deny).append(
                        int(cp["client_id"] or 0)
                    )
        return ctx

    @property
    def user_valid(self) -> bool:
        u = self.user
        return bool(u and u["user_type"] == "1" and u["user_status"] == "1" and u["user_archived_at"] is None)

    def level(self, module: str) -> int:
        return 3 if self.admin else self.levels.get(module, 0)

    def may_write_client(self, client_id: int) -> bool:
        if self.admin:
            return True
        if client_id in self.deny:
            return False
        return not self.allow or client_id in self.allow

    def read_scope(self, value: str | None) -> bool:
        """HEAD read scoping on the resource's client column."""
        if self.admin:
            return True
        cid = int(value or 0)
        if self.allow:
            return cid == 0 or cid in self.allow
        if self.deny:
            return cid not in self.deny
        return True
