"""The technicians' live calls page (docs/screen.md): who is calling, with their ITFlow record, and
click-to-dial from ITFlow's ``tel:`` links.

Modules: ``settings`` (the ``screen`` section), ``board`` (calls from the tracker's observer hook),
``links`` (ITFlow agent UI URLs), ``open_tickets`` (a caller's open tickets, cached), ``passwords``
(scrypt hashes), ``sessions`` (sign-in, CSRF, limits), ``dial`` (tel: -> Originate), ``pages`` and
``assets`` (HTML, script, style), ``service`` (the Component), ``http`` (the routes).
"""

from pbx_bridge.screen.board import CallBoard
from pbx_bridge.screen.caller_tickets import CallerTickets
from pbx_bridge.screen.dial import Dialer, DialRefused, read_target
from pbx_bridge.screen.http import screen_routes
from pbx_bridge.screen.links import ItflowLinks
from pbx_bridge.screen.passwords import hash_password, verify_password
from pbx_bridge.screen.service import ScreenService
from pbx_bridge.screen.settings import DialSettings, ScreenSettings

__all__ = [
    "CallBoard",
    "CallerTickets",
    "DialRefused",
    "DialSettings",
    "Dialer",
    "ItflowLinks",
    "ScreenService",
    "ScreenSettings",
    "hash_password",
    "read_target",
    "screen_routes",
    "verify_password",
]
