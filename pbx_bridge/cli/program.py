"""The ``pbx-bridge`` program: the parser every verb module adds to, and ``main``.

Every verb gets a :class:`~pbx_bridge.cli.context.CommandContext` that loads the config only when the
verb needs it, so ``--help`` and ``sim`` work without one. A handler returns an exit code (or a
coroutine giving one).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import sys
from collections.abc import Callable, Sequence

from pbx_bridge import __version__
from pbx_bridge.cli import balance, callerid, demo, directory, itflow, phonebook, screen, service, tickets
from pbx_bridge.cli.context import CONFIG_ENV, DEFAULT_CONFIG, EXIT_FAIL, EXIT_OK, EXIT_USAGE, CommandContext
from pbx_bridge.config import ConfigError
from pbx_bridge.logging_setup import setup_logging

__all__ = ["build_parser", "main"]

# In ``--help`` order: the daemon's own verbs first, the demo last.
_REGISTRARS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    service.register,
    itflow.register,
    callerid.register,
    directory.register,
    balance.register,
    phonebook.register,
    tickets.register,
    screen.register,
    demo.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pbx-bridge",
        description="Joins a FreePBX/Asterisk phone system to ITFlow: caller ID, IVR balance, "
        "handset phonebooks and tickets for missed calls and voicemail.",
    )
    parser.add_argument("--version", action="version", version=f"pbx-bridge {__version__}")
    _add_common_options(parser, argparse.SUPPRESS)
    parser.set_defaults(config=None, log_level=None, log_format=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _REGISTRARS:
        register(sub)
    _common_options_on_every_verb(sub)
    return parser


def _add_common_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        default=default,
        help=f"config file (default: ${CONFIG_ENV} or {DEFAULT_CONFIG})",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default=default,
        help="override log_level from the config",
    )
    parser.add_argument(
        "--log-format", choices=["text", "json"], default=default, help="override log_format from the config"
    )


def _common_options_on_every_verb(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``pbx-bridge check --config F`` works as well as ``pbx-bridge --config F check``, on every verb
    and sub-verb. SUPPRESS as default: an option not given after the verb keeps the one given before."""
    for verb in set(sub.choices.values()):
        _add_common_options(verb, argparse.SUPPRESS)
        for action in verb._actions:
            if isinstance(action, argparse._SubParsersAction):
                _common_options_on_every_verb(action)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level or "info", args.log_format or "text")
    ctx = CommandContext(args)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if getattr(args, "needs_config", True):
            settings = ctx.settings()
            setup_logging(args.log_level or settings.log_level, args.log_format or settings.log_format)
        result = handler(ctx)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except ConfigError as exc:
        print(f"pbx-bridge: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a last resort: one clear line, the traceback only at debug level
        logging.getLogger("pbx_bridge").debug("unhandled error", exc_info=True)
        print(f"pbx-bridge: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAIL
