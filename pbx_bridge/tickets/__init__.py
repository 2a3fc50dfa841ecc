"""Tickets for missed calls and voicemail: from a finished call to a ticket in ITFlow, none lost.

Modules: ``policy`` (which calls get one), ``render`` (subject and body), ``intake`` (finished call ->
outbox row), ``buffer`` (grace and a full disk), ``outbox`` (the durable queue), ``worker`` (delivery),
``reconcile`` (the marker search), ``availability``, ``settings`` (the ``tickets`` and ``voicemail``
sections). Import from the modules: this package re-exports nothing, so loading the sections' models
loads nothing else.
"""

__all__: list[str] = []
