"""ICMPv6 (RFC 4443): the same 8-byte layout as ICMPv4, but the checksum covers the IPv6
pseudo-header too (RFC 4443 2.3, RFC 8200 8.1)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..errors import BuildError
from .checksum import l4_checksum, verify_l4_checksum
from .icmp import ICMPHeader
from .ipproto import IPProto

__all__ = ["ICMPv6Type", "ICMPv6Header"]


class ICMPv6Type(enum.IntEnum):
    DEST_UNREACHABLE = 1
    PACKET_TOO_BIG = 2
    TIME_EXCEEDED = 3
    PARAMETER_PROBLEM = 4
    ECHO_REQUEST = 128
    ECHO_REPLY = 129
    MLD_QUERY = 130
    MLD_REPORT = 131
    MLD_DONE = 132
    ROUTER_SOLICITATION = 133
    ROUTER_ADVERTISEMENT = 134
    NEIGHBOR_SOLICITATION = 135
    NEIGHBOR_ADVERTISEMENT = 136
    REDIRECT = 137
    MLDV2_REPORT = 143


_SUMMARY = {1: "destination unreachable", 2: "packet too big", 3: "time exceeded in-transit",
            4: "parameter problem", 128: "echo request", 129: "echo reply",
            130: "multicast listener query", 131: "multicast listener report",
            132: "multicast listener done", 133: "router solicitation",
            134: "router advertisement", 135: "neighbor solicitation",
            136: "neighbor advertisement", 137: "redirect",
            143: "multicast listener report v2"}
_ECHO = frozenset({128, 129})


@dataclass(slots=True)
class ICMPv6Header(ICMPHeader):
    """An ICMPv6 header (type, code, checksum, 4 type-specific bytes)."""

    type: int = ICMPv6Type.ECHO_REQUEST
    IP_PROTO = IPProto.ICMPV6
    _names = _SUMMARY
    _label = "ICMP6"

    @staticmethod
    def _type_enum():
        return ICMPv6Type

    @staticmethod
    def _echo_types():
        return (ICMPv6Type.ECHO_REQUEST, ICMPv6Type.ECHO_REPLY)

    @staticmethod
    def _echo_set():
        return _ECHO

    def _compute(self, msg, ip) -> int:
        if ip is None:
            raise BuildError("ICMPv6 checksum unset: pass ip= (the IPv6 header) or checksum=0")
        return l4_checksum(ip, IPProto.ICMPV6, msg)

    def verify_checksum(self, ip, message) -> bool:
        return verify_l4_checksum(ip, IPProto.ICMPV6, message)
