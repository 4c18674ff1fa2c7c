"""Route lookup: which interface, source address and next hop a destination takes.

Asks the kernel through rtnetlink (RTM_GETROUTE), the same question `ip route get DST` asks,
so the answer is the one the kernel would use for a packet sent now (policy routing, the
routing cache and all).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass

from .netlink import RTM_GETROUTE, RTM_NEWROUTE, NetlinkSocket, attr, parse_attrs

__all__ = ["Route", "route_get", "RouteType"]

_RTMSG = struct.Struct("=BBBBBBBBI")
RTA_DST, RTA_SRC, RTA_IIF, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC = 1, 2, 3, 4, 5, 6, 7
RTA_TABLE = 15
RTA_VIA = 18

#: rtm_type values (linux/rtnetlink.h), as `ip route` names them.
RouteType = {1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast", 6: "blackhole",
             7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat"}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """The kernel's answer for one destination."""

    destination: IPAddress
    #: Outgoing interface name and index.
    interface: str
    ifindex: int
    #: Source address the kernel would pick (None if it has none to offer).
    source: IPAddress | None
    #: Next-hop router, None when the destination is on-link.
    gateway: IPAddress | None
    #: "unicast", "local", "broadcast", ...
    type: str
    table: int

    @property
    def next_hop(self) -> IPAddress:
        """The address whose link-layer address a frame to `destination` goes to."""
        return self.gateway if self.gateway is not None else self.destination


def _addr(family: int, raw: bytes | None) -> IPAddress | None:
    if raw is None:
        return None
    return ipaddress.IPv4Address(raw) if family == socket.AF_INET else ipaddress.IPv6Address(raw)


def route_get(destination: str | IPAddress, *, source: str | IPAddress | None = None,
              oif: int | None = None) -> Route:
    """Looks up the route to `destination` in the calling thread's namespace.

    Raises OSError (ENETUNREACH, ...) as `ip route get` reports it when there is no route.
    """
    dst = ipaddress.ip_address(destination)
    family = socket.AF_INET if dst.version == 4 else socket.AF_INET6
    bits = 32 if dst.version == 4 else 128
    attrs = attr(RTA_DST, dst.packed)
    src_len = 0
    if source is not None:
        src = ipaddress.ip_address(source)
        attrs += attr(RTA_SRC, src.packed)
        src_len = bits
    if oif is not None:
        attrs += attr(RTA_OIF, struct.pack("=I", oif))
    body = _RTMSG.pack(family, bits, src_len, 0, 0, 0, 0, 0, 0) + attrs
    with NetlinkSocket() as nl:
        replies = nl.request(RTM_GETROUTE, body)
    for mtype, msg in replies:
        if mtype != RTM_NEWROUTE:
            continue
        fam, _dl, _sl, _tos, table, _proto, _scope, rtype, _flags = _RTMSG.unpack_from(msg, 0)
        a = parse_attrs(msg, _RTMSG.size)
        ifindex = struct.unpack("=I", a[RTA_OIF])[0] if RTA_OIF in a else 0
        if RTA_TABLE in a:
            table = struct.unpack("=I", a[RTA_TABLE])[0]
        try:
            name = socket.if_indextoname(ifindex) if ifindex else ""
        except OSError:
            name = ""
        return Route(
            destination=_addr(fam, a.get(RTA_DST)) or dst,
            interface=name,
            ifindex=ifindex,
            source=_addr(fam, a.get(RTA_PREFSRC)),
            gateway=_addr(fam, a.get(RTA_GATEWAY)),
            type=RouteType.get(rtype, str(rtype)),
            table=table,
        )
    raise OSError(f"no route reply for {dst}")
