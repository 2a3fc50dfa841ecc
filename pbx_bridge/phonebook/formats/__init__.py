"""The format registry: format id -> :class:`FormatSpec` (media type, file name, limits, renderer).

Ids are the public names used by the CLI (``--format``), the URLs (``/phonebook/<id>``) and the config
(``phonebook.formats``). Order is the documented order.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pbx_bridge.phonebook.formats import (
    cisco,
    csv_format,
    fanvil,
    gigaset,
    gigaset_de,
    grandstream,
    itflow_legacy,
    panasonic,
    panasonic_csv,
    polycom,
    snom,
    snom_v2,
    vcard,
    yealink,
    yealink_grouped,
    yealink_local,
)
from pbx_bridge.phonebook.formats.base import FormatSpec, RenderContext, Rendered

__all__ = ["FORMATS", "FormatSpec", "RenderContext", "Rendered", "get"]

FORMATS: Mapping[str, FormatSpec] = MappingProxyType(
    {
        m.SPEC.id: m.SPEC
        for m in (
            yealink,
            yealink_grouped,
            yealink_local,
            grandstream,
            cisco,
            polycom,
            snom,
            snom_v2,
            fanvil,
            gigaset,
            gigaset_de,
            panasonic,
            panasonic_csv,
            vcard,
            csv_format,
            itflow_legacy,
        )
    }
)


def get(format_id: str) -> FormatSpec:
    try:
        return FORMATS[format_id]
    except KeyError:
        raise KeyError(f"unknown phonebook format {format_id!r}; known: {', '.join(FORMATS)}") from None
