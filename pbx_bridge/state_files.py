"""Can this process use every file in ``state_dir``? For ``check`` and ``/readyz``.

A writable directory is not enough: a state database left by a run as root (``root:root 0644``) makes
every write of the service user fail ("attempt to write a readonly database") while the directory
itself is the service user's. So each file the daemon writes is checked, as the running user.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from pathlib import Path

from pbx_bridge.component import Health

__all__ = ["STATE_FILES", "state_health", "state_problems"]

# Every file the daemon keeps in state_dir: the SQLite database with its WAL and shared-memory files,
# and the phonebook publisher's state (store.py, phonebook/service.py).
STATE_FILES = (
    "pbx-bridge.sqlite3",
    "pbx-bridge.sqlite3-wal",
    "pbx-bridge.sqlite3-shm",
    "phonebook-state.json",
)


def _owner(path: Path) -> str:
    try:
        uid = path.stat().st_uid
    except OSError:
        return "?"
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _user() -> str:
    uid = os.geteuid()
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def state_problems(state_dir: Path) -> Iterator[str]:
    """One sentence per file or directory the running user cannot read and write."""
    state_dir = Path(state_dir)
    if not state_dir.exists():
        return  # created at start (its parent's writability is the doctor's directory check)
    if not state_dir.is_dir():
        yield f"{state_dir}: not a directory"
        return
    if not os.access(state_dir, os.R_OK | os.W_OK | os.X_OK):
        yield f"{state_dir}: not writable by {_user()} (owner {_owner(state_dir)})"
    for name in STATE_FILES:
        path = state_dir / name
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            yield f"{path}: not writable by {_user()} (owner {_owner(path)})"


def state_health(state_dir: Path) -> Health:
    """Readiness of the state files: not ready while any of them is not the running user's to write."""
    problems = list(state_problems(state_dir))
    if problems:
        return Health(
            False, "; ".join(problems) + " (fix: chown -R the service user, or re-run scripts/install)"
        )
    return Health(True, f"{state_dir}: every state file writable")
