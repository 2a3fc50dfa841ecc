"""The balance IVR: a caller hears what their company owes.

Modules: ``provider`` (the amount, per ITFlow era), ``verify`` (who may hear it), ``speech`` (saying
it), ``dialogue`` (one call), ``route`` (the FastAGI route), ``http`` (the classic script's loopback
door), ``proof`` (that the peer is our Asterisk), ``settings`` (the ``balance`` section). Import from
the modules: this package re-exports nothing, so loading the ``balance`` section's model loads nothing
else.
"""

__all__: list[str] = []
