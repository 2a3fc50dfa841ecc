"""FastAGI route ``balance``: ``AGI(agi://127.0.0.1:4574/balance)`` from the IVR's "press 3".

The caller is identified from ``agi_callerid`` only. Any argument (``agi_arg_1`` such as the
``${CALLERID(num)}`` the lab's plain dialplan passes) or ``?query`` is ignored on purpose: a dialplan
that passes something the caller controls must not be able to choose whose balance is spoken. A peer
outside ``balance.allow`` gets no command at all; with ``balance.secret_file`` set, a peer that cannot
prove it reads the secret (pbx_bridge/balance/proof.py) gets nothing after that one question.
"""

from __future__ import annotations

from pbx_bridge.agi.server import Route
from pbx_bridge.agi.session import AgiSession
from pbx_bridge.balance.dialogue import BalanceService

__all__ = ["balance_route"]


def balance_route(service: BalanceService) -> Route:
    async def balance(session: AgiSession) -> None:
        if not service.door_allows("fastagi", session.peer) or not await service.fastagi_proven(session):
            return
        await service.handle(session, door="fastagi")

    return balance
