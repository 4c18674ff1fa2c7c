"""build_packet: a whole header stack built top-down, so every unset length, next-protocol
field and checksum (with the IP pseudo-header) is filled in from the layers above it."""

from __future__ import annotations

from dataclasses import replace

from ..errors import BuildError
from .arp import ARPHeader
from .ethernet import EthernetHeader
from .icmp import ICMPHeader
from .ipv4 import IPv4Header
from .ipv6 import IPv6Header
from .linklayer import NullHeader, SLL2Header, SLLHeader
from .mpls import MPLSLabel
from .pppoe import PPPoEHeader, PPPProtocol
from .tcp import TCPHeader
from .udp import UDPHeader
from .vlan import VLANTag

__all__ = ["build_packet"]

_L4 = (TCPHeader, UDPHeader, ICMPHeader)
_IP = (IPv4Header, IPv6Header)
_PPP_PROTOCOL = {IPv4Header: PPPProtocol.IPV4, IPv6Header: PPPProtocol.IPV6}


def _ethertype_of(upper) -> int | None:
    if upper is None:
        return None
    if isinstance(upper, VLANTag):
        return upper.tpid
    return getattr(upper, "ETHERTYPE", None)


def build_packet(*layers, payload: bytes = b"") -> bytes:
    """Builds `layers` (outermost first, e.g. EthernetHeader(), IPv4Header(...),
    TCPHeader(...)) around `payload`. The caller's header objects are not modified.

        build_packet(EthernetHeader(dst=.., src=..), IPv4Header(src="10.0.0.1",
                     dst="10.0.0.2"), TCPHeader(src_port=1234, dst_port=80), payload=b"hi")
    """
    data = bytes(payload)
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        upper = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(layer, _L4):
            ip = next((x for x in reversed(layers[:i]) if isinstance(x, _IP)), None)
            data = layer.build(data, ip=ip)
        elif isinstance(layer, IPv4Header):
            if layer.proto is None:
                proto = getattr(upper, "IP_PROTO", None)
                if proto is None:
                    raise BuildError("IPv4Header.proto is unset and no L4 layer follows")
                layer = replace(layer, proto=proto)
            data = layer.build(data)
        elif isinstance(layer, IPv6Header):
            # RFC 8200 4.7: next header 59 = nothing follows.
            proto = getattr(upper, "IP_PROTO", None)
            data = layer.build(data, upper_proto=59 if proto is None and not data else proto)
        elif isinstance(layer, (EthernetHeader, VLANTag)):
            if layer.type is None:
                et = _ethertype_of(upper)
                if et is None:
                    raise BuildError(f"{type(layer).__name__}.type is unset and cannot be "
                                     "inferred from the next layer")
                layer = replace(layer, type=et)
            data = layer.build(data)
        elif isinstance(layer, PPPoEHeader):
            if layer.protocol is None:
                proto = _PPP_PROTOCOL.get(type(upper))
                if proto is None:
                    raise BuildError("PPPoEHeader.protocol is unset and no IP layer follows")
                layer = replace(layer, protocol=proto)
            data = layer.build(data)
        elif isinstance(layer, (ARPHeader, MPLSLabel, NullHeader, SLLHeader, SLL2Header)):
            data = layer.build(data)
        else:
            raise BuildError(f"build_packet: cannot build a {type(layer).__name__}")
    return data
