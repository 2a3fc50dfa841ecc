"""How phones name what they fetch: the file names a phone puts after the configured URL.

* Grandstream takes the server path (P331) and appends ``/phonebook.xml``;
* Polycom asks for ``<MAC>-directory.xml`` in its contacts directory, then ``000000000000-directory.xml``;
* provisioning that serves the ``output_dir`` files by name asks for those names (``cisco-directory-2.xml``
  is page 2).

So ``/phonebook/<format>/<file>`` (optionally ``/phonebook/<format>/<one directory>/<file>``, e.g. a
per-phone MAC directory as FusionPBX lays them out) serves the book when ``<file>`` is one of the
format's own names. Query parameters a firmware adds (paging, MAC macros) are ignored except ``page``.
"""

from __future__ import annotations

import re

from pbx_bridge.phonebook.formats.base import FormatSpec

__all__ = ["page_of_file"]

_POLYCOM_PER_PHONE = re.compile(r"^[0-9a-fA-F]{12}-directory\.xml$")


def page_of_file(spec: FormatSpec, tail: str, page_count: int) -> int | None:
    """The page that ``tail`` (the path after ``/phonebook/<format>/``) names, or ``None``."""
    parts = [p for p in tail.split("/") if p]
    if not parts or len(parts) > 2:
        return None
    name = parts[-1]
    if name == spec.file_name or (spec.id == "polycom" and _POLYCOM_PER_PHONE.match(name)):
        return 1
    stem, _, ext = spec.file_name.rpartition(".")
    numbered = re.fullmatch(re.escape(stem) + r"-([1-9][0-9]{0,8})\." + re.escape(ext), name)
    if spec.page_size and numbered and 2 <= int(numbered.group(1)) <= page_count:
        return int(numbered.group(1))
    return None
