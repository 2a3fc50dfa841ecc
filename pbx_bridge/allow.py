"""Client allow-lists (CIDR): which peer addresses may use a door."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

__all__ = ["Network", "networks", "peer_allowed"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(allow: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in allow)


def peer_allowed(peer: str, allow: Sequence[Network]) -> bool:
    """Is the address ``peer`` (IPv4, IPv6, a scope id or an IPv4-mapped IPv6 address) in ``allow``?"""
    try:
        addr = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in net for net in allow if net.version == addr.version)
