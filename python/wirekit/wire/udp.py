"""UDP (RFC 768).

    offset  size  field
    0       2     source port
    2       2     destination port
    4       2     length (bytes, header included)
    6       2     checksum (0 over IPv4: none computed; RFC 8200 8.1: mandatory over IPv6)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import BuildError
from ._util import check_uint, need
from .checksum import l4_checksum, verify_l4_checksum
from .ipproto import IPProto

__all__ = ["UDPHeader", "HEADER_LEN"]

HEADER_LEN = 8
_HDR = struct.Struct("!HHHH")


@dataclass(slots=True)
class UDPHeader:
    """A UDP header; `length` and `checksum` left None are computed by build()."""

    src_port: int = 0
    dst_port: int = 0
    length: int | None = None
    checksum: int | None = None

    IP_PROTO = IPProto.UDP
    header_len = HEADER_LEN

    @classmethod
    def parse(cls, data, offset: int = 0) -> UDPHeader:
        need(data, offset, HEADER_LEN, "UDP header")
        return cls(*_HDR.unpack_from(data, offset))

    @property
    def len(self) -> int | None:
        return self.length

    def build(self, payload: bytes = b"", ip=None) -> bytes:
        """Header plus `payload`. An unset checksum needs `ip` for the pseudo-header; a
        computed 0 is sent as 0xFFFF (RFC 768: "all ones" means a checksum of zero)."""
        length = self.length if self.length is not None else HEADER_LEN + len(payload)
        csum = 0 if self.checksum is None else check_uint(self.checksum, 16, "checksum")
        seg = _HDR.pack(check_uint(self.src_port, 16, "src_port"),
                        check_uint(self.dst_port, 16, "dst_port"),
                        check_uint(length, 16, "length"), csum) + payload
        if self.checksum is None:
            if ip is None:
                raise BuildError("UDP checksum unset: pass ip= (the IP header) or checksum=0")
            c = l4_checksum(ip, IPProto.UDP, seg) or 0xFFFF
            seg = seg[:6] + c.to_bytes(2, "big") + seg[8:]
        return seg

    def verify_checksum(self, ip, segment) -> bool:
        """True when the checksum of `segment` (header plus payload as received) is right,
        or is 0 over IPv4 (no checksum, RFC 768)."""
        if self.checksum == 0 and ip.version == 4:
            return True
        return verify_l4_checksum(ip, IPProto.UDP, segment)

    def __str__(self) -> str:
        return f"UDP {self.src_port} > {self.dst_port}: length {self.length}"


def _parse_at(data, offset: int, _new=UDPHeader) -> UDPHeader:
    """parse() without the length check, for the decoder."""
    return _new(*_HDR.unpack_from(data, offset))
