"""PPPoE session stage (RFC 2516, EtherType 0x8864) and the PPP protocol field behind it.

    offset  size  field
    0       1     version (4 bits, 1) | type (4 bits, 1)
    1       1     code (0x00 in the session stage)
    2       2     session id
    4       2     length of the PPPoE payload (the PPP frame, protocol field included)
    6       2     PPP protocol (RFC 1661 section 2): 0x0021 IPv4 (RFC 1332), 0x0057 IPv6
                  (RFC 5072); LCP, IPCP, ... are kept raw

The decoder reads the IP packet after the 8 bytes; the IP header's own length bounds the
datagram, as on Ethernet. Discovery packets (EtherType 0x8863: PADI, PADO, ...) are not
decoded.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from ..errors import BuildError
from ._util import check_uint, enum_or_int, need
from .ethernet import EtherType

__all__ = ["HEADER_LEN", "PPPProtocol", "PPPoEHeader"]

HEADER_LEN = 8
_HDR = struct.Struct("!BBHHH")


class PPPProtocol(enum.IntEnum):
    IPV4 = 0x0021
    IPV6 = 0x0057
    IPCP = 0x8021
    IPV6CP = 0x8057
    LCP = 0xC021
    PAP = 0xC023
    CHAP = 0xC223


@dataclass(slots=True)
class PPPoEHeader:
    """A PPPoE session header plus the PPP protocol number of the frame it carries.
    `length` (bytes of PPPoE payload) is None to have build() compute it."""

    session_id: int = 0
    protocol: int | None = None  # None: filled in by build_packet from the next layer
    code: int = 0
    length: int | None = None
    version: int = 1
    type: int = 1

    ETHERTYPE = EtherType.PPPOE_SESSION
    header_len = HEADER_LEN

    @classmethod
    def parse(cls, data, offset: int = 0) -> PPPoEHeader:
        need(data, offset, HEADER_LEN, "PPPoE session header")
        vt, code, sid, length, proto = _HDR.unpack_from(data, offset)
        return cls(sid, enum_or_int(PPPProtocol, proto), code, length, vt >> 4, vt & 0x0F)

    def build(self, payload: bytes = b"") -> bytes:
        if self.protocol is None:
            raise BuildError("PPPoEHeader.protocol is unset (use build_packet to infer it)")
        length = 2 + len(payload) if self.length is None else self.length
        return _HDR.pack(check_uint(self.version, 4, "version") << 4 | check_uint(self.type, 4, "type"),
                         check_uint(self.code, 8, "code"), check_uint(self.session_id, 16, "session_id"),
                         check_uint(length, 16, "length"),
                         check_uint(int(self.protocol), 16, "protocol")) + payload

    def to_json(self) -> dict:
        return {"code": self.code, "session_id": self.session_id, "len": self.length,
                "protocol": int(self.protocol)}

    def __str__(self) -> str:
        # tcpdump's form: PPPoE  [ses 0x11]
        return f"PPPoE  [ses 0x{self.session_id:x}]"
