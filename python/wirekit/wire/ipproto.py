"""IP protocol numbers (IANA "Assigned Internet Protocol Numbers"): IPv4 protocol, IPv6 next
header."""

from __future__ import annotations

import enum

from ._util import enum_or_int

__all__ = ["IPProto"]


class IPProto(enum.IntEnum):
    HOPOPT = 0
    ICMP = 1
    IGMP = 2
    IPIP = 4
    TCP = 6
    EGP = 8
    UDP = 17
    IPV6 = 41
    IPV6_ROUTE = 43
    IPV6_FRAG = 44
    GRE = 47
    ESP = 50
    AH = 51
    ICMPV6 = 58
    IPV6_NONXT = 59
    IPV6_OPTS = 60
    OSPF = 89
    PIM = 103
    VRRP = 112
    L2TP = 115
    SCTP = 132
    MOBILITY = 135
    UDPLITE = 136
    MPLS_IN_IP = 137

    @classmethod
    def of(cls, value: int) -> int:
        """The member for `value`, or the plain int when unknown."""
        return enum_or_int(cls, value)
