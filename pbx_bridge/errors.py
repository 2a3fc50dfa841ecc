"""The root of every exception pbx-bridge defines: ``except PbxBridgeError`` catches each of ours and
nothing of Python's or a library's. The tree is drawn in docs/errors.md.

A class that was a ``ValueError`` before it joined (``ami.framing.Malformed``) stays one too, so every
``except`` that caught it still does.
"""

from __future__ import annotations

__all__ = ["PbxBridgeError"]


class PbxBridgeError(Exception):
    """Base of every pbx-bridge exception."""
