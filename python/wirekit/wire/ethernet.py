"""Ethernet II (DIX) framing: destination, source, EtherType.

    offset  size  field
    0       6     destination MAC
    6       6     source MAC
    12      2     EtherType (values < 0x0600 are an IEEE 802.3 length: kept as the number)

The frame check sequence is not in captures (libpcap strips it) and is not handled.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from ._util import check_uint, enum_or_int, mac_to_bytes, need

__all__ = ["EtherType", "EthernetHeader", "HEADER_LEN"]

HEADER_LEN = 14
_HDR = struct.Struct("!6s6sH")


class EtherType(enum.IntEnum):
    IPV4 = 0x0800
    ARP = 0x0806
    WOL = 0x0842
    RARP = 0x8035
    VLAN = 0x8100        # IEEE 802.1Q customer tag
    IPX = 0x8137
    IPV6 = 0x86DD
    PPP = 0x880B
    MPLS = 0x8847
    MPLS_MULTICAST = 0x8848
    PPPOE_DISCOVERY = 0x8863
    PPPOE_SESSION = 0x8864
    EAPOL = 0x888E
    QINQ = 0x88A8        # IEEE 802.1ad service tag
    LLDP = 0x88CC
    MACSEC = 0x88E5
    QINQ_OLD = 0x9100    # pre-standard QinQ (Cisco and others)

    @classmethod
    def of(cls, value: int) -> int:
        """The member for `value`, or the plain int when unknown."""
        return enum_or_int(cls, value)


@dataclass(slots=True)
class EthernetHeader:
    """An Ethernet II header; MACs are "aa:bb:cc:dd:ee:ff" strings, `type` the EtherType."""

    dst: str = "ff:ff:ff:ff:ff:ff"
    src: str = "00:00:00:00:00:00"
    type: int | None = None  # None: filled in by build_packet from the next layer

    ETHERTYPE = None
    header_len = HEADER_LEN

    @classmethod
    def parse(cls, data, offset: int = 0) -> EthernetHeader:
        need(data, offset, HEADER_LEN, "Ethernet header")
        dst, src, etype = _HDR.unpack_from(data, offset)
        return cls(dst.hex(":"), src.hex(":"), enum_or_int(EtherType, etype))

    def build(self, payload: bytes = b"") -> bytes:
        if self.type is None:
            from ..errors import BuildError
            raise BuildError("EthernetHeader.type is unset (use build_packet to infer it)")
        return _HDR.pack(mac_to_bytes(self.dst, "dst"), mac_to_bytes(self.src, "src"),
                         check_uint(self.type, 16, "type")) + payload

    def __str__(self) -> str:
        return f"Ethernet {self.src} > {self.dst}, type 0x{self.type or 0:04x}"


_ETHERTYPES = EtherType._value2member_map_


def _parse_at(data, offset: int, _new=EthernetHeader) -> EthernetHeader:
    """parse() without the length check, for the decoder."""
    dst, src, etype = _HDR.unpack_from(data, offset)
    return _new(dst.hex(":"), src.hex(":"), _ETHERTYPES.get(etype, etype))
