"""``pbx-bridge`` command line: one module per verb (or group of verbs), each adding its parsers.

``program`` (the parser and ``main``, the console script's entry), ``context`` (what a handler gets),
``service`` (``run``, ``check``), ``doctor`` (the checks ``check`` prints), ``itflow`` (``api``, ``sim``),
``directory`` (``lookup``, ``directory``), ``balance`` (``balance``, ``prompts``), ``phonebook``,
``tickets``, ``demo``. The feature packages know nothing of the command line.
"""

from __future__ import annotations

from pbx_bridge.cli.context import CommandContext
from pbx_bridge.cli.program import build_parser, main

__all__ = ["CommandContext", "build_parser", "main"]
