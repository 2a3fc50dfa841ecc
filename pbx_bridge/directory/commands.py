"""CLI verbs of this feature (registered by ``pbx_bridge.cli``)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add this feature's verbs to ``sub``. Each parser sets ``handler=fn(ctx) -> int``."""
