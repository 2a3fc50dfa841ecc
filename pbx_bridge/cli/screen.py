"""CLI verb ``pbx-bridge screen passwd NAME``: a password hash for a technician's sign-in to the calls
page (docs/screen.md). The password is read without echo (or from standard input when it is no
terminal) and never printed; the hash goes into ``technicians[].password_hash``."""

from __future__ import annotations

import argparse
import getpass
import sys

from pbx_bridge.cli.context import EXIT_OK, EXIT_USAGE, CommandContext
from pbx_bridge.screen.passwords import hash_password

__all__ = ["register"]

_MIN_LENGTH = 10


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "screen",
        help="the technicians' calls page: make sign-in password hashes",
        description="The live calls page (docs/screen.md).",
    )
    verbs = p.add_subparsers(dest="screen_command", metavar="VERB", required=True)
    pw = verbs.add_parser(
        "passwd",
        help="print a password hash for a technician's sign-in",
        description="Asks for a password (twice, without echo; from standard input when it is not a "
        "terminal) and prints the line to put under that technician in the config: "
        "password_hash: scrypt$...",
    )
    pw.add_argument("name", help="the technician's user name (technicians[].username)")
    pw.set_defaults(handler=_passwd, needs_config=False)


def _passwd(ctx: CommandContext) -> int:
    name = ctx.args.name
    if sys.stdin.isatty():
        first = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != first:
            print("pbx-bridge: the passwords differ", file=sys.stderr)
            return EXIT_USAGE
    else:
        first = sys.stdin.readline().rstrip("\r\n")
    if len(first) < _MIN_LENGTH:
        print(f"pbx-bridge: a password has at least {_MIN_LENGTH} characters", file=sys.stderr)
        return EXIT_USAGE
    print(f"# technicians: the entry with username: {name}")
    print(f'password_hash: "{hash_password(first)}"')
    return EXIT_OK
