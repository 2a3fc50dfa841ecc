"""Errors raised by the FastAGI server and its sessions.

The hierarchy, so a route can catch as broadly or narrowly as it needs::

    AgiError                        base of everything below
    ├── AgiHangup                   channel gone: unsolicited HANGUP, 511, result=-1 on a dead channel
    │   └── AgiConnectionClosed     Asterisk closed the socket (early EOF, AGI ended, Asterisk restarted)
    ├── AgiTimeout                  no environment / no reply within the configured deadline
    ├── AgiProtocolError            bytes that are not AGI (environment or reply cannot be parsed)
    └── AgiCommandError             Asterisk refused a command (5xx other than 511); ``.reply`` holds it
        └── AgiUsageError           520: wrong syntax, with Asterisk's usage text in ``.reply.data``

A route usually only needs ``except AgiHangup`` (end quietly); the server catches everything else,
logs it and counts it, so a broken route never takes the server down.
"""

from __future__ import annotations

from pbx_bridge.agi.reply import AgiReply
from pbx_bridge.errors import PbxBridgeError

__all__ = [
    "AgiCommandError",
    "AgiConnectionClosed",
    "AgiError",
    "AgiHangup",
    "AgiProtocolError",
    "AgiTimeout",
    "AgiUsageError",
]


class AgiError(PbxBridgeError):
    """Base class of every FastAGI error."""


class AgiHangup(AgiError):
    """The channel has hung up; further commands are pointless (a route should just return)."""


class AgiConnectionClosed(AgiHangup):
    """The peer closed the connection before the session finished."""


class AgiTimeout(AgiError):
    """Asterisk did not send the environment or a reply in time."""


class AgiProtocolError(AgiError):
    """What arrived is not the AGI protocol."""


class AgiCommandError(AgiError):
    """Asterisk answered a command with an error code."""

    def __init__(self, command: str, reply: AgiReply) -> None:
        self.command = command
        self.reply = reply
        # Only the verb goes into the message: the arguments may carry personal data.
        verb = " ".join(command.split(" ", 2)[:2])
        super().__init__(f"{reply.code} for {verb}: {reply.data or reply.raw}")


class AgiUsageError(AgiCommandError):
    """520: Asterisk did not understand the command's arguments."""
