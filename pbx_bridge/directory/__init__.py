"""Directory: who can call (parties and their numbers), pulled from ITFlow, indexed for lookup.

Modules: ``settings`` (the ``directory`` section), ``model`` (vocabulary), ``sync`` (ITFlow rows ->
parties, and pulling them from v1 or legacy), ``snapshot`` (one pulled directory, persisted), ``index``
(number -> answer), ``service`` (``DirectorySync`` Component), ``display`` and ``safe_name`` (names as
shown), ``http`` (``/directory/*``), its CLI verbs are in
``pbx_bridge.cli.directory``.
"""

from __future__ import annotations

from pbx_bridge.directory.index import DirectoryIndex
from pbx_bridge.directory.service import DirectorySync
from pbx_bridge.directory.snapshot import Snapshot

__all__ = ["DirectoryIndex", "DirectorySync", "Snapshot"]
