"""One exception tree: every exception class pbx-bridge defines hangs under ``PbxBridgeError``
(docs/errors.md draws it). The ITFlow simulator imitates PHP's failures and keeps its own."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pbx_bridge
from pbx_bridge.ami.framing import Malformed
from pbx_bridge.errors import PbxBridgeError

SIMULATOR = "itflow_sim"


def _modules() -> list[str]:
    return [
        m.name
        for m in pkgutil.walk_packages(pbx_bridge.__path__, "pbx_bridge.")
        if not m.name.endswith(".__main__") and not m.name.startswith(SIMULATOR)
    ]


def test_every_exception_class_is_in_the_tree() -> None:
    outside = []
    for name in _modules():
        module = importlib.import_module(name)
        for attr, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == name
                and not issubclass(obj, PbxBridgeError)
            ):
                outside.append(f"{name}.{attr}")
    assert outside == []


def test_a_former_value_error_stays_one() -> None:
    assert issubclass(Malformed, ValueError)
