"""Link-layer headers other than Ethernet: BSD loopback (NULL, LOOP) and Linux cooked
capture (SLL, SLL2). Raw-IP link types have no header at all.

NULL (LINKTYPE 0): 4-byte address family in the *capturing host's* byte order, which the file
does not record; as libpcap/tcpdump do, a value whose low 16 bits are zero is taken as
byte-swapped. LOOP (108): the same 4 bytes in network byte order.

LINUX_SLL (113), 16 bytes:            LINUX_SLL2 (276), 20 bytes:
    0  2  packet type                     0  2  protocol type (EtherType)
    2  2  ARPHRD_ type                    2  2  reserved
    4  2  link-layer address length       4  4  interface index
    6  8  link-layer address (padded)     8  2  ARPHRD_ type
    14 2  protocol type (EtherType)       10 1  packet type
                                          11 1  link-layer address length
                                          12 8  link-layer address (padded)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ._util import check_uint, enum_or_int, need
from .ethernet import EtherType

__all__ = ["NullHeader", "SLLHeader", "SLL2Header", "AF_TO_ETHERTYPE", "SLL_PACKET_TYPES"]

#: Address families seen in NULL/LOOP headers: 2 is AF_INET everywhere; AF_INET6 is 10 on
#: Linux, 23 on Windows, 24 (NetBSD/OpenBSD), 28 (FreeBSD) and 30 (macOS).
AF_TO_ETHERTYPE = {2: EtherType.IPV4, 10: EtherType.IPV6, 23: EtherType.IPV6,
                   24: EtherType.IPV6, 28: EtherType.IPV6, 30: EtherType.IPV6}
SLL_PACKET_TYPES = {0: "In", 1: "B", 2: "M", 3: "P", 4: "Out"}
_U32_LE = struct.Struct("<I")
_U32_BE = struct.Struct("!I")
_SLL = struct.Struct("!HHH8sH")
_SLL2 = struct.Struct("!HHIHBB8s")


@dataclass(slots=True)
class NullHeader:
    """BSD loopback header: `family` is the address family (2 = IPv4, see AF_TO_ETHERTYPE);
    `network_order` is True for LOOP (108) and for NULL files written big-endian."""

    family: int = 2
    network_order: bool = False

    header_len = 4

    @classmethod
    def parse(cls, data, offset: int = 0, network_order: bool | None = None) -> NullHeader:
        need(data, offset, 4, "loopback header")
        if network_order is None:  # NULL: host order, guessed as libpcap does
            fam = _U32_LE.unpack_from(data, offset)[0]
            if fam & 0xFFFF == 0:
                return cls(_U32_BE.unpack_from(data, offset)[0], True)
            return cls(fam, False)
        s = _U32_BE if network_order else _U32_LE
        return cls(s.unpack_from(data, offset)[0], network_order)

    @property
    def type(self) -> int | None:
        """The EtherType equivalent of `family`, None when unknown."""
        return AF_TO_ETHERTYPE.get(self.family)

    def build(self, payload: bytes = b"") -> bytes:
        s = _U32_BE if self.network_order else _U32_LE
        return s.pack(check_uint(self.family, 32, "family")) + payload

    def __str__(self) -> str:
        return f"loopback af {self.family}"


@dataclass(slots=True)
class SLLHeader:
    """Linux cooked capture v1. `addr` is the link-layer address (addr_len bytes shown as
    "aa:bb:.."), `protocol` the EtherType."""

    packet_type: int = 0
    arphrd: int = 1
    addr: str = ""
    protocol: int = EtherType.IPV4
    addr_len: int | None = None
    addr_pad: bytes = b""   # the unused bytes of the 8-byte address field (kept for build)

    header_len = 16

    @property
    def type(self) -> int:
        return self.protocol

    @classmethod
    def parse(cls, data, offset: int = 0) -> SLLHeader:
        need(data, offset, 16, "Linux SLL header")
        ptype, hatype, alen, addr, proto = _SLL.unpack_from(data, offset)
        n = min(alen, 8)
        return cls(ptype, hatype, addr[:n].hex(":"), enum_or_int(EtherType, proto), alen,
                   addr[n:])

    def _addr_field(self) -> tuple[int, bytes]:
        raw = bytes.fromhex(self.addr.replace(":", ""))
        alen = self.addr_len if self.addr_len is not None else len(raw)
        field = (raw + self.addr_pad + bytes(8))[:8]
        return alen, field

    def build(self, payload: bytes = b"") -> bytes:
        alen, field = self._addr_field()
        return _SLL.pack(check_uint(self.packet_type, 16, "packet_type"),
                         check_uint(self.arphrd, 16, "arphrd"), check_uint(alen, 16, "addr_len"),
                         field, check_uint(self.protocol, 16, "protocol")) + payload

    def __str__(self) -> str:
        d = SLL_PACKET_TYPES.get(self.packet_type, str(self.packet_type))
        return f"{d} {self.addr} ethertype 0x{self.protocol:04x}"


@dataclass(slots=True)
class SLL2Header:
    """Linux cooked capture v2 (adds the interface index)."""

    protocol: int = EtherType.IPV4
    ifindex: int = 0
    arphrd: int = 1
    packet_type: int = 0
    addr: str = ""
    addr_len: int | None = None
    reserved: int = 0
    addr_pad: bytes = b""

    header_len = 20

    @property
    def type(self) -> int:
        return self.protocol

    @classmethod
    def parse(cls, data, offset: int = 0) -> SLL2Header:
        need(data, offset, 20, "Linux SLL2 header")
        proto, res, ifindex, hatype, ptype, alen, addr = _SLL2.unpack_from(data, offset)
        n = min(alen, 8)
        return cls(enum_or_int(EtherType, proto), ifindex, hatype, ptype, addr[:n].hex(":"),
                   alen, res, addr[n:])

    def build(self, payload: bytes = b"") -> bytes:
        alen, field = SLLHeader._addr_field(self)  # same address layout
        return _SLL2.pack(check_uint(self.protocol, 16, "protocol"),
                          check_uint(self.reserved, 16, "reserved"),
                          check_uint(self.ifindex, 32, "ifindex"),
                          check_uint(self.arphrd, 16, "arphrd"),
                          check_uint(self.packet_type, 8, "packet_type"),
                          check_uint(alen, 8, "addr_len"), field) + payload

    def __str__(self) -> str:
        d = SLL_PACKET_TYPES.get(self.packet_type, str(self.packet_type))
        return f"ifindex {self.ifindex} {d} {self.addr} ethertype 0x{self.protocol:04x}"
