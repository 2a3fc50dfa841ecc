"""Caller-ID directory: who can call (parties and their numbers), pulled from ITFlow, indexed for lookup.

Modules: ``model`` (vocabulary), ``snapshot`` (one pulled directory, persisted), ``sync`` (pulling it from
v1 or legacy), ``index`` (number -> answer), ``lookup`` (``CallerId``: index, live ITFlow, cache),
``service`` (``DirectorySync`` Component). Its CLI verbs are in ``pbx_bridge.cli.directory``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CallerId", "DirectoryIndex", "DirectorySync", "Snapshot"]

# Imported lazily: pbx_bridge.numbers imports this package's settings, and the index imports numbers.
_LAZY = {
    "CallerId": "pbx_bridge.directory.lookup",
    "DirectoryIndex": "pbx_bridge.directory.index",
    "DirectorySync": "pbx_bridge.directory.service",
    "Snapshot": "pbx_bridge.directory.snapshot",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
