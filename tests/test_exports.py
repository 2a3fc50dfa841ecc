"""Every face says what it offers, as httpx's test_exported_members does: each name in a face's
``__all__`` exists, and each public class or function of pbx-bridge the face holds is in ``__all__``
(for a module face: each one it defines).

A face is a package's ``__init__`` or a module other packages import as a whole (``FACE_MODULES``). Any
other module with an ``__all__`` is checked only for names that do not exist.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import pbx_bridge

FACE_MODULES = ("pbx_bridge.config", "pbx_bridge.errors", "pbx_bridge.settings")


def _module_names() -> list[str]:
    return [
        "pbx_bridge",
        *(
            m.name
            for m in pkgutil.walk_packages(pbx_bridge.__path__, "pbx_bridge.")
            if not m.name.endswith(".__main__")
        ),
    ]


def _is_package(module: ModuleType) -> bool:
    return hasattr(module, "__path__")


PACKAGES = [n for n in _module_names() if _is_package(importlib.import_module(n))]
FACES = [*PACKAGES, *FACE_MODULES]
WITH_ALL = [n for n in _module_names() if hasattr(importlib.import_module(n), "__all__")]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_package_has_all(name: str) -> None:
    assert isinstance(getattr(importlib.import_module(name), "__all__", None), list)


@pytest.mark.parametrize("name", WITH_ALL)
def test_every_exported_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported: list[str] = module.__all__
    assert len(exported) == len(set(exported)), "a name listed twice"
    assert [n for n in exported if not hasattr(module, n)] == []


def _public_members(module: ModuleType, *, own: bool) -> list[str]:
    """Public classes and functions of pbx-bridge in ``module``: all of them for a package (it holds
    what it re-exports), only those defined there for a module (it holds what it uses, too)."""

    def belongs(obj: object) -> bool:
        where = getattr(obj, "__module__", "")
        return where == module.__name__ if own else where.startswith("pbx_bridge")

    return sorted(
        attr
        for attr, obj in vars(module).items()
        if not attr.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj)) and belongs(obj)
    )


@pytest.mark.parametrize("name", FACES)
def test_every_public_member_of_a_face_is_exported(name: str) -> None:
    module = importlib.import_module(name)
    public = _public_members(module, own=not _is_package(module))
    assert [n for n in public if n not in module.__all__] == []
