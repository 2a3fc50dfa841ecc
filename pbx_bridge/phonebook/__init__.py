"""Handset phonebooks published from the ITFlow directory.

Modules: ``entries`` (parties -> book), ``formats/`` (one module per handset format, the registry),
``publisher`` (files, ETags, the shrink guard), ``service`` (the Component), ``http`` (the routes),
``fetch``, ``search``, ``charset``, ``text``, ``settings`` (the ``phonebook`` section). Import from the
modules: this package re-exports nothing, so loading the section's model loads nothing else.
"""

__all__: list[str] = []
