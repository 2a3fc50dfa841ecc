"""The Asterisk Manager Interface side: who called, who answered, who hung up.

Modules: ``connection`` (panoramisk, guarded), ``framing`` (AMI messages), ``tracker`` (calls from
events, pure), ``outcome`` (what became of a call), ``listener`` (the Component), ``settings`` (the
``ami`` section). Import from the modules: this package re-exports nothing, so loading the ``ami``
section's model does not load panoramisk.
"""

__all__: list[str] = []
