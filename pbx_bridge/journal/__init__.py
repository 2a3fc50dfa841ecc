"""The call journal: every answered call leaves a trace in ITFlow (docs/tickets.md, "The call journal").

Modules: ``settings`` (the ``journal`` section), ``policy`` (which answered calls are journaled, how),
``timeworked`` (talk time -> ``ticket_reply_time_worked``), ``render`` (the note), ``intake`` (finished
call -> outbox item), ``availability`` (which ITFlow can take a journal). Delivery is the tickets
outbox's: journal items are rows of their own kinds in the same durable queue, with the same
exactly-once guarantee (wired in ``wiring.py``). Import from the modules: this package re-exports
nothing.
"""

__all__: list[str] = []
