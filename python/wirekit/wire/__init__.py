"""wirekit.wire: one module per protocol (header objects with parse/build), checksums, and
the lazy per-packet decode with its dispatch tables."""

from __future__ import annotations

from .arp import ARPHeader, ARPOp
from .build import build_packet
from .checksum import internet_checksum, ones_sum
from .decode import (
    ETHERTYPE_DISPATCH,
    IP_PROTO_DISPATCH,
    LINKTYPE_DISPATCH,
    Decoded,
    decode_bytes,
    decode_packet,
    register_ethertype,
    register_ip_proto,
    register_linktype,
)
from .ethernet import EthernetHeader, EtherType
from .icmp import ICMPHeader, ICMPType
from .icmpv6 import ICMPv6Header, ICMPv6Type
from .ipproto import IPProto
from .ipv4 import IPv4Header, IPv4Option
from .ipv6 import IPv6AH, IPv6ExtHeader, IPv6Fragment, IPv6Header, IPv6Options, IPv6Routing
from .linklayer import NullHeader, SLL2Header, SLLHeader
from .mpls import MPLSLabel
from .pppoe import PPPoEHeader, PPPProtocol
from .tcp import TCPFlags, TCPHeader, TCPOption
from .udp import UDPHeader
from .vlan import VLANTag

__all__ = [
    "ARPHeader", "ARPOp", "Decoded", "ETHERTYPE_DISPATCH", "EtherType", "EthernetHeader",
    "ICMPHeader", "ICMPType", "ICMPv6Header", "ICMPv6Type", "IPProto", "IPv4Header",
    "IPv4Option", "IPv6AH", "IPv6ExtHeader", "IPv6Fragment", "IPv6Header", "IPv6Options",
    "IPv6Routing", "IP_PROTO_DISPATCH", "LINKTYPE_DISPATCH", "MPLSLabel", "NullHeader",
    "PPPProtocol", "PPPoEHeader", "SLL2Header",
    "SLLHeader", "TCPFlags", "TCPHeader", "TCPOption", "UDPHeader", "VLANTag",
    "build_packet", "decode_bytes", "decode_packet", "internet_checksum", "ones_sum",
    "register_ethertype", "register_ip_proto", "register_linktype",
]
