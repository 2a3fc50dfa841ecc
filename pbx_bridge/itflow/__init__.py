"""ITFlow clients: v1 (``/api/v1``), legacy (``/api.php``), backend detection and the ``Itflow`` bundle.

Errors are in :mod:`pbx_bridge.itflow.errors` (drawn as a tree there). The simulator is its own
top-level package, :mod:`itflow_sim`, imported only by tests, benchmarks and the ``sim``/``demo`` verbs.
"""

from __future__ import annotations

from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.itflow.detect import Capabilities, PermissionItem, check_items, detect, probe_permissions
from pbx_bridge.itflow.errors import (
    AuthError,
    ItflowError,
    ItflowTimeout,
    MalformedResponse,
    MethodNotAllowed,
    NotAvailable,
    PermissionDenied,
    RequestRejected,
    ServerError,
    TransportError,
    WriteFailed,
)
from pbx_bridge.itflow.legacy import LegacyClient, LegacyPhonebookEntry
from pbx_bridge.itflow.response import V1Response
from pbx_bridge.itflow.v1 import V1Client

__all__ = [
    "AuthError",
    "Capabilities",
    "Itflow",
    "ItflowError",
    "ItflowTimeout",
    "LegacyClient",
    "LegacyPhonebookEntry",
    "MalformedResponse",
    "MethodNotAllowed",
    "NotAvailable",
    "PermissionDenied",
    "PermissionItem",
    "RequestRejected",
    "ServerError",
    "TransportError",
    "V1Client",
    "V1Response",
    "WriteFailed",
    "check_items",
    "detect",
    "probe_permissions",
]
