"""ITFlow simulator: an HTTP server that answers like a real ITFlow install of a pinned version.

``from itflow_sim import Simulator, PROFILES``; profiles and quirk defaults are
tabled in :mod:`.profiles`, default keys in :mod:`.auth`, the default data in ``seed.json``.
It reproduces the quirks docs/itflow-api.md records, the bad ones too (its Q1 scope leak, archived rows
returned, malformed legacy XML), because real servers have them: never make it kinder than that page.
"""

from __future__ import annotations

from itflow_sim.app import RecordedRequest, Simulator, serve
from itflow_sim.data import Database, Seed
from itflow_sim.profiles import PROFILES, Profile, Quirks

__all__ = ["PROFILES", "Database", "Profile", "Quirks", "RecordedRequest", "Seed", "Simulator", "serve"]
